package sasl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// defaultServiceName is the service of an AMQP server's Kerberos principal
// (amqp/HOST@REALM), as Qpid and Artemis use.
const defaultServiceName = "amqp"

// Security layers of the GSSAPI SASL mechanism (RFC 4752 §3.3).
const layerNone = 0x01

// ticket is a service ticket with what the AP-REQ needs.
type ticket struct {
	tkt        messages.Ticket
	sessionKey types.EncryptionKey
	crealm     string
	cname      types.PrincipalName
}

// gssapiMech is the client side of SASL GSSAPI (RFC 4752) over Kerberos V5:
//
//	C: AP-REQ (mutual authentication requested)
//	S: AP-REP                 C: (empty)
//	S: Wrap(layers, max size) C: Wrap(no layer, 0)
//	S: outcome
//
// The server is authenticated by the AP-REP (it decrypted the ticket) and
// again by the checksum of its Wrap token. No security layer is ever
// negotiated: AMQP relies on TLS for integrity and confidentiality.
type gssapiMech struct {
	spn string
	// getTicket obtains the service ticket (KDC traffic); tests replace it.
	getTicket func(spn string) (ticket, error)
	setupErr  error

	key            types.EncryptionKey // the ticket's session key
	ctime          time.Time           // of the authenticator, echoed by the AP-REP
	cusec          int
	seq            uint64               // initiator sequence number
	acceptorSubkey *types.EncryptionKey // from the AP-REP, if the server set one
	established    bool
	serverProven   bool
	done           bool
}

func newGSSAPI(cfg *Config, krb *lazyKerberos) *gssapiMech {
	svc := cfg.Kerberos.ServiceName
	if svc == "" {
		svc = defaultServiceName
	}
	m := &gssapiMech{spn: svc + "/" + cfg.Hostname}
	if cfg.Hostname == "" {
		m.setupErr = errors.New("the server's host name is unknown, so its service principal cannot be named")
	}
	m.getTicket = func(spn string) (ticket, error) {
		cl, err := krb.client()
		if err != nil {
			return ticket{}, err
		}
		if err := cl.AffirmLogin(); err != nil {
			return ticket{}, fmt.Errorf("gssapi: Kerberos login: %v", err)
		}
		tkt, key, err := cl.GetServiceTicket(spn)
		if err != nil {
			return ticket{}, fmt.Errorf("getting a Kerberos ticket for %s: %v", spn, err)
		}
		return ticket{tkt: tkt, sessionKey: key, crealm: cl.Credentials.Domain(), cname: cl.Credentials.CName()}, nil
	}
	return m
}

func (*gssapiMech) name() string { return GSSAPI }

