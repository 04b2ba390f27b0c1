// Command go-trickle drives go-livepeer's trickle package (server, publisher,
// subscriber) from the Tributary interop tests through a line protocol on
// stdout: every event is one JSON object per line, except the server's
// "LISTENING <url>" line.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/livepeer/go-livepeer/trickle"
)

var out = struct {
	sync.Mutex
	enc *json.Encoder
}{enc: json.NewEncoder(os.Stdout)}

func emit(v map[string]any) {
	out.Lock()
	defer out.Unlock()
	_ = out.enc.Encode(v)
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "go-trickle: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if len(os.Args) < 2 {
		fatal("usage: go-trickle server|publish|subscribe [flags]")
	}
	switch os.Args[1] {
	case "server":
		runServer(os.Args[2:])
	case "publish":
		runPublish(os.Args[2:])
	case "subscribe":
		runSubscribe(os.Args[2:])
	default:
		fatal("unknown mode %q (want server, publish or subscribe)", os.Args[1])
	}
}

// runServer serves go-livepeer's trickle server until SIGTERM/SIGINT or stdin
// EOF. Lines on stdin: "create <name> [mime]" pre-creates a channel (as the
// orchestrator does with a local publisher), "close <name>" closes one.
func runServer(args []string) {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	base := fs.String("base", "/", "base path (must start and end with /)")
	autocreate := fs.Bool("autocreate", true, "create channels on first publish")
	changefeed := fs.Bool("changefeed", false, "enable the _changes channel")
	idle := fs.Duration("idle-timeout", 0, "idle timeout (0 = go-livepeer default)")
	sweep := fs.Duration("sweep-interval", 0, "sweep interval (0 = go-livepeer default)")
	hooks := fs.Bool("deny-hooks", false, "create/delete hooks refuse channels named deny<status>-...")
	_ = fs.Parse(args)

	mux := http.NewServeMux()
	config := trickle.TrickleServerConfig{
		BasePath:      *base,
		Mux:           mux,
		Autocreate:    *autocreate,
		Changefeed:    *changefeed,
		IdleTimeout:   *idle,
		SweepInterval: *sweep,
	}
	if *hooks {
		config.BeforeCreate = denyHook
		config.BeforeDelete = denyHook
	}
	srv := trickle.ConfigureServer(config)
	stop := srv.Start()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fatal("listen %s: %v", *addr, err)
	}
	httpSrv := &http.Server{Handler: mux}
	go func() { _ = httpSrv.Serve(ln) }()
	fmt.Printf("LISTENING http://%s%s\n", ln.Addr().String(), *base)

	done := make(chan struct{})
	var once sync.Once
	finish := func() { once.Do(func() { close(done) }) }
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sigs; finish() }()
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 0 {
				continue
			}
			switch {
			case f[0] == "create" && len(f) >= 2:
				mime := "application/octet-stream"
				if len(f) >= 3 {
					mime = f[2]
				}
				trickle.NewLocalPublisher(srv, f[1], mime).CreateChannel()
				emit(map[string]any{"event": "created", "channel": f[1]})
			case f[0] == "close" && len(f) >= 2:
				err := trickle.NewLocalPublisher(srv, f[1], "").Close()
				emit(map[string]any{"event": "closed", "channel": f[1], "error": errString(err)})
			default:
				emit(map[string]any{"event": "error", "error": "unknown command: " + sc.Text()})
			}
		}
		finish()
	}()
	<-done
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = httpSrv.Shutdown(ctx)
	_ = httpSrv.Close()
	stop()
}

// denyHook refuses channels named deny<status>-...: a 4xx status as a
// trickle.RequestError, anything else as a generic error (answered 500).
func denyHook(_ *http.Request, name string) error {
	var status int
	if _, err := fmt.Sscanf(name, "deny%3d-", &status); err != nil || !strings.HasPrefix(name, fmt.Sprintf("deny%03d-", status)) {
		return nil
	}
	if status >= 400 && status < 500 {
		return &trickle.RequestError{StatusCode: status, Message: fmt.Sprintf("channel refused by hook (%d)", status)}
	}
	return errors.New("hook failed")
}

func errString(err error) any {
	if err == nil {
		return nil
	}
	return err.Error()
}

// payload returns the deterministic content of segment seq: byte i is
// (seq*31 + i) mod 256 for pattern "counter", zero for "zero".
func payload(pattern string, seq, size int) []byte {
	b := make([]byte, size)
	if pattern == "zero" {
		return b
	}
	for i := range b {
		b[i] = byte(seq*31 + i)
	}
	return b
}

