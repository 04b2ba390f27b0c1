module github.com/tributary/interop/go-trickle

go 1.25.0

require github.com/livepeer/go-livepeer v0.9.1