// start gets the service ticket (talking to the KDC, which gokrb5 does
// without a context: a cancelled ctx abandons the call to its own timeout)
// and returns the framed AP-REQ.
func (m *gssapiMech) start(ctx context.Context) ([]byte, error) {
	if m.setupErr != nil {
		return nil, fmt.Errorf("sasl: GSSAPI: %w", m.setupErr)
	}
	type result struct {
		t   ticket
		err error
	}
	ch := make(chan result, 1)
	go func() {
		t, err := m.getTicket(m.spn)
		ch <- result{t, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		return nil, fmt.Errorf("sasl: GSSAPI: getting a Kerberos ticket: %w", context.Cause(ctx))
	}
	if r.err != nil {
		return nil, fmt.Errorf("sasl: GSSAPI: %w", r.err)
	}
	return m.apReq(r.t)
}

// apReq builds the initial context token (RFC 4121 §4.1).
func (m *gssapiMech) apReq(t ticket) ([]byte, error) {
	auth, err := types.NewAuthenticator(t.crealm, t.cname)
	if err != nil {
		return nil, fmt.Errorf("sasl: GSSAPI: %w", err)
	}
	auth.Cksum = types.Checksum{
		CksumType: chksumtype.GSSAPI,
		Checksum:  authenticatorChecksum(gssapi.ContextFlagMutual | gssapi.ContextFlagInteg),
	}
	req, err := messages.NewAPReq(t.tkt, t.sessionKey, auth)
	if err != nil {
		return nil, fmt.Errorf("sasl: GSSAPI: %w", err)
	}
	types.SetFlag(&req.APOptions, flags.APOptionMutualRequired)
	msg, err := req.Marshal()
	if err != nil {
		return nil, fmt.Errorf("sasl: GSSAPI: encoding the AP-REQ: %w", err)
	}
	m.key, m.ctime, m.cusec, m.seq = t.sessionKey, auth.CTime, auth.Cusec, uint64(auth.SeqNumber)
	tok, err := frameContextToken(tokIDAPReq, msg)
	if err != nil {
		return nil, fmt.Errorf("sasl: GSSAPI: %w", err)
	}
	return tok, nil
}

func (m *gssapiMech) step(challenge []byte) ([]byte, error) {
	switch {
	case m.done:
		return nil, errors.New("sasl: GSSAPI: unexpected challenge after the security layer negotiation")
	case !m.established && len(challenge) == 0:
		// A server that does not answer mutual authentication with an
		// AP-REP; its Wrap token will have to prove it.
		m.established = true
		return []byte{}, nil
	case !m.established && !bytes.HasPrefix(challenge, []byte{0x05, 0x04}):
		if err := m.apRep(challenge); err != nil {
			return nil, err
		}
		m.established = true
		return []byte{}, nil
	}
	m.established = true
	return m.securityLayer(challenge)
}

// apRep checks the server's AP-REP: only the service could decrypt the
// ticket and so know the session key that encrypts it.
func (m *gssapiMech) apRep(token []byte) error {
	tokID, msg, err := unframeContextToken(token)
	if err != nil {
		return fmt.Errorf("sasl: GSSAPI: server token: %w", err)
	}
	switch {
	case bytes.Equal(tokID, tokIDError):
		var ke messages.KRBError
		if err := ke.Unmarshal(msg); err != nil {
			return fmt.Errorf("sasl: GSSAPI: the server sent an undecodable Kerberos error: %w", err)
		}
		return &AuthError{Mechanism: GSSAPI, Code: CodeAuth, Detail: fmt.Sprintf("Kerberos error %d %s", ke.ErrorCode, ke.EText)}
	case !bytes.Equal(tokID, tokIDAPRep):
		return fmt.Errorf("sasl: GSSAPI: unexpected token id % x from the server", tokID)
	}
	var rep messages.APRep
	if err := rep.Unmarshal(msg); err != nil {
		return fmt.Errorf("sasl: GSSAPI: decoding the AP-REP: %w", err)
	}
	plain, err := crypto.DecryptEncPart(rep.EncPart, m.key, keyusage.AP_REP_ENCPART)
	if err != nil {
		return fmt.Errorf("%w: GSSAPI AP-REP does not decrypt with the session key", ErrServerNotAuthenticated)
	}
	var part messages.EncAPRepPart
	if err := part.Unmarshal(plain); err != nil {
		return fmt.Errorf("sasl: GSSAPI: decoding the AP-REP: %w", err)
	}
	// The AP-REP echoes the authenticator's time (RFC 4120 §3.2.4), which
	// travels in whole seconds plus cusec.
	if !part.CTime.Equal(m.ctime.Truncate(time.Second)) || part.Cusec != m.cusec {
		return fmt.Errorf("%w: GSSAPI AP-REP does not echo the authenticator", ErrServerNotAuthenticated)
	}
	if part.Subkey.KeyType != 0 {
		k := part.Subkey
		m.acceptorSubkey = &k
	}
	m.serverProven = true
	return nil
}

// securityLayer answers the server's wrapped offer (RFC 4752 §3.1): a
// bit mask of layers and a maximum buffer size. The answer selects no
// layer, a zero buffer size and no authorization identity.
func (m *gssapiMech) securityLayer(token []byte) ([]byte, error) {
	key, flags := m.key, byte(0)
	if len(token) > 2 && token[2]&wrapAcceptorSubkey != 0 {
		if m.acceptorSubkey == nil {
			return nil, fmt.Errorf("%w: GSSAPI Wrap token uses an acceptor subkey the server never sent", ErrServerNotAuthenticated)
		}
		key, flags = *m.acceptorSubkey, wrapAcceptorSubkey
	}
	offer, _, err := unwrap(token, key)
	if err != nil {
		return nil, fmt.Errorf("%w: GSSAPI security layer offer: %v", ErrServerNotAuthenticated, err)
	}
	m.serverProven = true
	if len(offer) != 4 {
		return nil, fmt.Errorf("sasl: GSSAPI: security layer offer has %d bytes, not 4", len(offer))
	}
	if offer[0]&layerNone == 0 {
		return nil, fmt.Errorf("sasl: GSSAPI: the server requires a SASL security layer (offer 0x%02x); only \"no layer\" is supported (use TLS)", offer[0])
	}
	resp, err := wrap([]byte{layerNone, 0, 0, 0}, key, flags, m.seq)
	if err != nil {
		return nil, fmt.Errorf("sasl: GSSAPI: %w", err)
	}
	m.done = true
	return resp, nil
}

func (m *gssapiMech) finish([]byte) error {
	if !m.serverProven {
		return fmt.Errorf("%w: GSSAPI exchange ended before the server proved its identity", ErrServerNotAuthenticated)
	}
	return nil
}
