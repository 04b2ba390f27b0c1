// Tributary ↔ go-livepeer payment interop check, compiled inside go-livepeer's pm package (it uses the
// package's unexported stubs). run.ts copies it into <go-livepeer>/pm/, runs it, and removes it.
// It decodes Livepeer-Payment headers made by Tributary's Sender for params made by Tributary's
// Recipient, and checks with go-livepeer's own code: ticket hashes, crypto.VerifySig, and
// Recipient.ReceiveTicket (which re-derives recipientRand by HMAC) with the same secret, including
// the win outcome. It then writes go-livepeer-generated ticket params for run.ts to check with
// Tributary's Recipient.
package pm

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"testing"

	ethcommon "github.com/ethereum/go-ethereum/common"
	lpcrypto "github.com/livepeer/go-livepeer/crypto"
	"github.com/livepeer/go-livepeer/net"
	"google.golang.org/protobuf/proto"
)

type fixture struct {
	MaxFloat string `json:"maxFloat"`
	GasPrice string `json:"gasPrice"`
	Header   string `json:"header"`
	Tickets  []struct {
		Nonce uint32 `json:"nonce"`
		Hash  string `json:"hash"`
		Won   bool   `json:"won"`
	} `json:"tickets"`
	FaceValue string `json:"faceValue"`
	WinProb   string `json:"winProb"`
}

func bi(s string) *big.Int {
	n, _ := new(big.Int).SetString(s, 10)
	return n
}

func TestTributaryInterop(t *testing.T) {
	raw, err := os.ReadFile(os.Getenv("TRIBUTARY_FIXTURE"))
	if err != nil {
		t.Fatal(err)
	}
	var fx []fixture
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	var secret [32]byte
	for i := range secret {
		secret[i] = 9
	}
	recipientAddr := ethcommon.HexToAddress("0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F")
	out := []map[string]string{}
	for ci, f := range fx {
		buf, err := base64.StdEncoding.DecodeString(f.Header)
		if err != nil {
			t.Fatal(err)
		}
		var payment net.Payment
		if err := proto.Unmarshal(buf, &payment); err != nil {
			t.Fatal(err)
		}
		tm := &stubTimeManager{round: big.NewInt(10), lastSeenBlock: big.NewInt(1000)}
		copy(tm.blkHash[:], ethcommon.FromHex("0x41b1a0649752af1b28b3dc29a1556eee781e4a4c3a1f7f53f90fa834de098c4d"))
		sm := newStubSenderMonitor()
		sm.maxFloat = bi(f.MaxFloat)
		gpm := &stubGasPriceMonitor{gasPrice: bi(f.GasPrice)}
		val := NewValidator(&DefaultSigVerifier{}, tm)
		r := NewRecipientWithSecret(recipientAddr, newStubBroker(), val, gpm, sm, tm, secret, TicketParamsConfig{EV: big.NewInt(1000), RedeemGas: 10000, TxCostMultiplier: 100})

		price := big.NewRat(payment.ExpectedPrice.PricePerUnit, payment.ExpectedPrice.PixelsPerUnit)
		sender := ethcommon.BytesToAddress(payment.Sender)
		seed := new(big.Int).SetBytes(payment.TicketParams.Seed)
		tp := &TicketParams{
			Recipient:         ethcommon.BytesToAddress(payment.TicketParams.Recipient),
			FaceValue:         new(big.Int).SetBytes(payment.TicketParams.FaceValue),
			WinProb:           new(big.Int).SetBytes(payment.TicketParams.WinProb),
			RecipientRandHash: ethcommon.BytesToHash(payment.TicketParams.RecipientRandHash),
			Seed:              seed,
			ExpirationBlock:   new(big.Int).SetBytes(payment.TicketParams.ExpirationBlock),
			PricePerPixel:     price,
		}
		if tp.FaceValue.String() != f.FaceValue || tp.WinProb.String() != f.WinProb {
			t.Fatalf("case %d: faceValue/winProb differ", ci)
		}
		ep := &TicketExpirationParams{CreationRound: payment.ExpirationParams.CreationRound, CreationRoundBlockHash: ethcommon.BytesToHash(payment.ExpirationParams.CreationRoundBlockHash)}
		for i, tsp := range payment.TicketSenderParams {
			ticket := NewTicket(tp, ep, sender, tsp.SenderNonce)
			if ticket.Hash().Hex() != f.Tickets[i].Hash {
				t.Fatalf("case %d ticket %d: hash %s != %s", ci, i, ticket.Hash().Hex(), f.Tickets[i].Hash)
			}
			if !lpcrypto.VerifySig(sender, ticket.Hash().Bytes(), tsp.Sig) {
				t.Fatalf("case %d ticket %d: VerifySig false", ci, i)
			}
			_, won, err := r.ReceiveTicket(ticket, tsp.Sig, seed)
			if err != nil {
				t.Fatalf("case %d ticket %d: ReceiveTicket: %v", ci, i, err)
			}
			if won != f.Tickets[i].Won {
				t.Fatalf("case %d ticket %d: won %v != %v", ci, i, won, f.Tickets[i].Won)
			}
		}
		// Go-generated params for TypeScript to check
		gp, err := r.TicketParams(sender, price)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, map[string]string{
			"seed": gp.Seed.String(), "faceValue": gp.FaceValue.String(), "winProb": gp.WinProb.String(),
			"expirationBlock": gp.ExpirationBlock.String(), "recipientRandHash": gp.RecipientRandHash.Hex(),
			"creationRound": fmt.Sprint(gp.ExpirationParams.CreationRound), "sender": sender.Hex(),
		})
	}
	b, _ := json.Marshal(out)
	if err := os.WriteFile(os.Getenv("TRIBUTARY_GO_PARAMS"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