func digest(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// runPublish publishes count segments with go-livepeer's TricklePublisher
// (which starts at seq 0 and preconnects the next POST), one JSON line each,
// then closes the channel with DELETE unless -close=false.
func runPublish(args []string) {
	fs := flag.NewFlagSet("publish", flag.ExitOnError)
	url := fs.String("url", "", "channel URL")
	count := fs.Int("count", 3, "segments to publish")
	size := fs.Int("size", 1024, "bytes per segment")
	pattern := fs.String("pattern", "counter", "payload pattern: counter|zero")
	chunk := fs.Int("chunk", 0, "write the segment in chunks of this size with -chunk-delay between them (0 = one write)")
	chunkDelay := fs.Duration("chunk-delay", 0, "delay between chunks")
	closeAtEnd := fs.Bool("close", true, "DELETE the channel after publishing")
	closeOnStdin := fs.Bool("close-on-stdin", false, `before closing, print {"event":"waiting"} and wait for a line on stdin`)
	_ = fs.Parse(args)
	if *url == "" {
		fatal("publish: -url is required")
	}
	pub, err := trickle.NewTricklePublisher(*url)
	if err != nil {
		emit(map[string]any{"event": "error", "error": err.Error()})
		os.Exit(1)
	}
	exit := 0
	for i := 0; i < *count; i++ {
		data := payload(*pattern, i, *size)
		var r io.Reader = strings.NewReader(string(data))
		if *chunk > 0 {
			r = &slowReader{data: data, chunk: *chunk, delay: *chunkDelay}
		}
		err := pub.Write(r)
		ev := map[string]any{"event": "segment", "seq": i, "bytes": len(data), "sha256": digest(data)}
		if err != nil {
			ev["error"] = err.Error()
			ev["kind"] = errKind(err)
			emit(ev)
			exit = 1
			break
		}
		emit(ev)
	}
	if *closeAtEnd {
		if *closeOnStdin {
			emit(map[string]any{"event": "waiting"})
			_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		}
		err := pub.Close()
		emit(map[string]any{"event": "closed", "error": errString(err)})
	}
	os.Exit(exit)
}

type slowReader struct {
	data  []byte
	pos   int
	chunk int
	delay time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.pos >= len(r.data) {
		return 0, io.EOF
	}
	if r.pos > 0 && r.delay > 0 {
		time.Sleep(r.delay)
	}
	n := min(r.chunk, len(p), len(r.data)-r.pos)
	copy(p, r.data[r.pos:r.pos+n])
	r.pos += n
	return n, nil
}

func errKind(err error) string {
	var hErr *trickle.HTTPError
	var sne *trickle.SequenceNonexistent
	switch {
	case errors.Is(err, trickle.StreamNotFoundErr):
		return "not_found"
	case errors.Is(err, trickle.EOS):
		return "eos"
	case errors.As(err, &sne):
		return "nonexistent"
	case errors.As(err, &hErr):
		return "http"
	default:
		return "other"
	}
}

// runSubscribe reads segments with go-livepeer's TrickleSubscriber from
// -start, one JSON line per segment, until count segments, EOS, 404 or a
// timeout. With -follow (default) a 470 moves to Latest like the gateway.
func runSubscribe(args []string) {
	fs := flag.NewFlagSet("subscribe", flag.ExitOnError)
	url := fs.String("url", "", "channel URL")
	start := fs.Int("start", -1, "start seq: -2 current, -1 next, n")
	count := fs.Int("count", 0, "stop after this many segments (0 = until EOS or error)")
	follow := fs.Bool("follow", true, "on 470 jump to Lp-Trickle-Latest (gateway caller rule)")
	maxNonexistent := fs.Int("max-470", 5, "give up after this many consecutive 470s")
	timeout := fs.Duration("timeout", 30*time.Second, "overall timeout")
	_ = fs.Parse(args)
	if *url == "" {
		fatal("subscribe: -url is required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	s := trickle.SequenceStart(*start)
	sub, err := trickle.NewTrickleSubscriber(trickle.TrickleSubscriberConfig{URL: *url, Ctx: ctx, Start: &s})
	if err != nil {
		fatal("subscribe: %v", err)
	}
	got, nonexistent := 0, 0
	for *count == 0 || got < *count {
		resp, err := sub.Read()
		if err != nil {
			kind := errKind(err)
			ev := map[string]any{"event": kind, "error": err.Error()}
			var sne *trickle.SequenceNonexistent
			if errors.As(err, &sne) {
				ev["seq"], ev["latest"] = sne.Seq, sne.Latest
				emit(ev)
				nonexistent++
				if *follow && nonexistent <= *maxNonexistent {
					sub.SetSeq(sne.Latest)
					continue
				}
				os.Exit(1)
			}
			emit(ev)
			if kind == "eos" || kind == "not_found" {
				os.Exit(0)
			}
			os.Exit(1)
		}
		nonexistent = 0
		body, rerr := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		ev := map[string]any{
			"event":       "segment",
			"seq":         trickle.GetSeq(resp),
			"latest":      trickle.GetLatest(resp),
			"bytes":       len(body),
			"sha256":      digest(body),
			"contentType": resp.Header.Get("Content-Type"),
		}
		if rerr != nil {
			ev["error"] = rerr.Error()
		}
		emit(ev)
		got++
	}
	emit(map[string]any{"event": "done", "segments": got})
}
