package sasl

import (
	"bytes"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/crypto/etype"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/service"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/amqgo/amq/internal/codec"
)

// These tests play the KDC with gokrb5 (a ticket made straight from the
// service keytab) and the server with acceptGSSAPI; integration/
// gssapi_test.go does the same against a real MIT KDC.

const testRealm = "AMQ.TEST"

type testKeytab struct{ *keytab.Keytab }

func newKeytab(t *testing.T, principal, password string) testKeytab {
	t.Helper()
	kt := keytab.New()
	if err := kt.AddEntry(principal, testRealm, password, time.Now(), 1, etypeID.AES256_CTS_HMAC_SHA1_96); err != nil {
		t.Fatal(err)
	}
	return testKeytab{kt}
}

func (k testKeytab) bytes(t *testing.T) []byte {
	b, err := k.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// issueTicket is the KDC's part: alice's ticket for amqp/localhost.
func issueTicket(svc testKeytab) func(string) (ticket, error) {
	return func(spn string) (ticket, error) {
		cname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, testUser)
		sname := types.NewPrincipalName(nametype.KRB_NT_SRV_INST, spn)
		now := time.Now().UTC()
		tkt, key, err := messages.NewTicket(cname, testRealm, sname, testRealm, types.NewKrbFlags(), svc.Keytab,
			etypeID.AES256_CTS_HMAC_SHA1_96, 1, now, now, now.Add(time.Hour), now.Add(time.Hour))
		return ticket{tkt: tkt, sessionKey: key, crealm: testRealm, cname: cname}, err
	}
}

type acceptorOpts struct {
	noAPRep   bool   // ignore the mutual authentication request
	impostor  bool   // do not check the ticket; sign with a key of its own
	layers    byte   // security layers offered; 0: "no layer" only
	gotClient string // set to the authenticated client
}

// acceptGSSAPI is the server side of SASL GSSAPI (RFC 4752) for tests.
func acceptGSSAPI(conn net.Conn, init *codec.SASLInit, kt *keytab.Keytab, o *acceptorOpts) error {
	tokID, msg, err := unframeContextToken(init.InitialResponse)
	if err != nil || !bytes.Equal(tokID, tokIDAPReq) {
		return fmt.Errorf("initial token: %v (id % x)", err, tokID)
	}
	var req messages.APReq
	if err := req.Unmarshal(msg); err != nil {
		return err
	}
	key, _ := types.GenerateEncryptionKey(mustEtype())
	if !o.impostor {
		ok, creds, err := service.VerifyAPREQ(&req, service.NewSettings(kt, service.DecodePAC(false)))
		if !ok || err != nil {
			return fmt.Errorf("AP-REQ does not verify: %v", err)
		}
		o.gotClient = creds.CName().PrincipalNameString()
		key = req.Ticket.DecryptedEncPart.Key
		if !o.noAPRep && types.IsFlagSet(&req.APOptions, flags.APOptionMutualRequired) {
			rep, err := makeAPRep(req.Authenticator, key)
			if err != nil {
				return err
			}
			if err := challenge(conn, rep, true); err != nil {
				return err
			}
		}
	}
	layers := o.layers
	if layers == 0 {
		layers = layerNone
	}
	offer := gssapi.WrapToken{Flags: wrapSentByAcceptor, EC: 12, Payload: []byte{layers, 0x00, 0x10, 0x00}}
	if err := offer.SetCheckSum(key, keyusage.GSSAPI_ACCEPTOR_SEAL); err != nil {
		return err
	}
	ob, _ := offer.Marshal()
	if err := send(conn, &codec.SASLChallenge{Challenge: ob}); err != nil {
		return err
	}
	resp, err := recvResponse(conn)
	if err != nil {
		return nil // the client hung up: its error is what the test checks
	}
	var answer gssapi.WrapToken
	if err := answer.Unmarshal(resp, false); err != nil {
		return err
	}
	if ok, err := answer.Verify(key, keyusage.GSSAPI_INITIATOR_SEAL); !ok {
		return fmt.Errorf("client Wrap token: %v", err)
	}
	if !bytes.Equal(answer.Payload, []byte{layerNone, 0, 0, 0}) {
		return fmt.Errorf("client chose % x", answer.Payload)
	}
	return send(conn, &codec.SASLOutcome{Code: codec.SASLCodeOK})
}

func mustEtype() etype.EType {
	et, err := crypto.GetEtype(etypeID.AES256_CTS_HMAC_SHA1_96)
	if err != nil {
		panic(err)
	}
	return et
}

