// Command go-ecrecover measures go-ethereum's secp256k1 public-key recovery rate on this machine, the
// baseline Tributary's ticket validation is compared with (bench/payments). It signs a set of
// EIP-191 ticket-hash messages with a fresh key, then recovers the signer repeatedly for a fixed time
// on -goroutines goroutines (default 1: one core; run with GOMAXPROCS=N and -goroutines N for the
// whole machine) and prints one JSON line: {"impl", "goEthereum", "cgo", "goroutines", "ops",
// "seconds", "opsPerSecond"}. "cgo" says whether go-ethereum's libsecp256k1 (cgo) backend is
// compiled in, as go-ethereum ships it, rather than its pure-Go fallback.
package main

import (
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/crypto"
)

func main() {
	duration := flag.Duration("duration", 2*time.Second, "how long to measure")
	count := flag.Int("messages", 256, "distinct signed messages to cycle through")
	goroutines := flag.Int("goroutines", 1, "goroutines recovering at once")
	flag.Parse()

	key, err := crypto.GenerateKey()
	if err != nil {
		fmt.Fprintln(os.Stderr, "generate key:", err)
		os.Exit(1)
	}
	want := crypto.PubkeyToAddress(key.PublicKey)
	digests := make([][]byte, *count)
	sigs := make([][]byte, *count)
	for i := range digests {
		ticketHash := make([]byte, 32)
		if _, err := rand.Read(ticketHash); err != nil {
			fmt.Fprintln(os.Stderr, "random:", err)
			os.Exit(1)
		}
		digests[i] = accounts.TextHash(ticketHash)
		sig, err := crypto.Sign(digests[i], key)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sign:", err)
			os.Exit(1)
		}
		sigs[i] = sig
	}

	var total atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(*duration)
	for g := 0; g < *goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			ops := 0
			for time.Now().Before(deadline) {
				for i := 0; i < 64; i++ {
					j := (ops + g*7) % *count
					pub, err := crypto.Ecrecover(digests[j], sigs[j])
					if err != nil {
						fmt.Fprintln(os.Stderr, "ecrecover:", err)
						os.Exit(1)
					}
					pk, err := crypto.UnmarshalPubkey(pub)
					if err != nil || crypto.PubkeyToAddress(*pk) != want {
						fmt.Fprintln(os.Stderr, "recovered the wrong signer")
						os.Exit(1)
					}
					ops++
				}
			}
			total.Add(int64(ops))
		}(g)
	}
	wg.Wait()
	seconds := time.Since(start).Seconds()
	version, cgo := buildFacts()
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{
		"impl":         "go-ethereum crypto.Ecrecover",
		"goEthereum":   version,
		"cgo":          cgo,
		"goroutines":   *goroutines,
		"ops":          total.Load(),
		"seconds":      seconds,
		"opsPerSecond": float64(total.Load()) / seconds,
	})
}

// buildFacts returns the go-ethereum module version this binary was built with and whether cgo was
// enabled (go-ethereum's crypto package uses libsecp256k1 only with cgo).
func buildFacts() (string, bool) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown", false
	}
	version := "unknown"
	for _, d := range info.Deps {
		if d.Path == "github.com/ethereum/go-ethereum" {
			version = d.Version
		}
	}
	cgo := false
	for _, s := range info.Settings {
		if s.Key == "CGO_ENABLED" && s.Value == "1" {
			cgo = true
		}
	}
	return version, cgo
}
