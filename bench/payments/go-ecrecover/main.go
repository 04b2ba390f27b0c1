// Command go-ecrecover measures go-ethereum's secp256k1 public-key recovery rate on this machine, the
// baseline Tributary's ticket validation is compared with (bench/payments). It signs a set of
// EIP-191 ticket-hash messages with a fresh key, then recovers the signer repeatedly for a fixed time
// on one goroutine and prints one JSON line: {"impl", "ops", "seconds", "opsPerSecond"}.
package main

import (
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/crypto"
)

func main() {
	duration := flag.Duration("duration", 2*time.Second, "how long to measure")
	count := flag.Int("messages", 256, "distinct signed messages to cycle through")
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

	ops := 0
	start := time.Now()
	deadline := start.Add(*duration)
	for time.Now().Before(deadline) {
		for i := 0; i < 64; i++ {
			j := ops % *count
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
	seconds := time.Since(start).Seconds()
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{
		"impl":         "go-ethereum crypto.Ecrecover",
		"ops":          ops,
		"seconds":      seconds,
		"opsPerSecond": float64(ops) / seconds,
	})
}