// challenge sends a challenge and, if wantEmpty, checks the empty answer.
func challenge(conn net.Conn, b []byte, wantEmpty bool) error {
	if err := send(conn, &codec.SASLChallenge{Challenge: b}); err != nil {
		return err
	}
	r, err := recvResponse(conn)
	if err == nil && wantEmpty && len(r) != 0 {
		err = fmt.Errorf("want an empty response, got %d bytes", len(r))
	}
	return err
}

// makeAPRep builds the framed AP-REP echoing the authenticator (RFC 4120
// §5.5.2).
func makeAPRep(auth types.Authenticator, key types.EncryptionKey) ([]byte, error) {
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
	return frameContextToken(tokIDAPRep, asn1tools.AddASNAppTag(rep, 15))
}

func TestGSSAPIExchange(t *testing.T) {
	svc := newKeytab(t, "amqp/localhost", "service-password")
	for _, tc := range []struct {
		name    string
		opts    acceptorOpts
		wantErr string
		wantIs  error
	}{
		{name: "mutual"},
		{name: "server skips AP-REP", opts: acceptorOpts{noAPRep: true}},
		{name: "impostor", opts: acceptorOpts{impostor: true}, wantIs: ErrServerNotAuthenticated},
		{name: "server requires a layer", opts: acceptorOpts{layers: 0x06}, wantErr: "requires a SASL security layer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			addr := fakeServer(t, []string{GSSAPI}, func(conn net.Conn, init *codec.SASLInit) error {
				if string(init.Mechanism) != GSSAPI || init.Hostname != "localhost" {
					return fmt.Errorf("sasl-init %s %q", init.Mechanism, init.Hostname)
				}
				return acceptGSSAPI(conn, init, svc.Keytab, &opts)
			})
			conn := dialTCP(t, addr)
			if err := exchangeHeaders(conn); err != nil {
				t.Fatal(err)
			}
			if _, err := readSASL(conn); err != nil {
				t.Fatal(err)
			}
			m := &gssapiMech{spn: "amqp/localhost", getTicket: issueTicket(svc)}
			res, err := runExchange(testCtx(t), conn, m, "localhost")
			conn.Close()
			switch {
			case tc.wantIs != nil:
				if !errors.Is(err, tc.wantIs) {
					t.Fatalf("got %v, want %v", err, tc.wantIs)
				}
			case tc.wantErr != "":
				if !errContains(err, tc.wantErr) {
					t.Fatalf("got %v, want %q", err, tc.wantErr)
				}
			default:
				if err != nil || res.Mechanism != GSSAPI {
					t.Fatalf("got %v, %v", res, err)
				}
			}
		})
	}
}

func TestGSSAPIWrongSessionKeyInAPRep(t *testing.T) {
	m := &gssapiMech{}
	key, _ := types.GenerateEncryptionKey(mustEtype())
	other, _ := types.GenerateEncryptionKey(mustEtype())
	auth, _ := types.NewAuthenticator(testRealm, types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, testUser))
	m.key, m.ctime, m.cusec = key, auth.CTime, auth.Cusec
	rep, err := makeAPRep(auth, other)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.apRep(rep); !errors.Is(err, ErrServerNotAuthenticated) {
		t.Fatalf("got %v, want ErrServerNotAuthenticated", err)
	}
	rep, _ = makeAPRep(auth, key)
	if err := m.apRep(rep); err != nil || !m.serverProven {
		t.Fatalf("genuine AP-REP: %v", err)
	}
}

func TestUnwrapRotated(t *testing.T) {
	key, _ := types.GenerateEncryptionKey(mustEtype())
	wt := gssapi.WrapToken{Flags: wrapSentByAcceptor, EC: 12, Payload: []byte{1, 0, 0x10, 0}}
	if err := wt.SetCheckSum(key, keyusage.GSSAPI_ACCEPTOR_SEAL); err != nil {
		t.Fatal(err)
	}
	b, _ := wt.Marshal()
	// Rotate what follows the header right by 5 and record it in RRC.
	data := b[16:]
	rot := append(bytes.Clone(data[len(data)-5:]), data[:len(data)-5]...)
	copy(data, rot)
	binary.BigEndian.PutUint16(b[6:8], 5)
	payload, _, err := unwrap(b, key)
	if err != nil || !bytes.Equal(payload, []byte{1, 0, 0x10, 0}) {
		t.Fatalf("unwrap: % x, %v", payload, err)
	}
	b[len(b)-1] ^= 1
	if _, _, err := unwrap(b, key); err == nil {
		t.Fatal("a corrupted token unwrapped")
	}
}

func TestGSSAPINeedsHostname(t *testing.T) {
	krb := lazyKerberos{cfg: &noKerberos}
	_, err := newGSSAPI(&Config{}, &krb).start(testCtx(t))
	if !errContains(err, "host name") {
		t.Fatalf("got %v", err)
	}
}
