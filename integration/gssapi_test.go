//go:build integration

package integration

// SASL GSSAPI (Kerberos V5) against a real MIT KDC: peers/kdc/setup.sh
// creates the throw-away realm AMQ.TEST on 127.0.0.1, alice gets a ticket
// with kinit, and amq's SASL layer authenticates her to a test server that
// checks the ticket with the service keytab (gokrb5's service package) and
// plays the server side of RFC 4752.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/asn1"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/service"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/amqgo/amq/internal/codec"
	"github.com/amqgo/amq/internal/sasl"
)

// startKDC runs peers/kdc/setup.sh (idempotent) and returns the
// environment it reports (KRB5_CONFIG, KRB5CCNAME, AMQ_KDC_*).
func startKDC(t *testing.T) map[string]string {
	t.Helper()
	for _, tool := range []string{"krb5kdc", "kdb5_util", "kadmin.local", "kinit"} {
		if _, err := exec.LookPath(tool); err != nil {
			if _, err2 := os.Stat(filepath.Join("/usr/sbin", tool)); err2 != nil {
				missing(t, "MIT Kerberos KDC (krb5-kdc krb5-user krb5-admin-server)", err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", "peers/kdc/setup.sh", ".peers/kdc").CombinedOutput()
	if err != nil {
		missing(t, "MIT Kerberos KDC", fmt.Errorf("peers/kdc/setup.sh: %v\n%s", err, out))
	}
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && (strings.HasPrefix(k, "KRB5") || strings.HasPrefix(k, "AMQ_KDC_")) {
			env[k] = v
		}
	}
	for _, k := range []string{"KRB5_CONFIG", "KRB5CCNAME", "AMQ_KDC_SERVICE_KEYTAB", "AMQ_KDC_CLIENT_KEYTAB"} {
		if env[k] == "" {
			t.Fatalf("peers/kdc/setup.sh did not report %s:\n%s", k, out)
		}
	}
	return env
}

func TestGSSAPIWithMITKDC(t *testing.T) {
	env := startKDC(t)
	svcKeytab, err := keytab.Load(env["AMQ_KDC_SERVICE_KEYTAB"])
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		offered []string
		cfg     sasl.Config
	}{
		{"ticket cache from kinit", []string{"GSSAPI"}, sasl.Config{
			Mechanisms: []string{"GSSAPI"},
			Kerberos:   sasl.KerberosConfig{ConfigPath: env["KRB5_CONFIG"], CCache: env["KRB5CCNAME"]},
		}},
		{"keytab login", []string{"GSSAPI"}, sasl.Config{
			Kerberos: sasl.KerberosConfig{ConfigPath: env["KRB5_CONFIG"], Keytab: env["AMQ_KDC_CLIENT_KEYTAB"], Principal: "alice@AMQ.TEST"},
		}},
		{"chosen over SCRAM when a ticket is there", []string{"SCRAM-SHA-512", "GSSAPI", "PLAIN"}, sasl.Config{
			User: "bob", Password: "pw", HasUser: true,
			Kerberos: sasl.KerberosConfig{ConfigPath: env["KRB5_CONFIG"], CCache: env["KRB5CCNAME"]},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			type result struct {
				client string
				err    error
			}
			done := make(chan result, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					done <- result{err: err}
					return
				}
				defer c.Close()
				client, err := serveGSSAPI(c, tc.offered, svcKeytab)
				done <- result{client, err}
			}()
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			cfg := tc.cfg
			cfg.Hostname = "localhost"
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := sasl.Negotiate(ctx, conn, &cfg)
			if err != nil {
				t.Fatalf("Negotiate: %v", err)
			}
			if res.Mechanism != "GSSAPI" {
				t.Fatalf("mechanism %s, want GSSAPI", res.Mechanism)
			}
			// What follows the outcome is the AMQP header (go-amqp sends it).
			if _, err := conn.Write(codec.ProtoAMQP[:]); err != nil {
				t.Fatal(err)
			}
			r := <-done
			if r.err != nil {
				t.Fatalf("server: %v", r.err)
			}
			if r.client != "alice" {
				t.Fatalf("server authenticated %q, want alice", r.client)
			}
		})
	}
}

// serveGSSAPI is the server side of SASL GSSAPI (RFC 4752): it checks the
// AP-REQ with the service keytab, answers mutual authentication with an
// AP-REP, offers "no security layer" in a Wrap token, checks the client's
// Wrap token, sends the outcome and reads the AMQP header that follows.
func serveGSSAPI(conn net.Conn, offered []string, kt *keytab.Keytab) (string, error) {
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	sendFrame := func(b codec.Performative) error {
		return codec.WriteFrame(conn, codec.Frame{Type: codec.FrameSASL, Body: b})
	}
	recv := func() (codec.Performative, error) {
		f, err := codec.ReadFrame(conn, 0)
		return f.Body, err
	}
	if id, err := codec.ReadProtoHeader(conn); err != nil || id != codec.ProtoIDSASL {
		return "", fmt.Errorf("client header: %d, %v", id, err)
	}
	if _, err := conn.Write(codec.ProtoSASL[:]); err != nil {
		return "", err
	}
	syms := make([]codec.Symbol, len(offered))
	for i, m := range offered {
		syms[i] = codec.Symbol(m)
	}
	if err := sendFrame(&codec.SASLMechanisms{Mechanisms: syms}); err != nil {
		return "", err
	}
	body, err := recv()
	if err != nil {
		return "", err
	}
	init, ok := body.(*codec.SASLInit)
	if !ok || init.Mechanism != "GSSAPI" {
		return "", fmt.Errorf("want sasl-init GSSAPI, got %#v", body)
	}
	var tok spnego.KRB5Token
	if err := tok.Unmarshal(init.InitialResponse); err != nil || !tok.IsAPReq() {
		return "", fmt.Errorf("initial response is not a Kerberos AP-REQ: %v", err)
	}
	ok, creds, err := service.VerifyAPREQ(&tok.APReq, service.NewSettings(kt, service.DecodePAC(false)))
	if !ok || err != nil {
		_ = sendFrame(&codec.SASLOutcome{Code: codec.SASLCodeAuth})
		return "", fmt.Errorf("AP-REQ refused: %v", err)
	}
	key := tok.APReq.Ticket.DecryptedEncPart.Key
	respond := func(challenge []byte) ([]byte, error) {
		if err := sendFrame(&codec.SASLChallenge{Challenge: challenge}); err != nil {
			return nil, err
		}
		body, err := recv()
		if err != nil {
			return nil, err
		}
		r, ok := body.(*codec.SASLResponse)
		if !ok {
			return nil, fmt.Errorf("want sasl-response, got %T", body)
		}
		return r.Response, nil
	}
	if types.IsFlagSet(&tok.APReq.APOptions, flags.APOptionMutualRequired) {
		rep, err := apRepToken(tok.APReq.Authenticator, key)
		if err != nil {
			return "", err
		}
		if r, err := respond(rep); err != nil || len(r) != 0 {
			return "", fmt.Errorf("answer to the AP-REP: %d bytes, %v", len(r), err)
		}
	}
	offer := gssapi.WrapToken{Flags: 0x01, EC: 12, Payload: []byte{0x01, 0x00, 0xff, 0xff}} // sent by acceptor; no layer
	if err := offer.SetCheckSum(key, keyusage.GSSAPI_ACCEPTOR_SEAL); err != nil {
		return "", err
	}
	ob, err := offer.Marshal()
	if err != nil {
		return "", err
	}
	r, err := respond(ob)
	if err != nil {
		return "", err
	}
	var answer gssapi.WrapToken
	if err := answer.Unmarshal(r, false); err != nil {
		return "", err
	}
	if ok, err := answer.Verify(key, keyusage.GSSAPI_INITIATOR_SEAL); !ok {
		return "", fmt.Errorf("client Wrap token: %v", err)
	}
	if len(answer.Payload) < 4 || answer.Payload[0] != 0x01 {
		return "", fmt.Errorf("client chose security layer % x", answer.Payload)
	}
	if err := sendFrame(&codec.SASLOutcome{Code: codec.SASLCodeOK}); err != nil {
		return "", err
	}
	if id, err := codec.ReadProtoHeader(conn); err != nil || id != codec.ProtoIDAMQP {
		return "", fmt.Errorf("after the outcome: header %d, %v", id, err)
	}
	return creds.CName().PrincipalNameString(), nil
}

// apRepToken is the AP-REP (RFC 4120 §5.5.2) echoing the authenticator's
// time, in the GSS-API token framing (RFC 1964 §1.1).
func apRepToken(auth types.Authenticator, key types.EncryptionKey) ([]byte, error) {
	part, err := asn1.Marshal(struct {
		CTime time.Time `asn1:"generalized,explicit,tag:0"`
		Cusec int       `asn1:"explicit,tag:1"`
	}{auth.CTime.UTC(), auth.Cusec})
	if err != nil {
		return nil, err
	}
	ed, err := crypto.GetEncryptedData(asn1tools.AddASNAppTag(part, 27), key, keyusage.AP_REP_ENCPART, 0)
	if err != nil {
		return nil, err
	}
	rep, err := asn1.Marshal(struct {
		PVNO    int                 `asn1:"explicit,tag:0"`
		MsgType int                 `asn1:"explicit,tag:1"`
		EncPart types.EncryptedData `asn1:"explicit,tag:2"`
	}{5, 15, ed})
	if err != nil {
		return nil, err
	}
	oid, err := asn1.Marshal(asn1.ObjectIdentifier{1, 2, 840, 113554, 1, 2, 2})
	if err != nil {
		return nil, err
	}
	b := append(oid, 0x02, 0x00) // TOK_ID of an AP-REP
	return asn1tools.AddASNAppTag(append(b, asn1tools.AddASNAppTag(rep, 15)...), 0), nil
}
