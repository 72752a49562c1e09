package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/xdg-go/scram"
)

// fuzzServerNonce is the SCRAM server nonce in FuzzSASLServer, so that a
// client-final-message can carry the right one and reach the proof.
const fuzzServerNonce = "srvNonce"

// maxSASLRounds is the rounds the engine allows an exchange (handshake.go:
// more than 8 challenges fail it).
const maxSASLRounds = 9

// FuzzSASLServer feeds arbitrary sasl-init and sasl-response bytes to the
// server side of every mechanism, from arbitrary addresses, as the engine
// would: it must never panic, must end with an outcome or an error within
// the rounds the engine allows, must authenticate only the one user whose
// password the input may hold (PLAIN) and nobody by SCRAM (which would
// need a proof the fuzzer cannot forge), and must keep the failure table
// within its bound.
func FuzzSASLServer(f *testing.F) {
	creds, err := NewCredentials(map[string]string{"alice": "s3cret"})
	if err != nil {
		f.Fatal(err)
	}
	cfg, err := newConfig(&Options{Credentials: creds, AllowAnonymous: true}, false)
	if err != nil {
		f.Fatal(err)
	}
	cfg.guard.maxAddrs = 16 // reached quickly
	cfg.guard.wait = func(context.Context, time.Duration) {}
	srv := saslServer{cfg}
	mechs := []string{mechAnonymous, mechPlain, mechExternal, mechSCRAMSHA1, mechSCRAMSHA256, mechSCRAMSHA512}
	certState := &tls.ConnectionState{
		PeerCertificates: []*x509.Certificate{{Subject: pkix.Name{CommonName: "client"}}},
		VerifiedChains:   [][]*x509.Certificate{{{Subject: pkix.Name{CommonName: "client"}}}},
	}

	// Seeds: a valid exchange of every mechanism, up to the proof for
	// SCRAM (a real one for alice, which must then succeed: the seed is
	// checked below), and a few broken ones.
	f.Add(uint8(0), uint16(1), []byte("trace"), []byte(nil), []byte(nil))
	f.Add(uint8(1), uint16(2), []byte("\x00alice\x00s3cret"), []byte(nil), []byte(nil))
	f.Add(uint8(1), uint16(3), []byte("alice\x00alice\x00wrong"), []byte(nil), []byte(nil))
	f.Add(uint8(1), uint16(4), []byte("\x00\x00\x00"), []byte(nil), []byte(nil))
	f.Add(uint8(2), uint16(5), []byte("client"), []byte(nil), []byte(nil))
	f.Add(uint8(2+64), uint16(5), []byte("other"), []byte(nil), []byte(nil))
	for i, h := range []scram.HashGeneratorFcn{scram.SHA1, scram.SHA256, scram.SHA512} {
		m := uint8(3 + i)
		for _, user := range []string{"alice", "mallory", "a=2Cb", "=3D"} {
			first, final := scramSeed(f, h, user, "s3cret", creds, mechs[m])
			f.Add(m, uint16(10+i), []byte(first), []byte(final), []byte(nil))
		}
		f.Add(m, uint16(20+i), []byte("n,,n=alice,r=abc"), []byte("c=biws,r=abc"+fuzzServerNonce+",p=AAAA"), []byte("extra"))
		f.Add(m, uint16(20+i), []byte("p=tls-unique,,n=alice,r=abc"), []byte(nil), []byte(nil))
		f.Add(m, uint16(20+i), []byte("n,a=bob,n=alice,r=abc,m=ext"), []byte(nil), []byte(nil))
	}

	f.Fuzz(func(t *testing.T, m uint8, addr uint16, init, resp1, resp2 []byte) {
		mech := mechs[int(m&63)%len(mechs)]
		var state *tls.ConnectionState
		if m&64 != 0 {
			state = certState
		}
		remote := net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, byte(addr >> 8), byte(addr)}), 5672))
		conv, err := srv.start(context.Background(), remote, mech, state, func() string { return fuzzServerNonce })
		if err != nil {
			t.Fatalf("%s: start: %v", mech, err)
		}
		resps := [][]byte{init, resp1, resp2}
		genuine := isSCRAM(mech) && scramGenuine(mech, string(init), string(resp1))
		succeeded := false
		for round := 0; ; round++ {
			if round == maxSASLRounds {
				t.Fatalf("%s: no outcome after %d rounds", mech, round)
			}
			var resp []byte
			if round < len(resps) {
				resp = resps[round]
			}
			challenge, done, identity, _, err := conv.Step(resp)
			if err != nil {
				break
			}
			if done {
				switch {
				case mech == mechAnonymous:
				case mech == mechPlain && identity == "alice":
				case mech == mechExternal && identity == "client" && state != nil:
				case genuine && identity == "alice" && round == 1:
				default:
					t.Fatalf("%s: authenticated %q from %q, %q, %q", mech, identity, init, resp1, resp2)
				}
				succeeded = true
				break
			}
			if challenge == nil && isSCRAM(mech) {
				t.Fatalf("%s: neither challenge, outcome nor error", mech)
			}
		}
		if genuine && !succeeded {
			t.Fatalf("%s: alice's genuine exchange failed", mech)
		}
		if n := cfg.guard.tracked(); n > cfg.guard.maxAddrs {
			t.Fatalf("failure table holds %d addresses, bound %d", n, cfg.guard.maxAddrs)
		}
	})
}

func isSCRAM(mech string) bool {
	_, ok := scramHashes[mech]
	return ok
}

// scramGenuineFinals maps a seed's mechanism and client-first-message to
// its client-final-message with alice's genuine proof: the only SCRAM
// exchange that must succeed, and must.
var scramGenuineFinals = map[string]string{}

func scramGenuine(mech, first, final string) bool {
	want, ok := scramGenuineFinals[mech+" "+first]
	return ok && want == final
}

// scramSeed computes a client-first and, against the fixed server nonce
// and the store's salt (the stand-in's for an unknown user), the
// client-final-message of user/password.
func scramSeed(f *testing.F, h scram.HashGeneratorFcn, user, password string, creds *Credentials, mech string) (first, final string) {
	f.Helper()
	cl, err := h.NewClient(user, password, "")
	if err != nil {
		f.Fatal(err)
	}
	conv := cl.WithNonceGenerator(func() string { return "cliNonce" }).NewConversation()
	first, err = conv.Step("")
	if err != nil {
		f.Fatal(err)
	}
	sc, _ := creds.lookup(mech, user)
	serverFirst := "r=cliNonce" + fuzzServerNonce + ",s=" + base64.StdEncoding.EncodeToString([]byte(sc.Salt)) + ",i=" + strconv.Itoa(sc.Iters)
	final, err = conv.Step(serverFirst)
	if err != nil {
		f.Fatal(err)
	}
	if _, known := creds.lookup(mech, user); known && password == "s3cret" {
		scramGenuineFinals[mech+" "+first] = final
	}
	return first, final
}
