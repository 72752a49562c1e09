package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"fmt"
	"sync"

	"github.com/xdg-go/scram"
)

// scramIterations is the PBKDF2 iteration count of stored SCRAM credentials
// (RFC 7677 recommends at least 4096).
const scramIterations = 4096

// saltSize is the length of the salts Set draws and of the stand-ins'.
const saltSize = 16

// Credentials is the server's user store for the password mechanisms
// (PLAIN, SCRAM-SHA-1, SCRAM-SHA-256, SCRAM-SHA-512). Passwords are not
// kept: Set derives the SCRAM stored keys (RFC 5802 §3) once, with a random
// salt, and PLAIN is verified against them. The zero value is not usable; use
// NewCredentials. It is safe for concurrent use, including Set while the
// server runs.
//
// A user name that is not in the store is answered as a known one would
// be, so that asking the server cannot tell which names exist: SCRAM gets a
// salt and iteration count (the salt derived from the name and a random
// secret of the store, so the same each time it is asked, as a real one
// is) and fails only at the proof, as a wrong password does; PLAIN derives
// and compares keys just as for a known user.
type Credentials struct {
	mu    sync.RWMutex
	users map[string]*storedUser

	secretOnce sync.Once
	secret     [32]byte // keys the stand-ins for unknown users
}

type storedUser struct {
	byHash map[string]scram.StoredCredentials // by mechanism name
}

// scramHashes maps each SCRAM mechanism to its hash.
var scramHashes = map[string]scram.HashGeneratorFcn{
	mechSCRAMSHA1:   scram.SHA1,
	mechSCRAMSHA256: scram.SHA256,
	mechSCRAMSHA512: scram.SHA512,
}

// NewCredentials returns a store holding the given user → password pairs
// (users may be nil).
func NewCredentials(users map[string]string) (*Credentials, error) {
	c := &Credentials{users: make(map[string]*storedUser, len(users))}
	for u, p := range users {
		if err := c.Set(u, p); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Set adds the user or replaces its password.
func (c *Credentials) Set(user, password string) error {
	if user == "" {
		return errors.New("server: Credentials.Set: empty user name")
	}
	var salt [saltSize]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return fmt.Errorf("server: Credentials.Set: %w", err)
	}
	su := &storedUser{byHash: make(map[string]scram.StoredCredentials, len(scramHashes))}
	for mech, h := range scramHashes {
		cl, err := h.NewClient(user, password, "")
		if err != nil {
			return fmt.Errorf("server: Credentials.Set: user %q: %w", user, err)
		}
		sc, err := cl.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt[:]), Iters: scramIterations})
		if err != nil {
			return fmt.Errorf("server: Credentials.Set: user %q: %w", user, err)
		}
		su.byHash[mech] = sc
	}
	c.mu.Lock()
	c.users[user] = su
	c.mu.Unlock()
	return nil
}

// Delete removes the user.
func (c *Credentials) Delete(user string) {
	c.mu.Lock()
	delete(c.users, user)
	c.mu.Unlock()
}

// lookup returns the stored SCRAM credentials of user for mech, or, with
// known false, the stand-in for a user not in the store (see standIn).
// Both are computed on every call, so that the two cases cost the same.
func (c *Credentials) lookup(mech, user string) (sc scram.StoredCredentials, known bool) {
	sc = c.standIn(mech, user)
	c.mu.RLock()
	defer c.mu.RUnlock()
	if su, ok := c.users[user]; ok {
		if stored, ok := su.byHash[mech]; ok {
			return stored, true
		}
	}
	return sc, false
}

// standIn returns what lookup answers for a user not in the store: the
// salt is HMAC(secret, user), the same for every mechanism as a real user's
// is, so asking twice, or with another mechanism, gives nothing away; the
// iteration count is the real one; the keys, also derived from the secret,
// have the hash's size (a shorter one would make the constant-time
// comparison return early) and match no password.
func (c *Credentials) standIn(mech, user string) scram.StoredCredentials {
	c.secretOnce.Do(func() { _, _ = rand.Read(c.secret[:]) }) // never fails (Go 1.24)
	size := sha512.Size
	if h, ok := scramHashes[mech]; ok {
		size = h().Size()
	}
	m := hmac.New(sha512.New, c.secret[:])
	m.Write([]byte("salt\x00"))
	m.Write([]byte(user))
	salt := m.Sum(nil)[:saltSize]
	m.Reset()
	m.Write([]byte("keys\x00" + mech + "\x00"))
	m.Write([]byte(user))
	key := m.Sum(nil)[:size]
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(salt), Iters: scramIterations},
		StoredKey:  key,
		ServerKey:  key,
	}
}

// verify checks a clear-text password (PLAIN) against the stored
// SCRAM-SHA-256 keys. An unknown user costs the same: the key derivation
// (the expensive part, PBKDF2 with scramIterations) and the comparison
// run against the stand-in.
func (c *Credentials) verify(user, password string) bool {
	sc, known := c.lookup(mechSCRAMSHA256, user)
	cl, err := scram.SHA256.NewClient(user, password, "")
	if err != nil {
		// SASLprep refused the name or the password: Set would have
		// refused them too, so no stored user can be told apart here.
		return false
	}
	got, err := cl.GetStoredCredentialsWithError(sc.KeyFactors)
	if err != nil {
		return false
	}
	match := hmac.Equal(got.StoredKey, sc.StoredKey)
	match = hmac.Equal(got.ServerKey, sc.ServerKey) && match
	return match && known
}

// scramConv runs the server side of one SCRAM exchange (RFC 5802).
type scramConv struct {
	conv *scram.ServerConversation
}

// newSCRAMConv starts an exchange. The library's server asks its lookup
// for the user's stored credentials and, on an error, answers
// "e=unknown-user" at once; so the lookup never fails for a store: an
// unknown user gets the store's stand-in (Credentials.standIn), the
// exchange goes on to the client's proof, and that fails as a wrong
// password's does.
func newSCRAMConv(mech string, creds *Credentials, nonce func() string) (*scramConv, error) {
	h := scramHashes[mech]
	srv, err := h.NewServer(func(user string) (scram.StoredCredentials, error) {
		if creds == nil {
			// Not offered without a store (config.offered); here for a
			// hand-built Server only.
			return scram.StoredCredentials{}, errors.New("no credentials")
		}
		sc, _ := creds.lookup(mech, user)
		return sc, nil
	})
	if err != nil {
		return nil, err
	}
	if nonce != nil {
		srv = srv.WithNonceGenerator(nonce)
	}
	return &scramConv{conv: srv.NewConversation()}, nil
}

// step implements saslConv. The server-final-message travels as the
// additional-data of the sasl-outcome (AMQP 1.0 §5.3.3.6), which is what
// Proton and Qpid JMS expect.
func (s *scramConv) step(resp []byte) (challenge []byte, res *saslResult, err error) {
	out, err := s.conv.Step(string(resp))
	if err != nil {
		return nil, nil, errAuthFailed
	}
	if !s.conv.Done() {
		return []byte(out), nil, nil
	}
	if !s.conv.Valid() {
		return nil, nil, errAuthFailed
	}
	if a := s.conv.AuthzID(); a != "" && a != s.conv.Username() {
		return nil, nil, errAuthFailed // no proxy authorization, as PLAIN
	}
	return nil, &saslResult{identity: s.conv.Username(), additional: []byte(out)}, nil
}

// user implements saslConv: the name the client-first-message gave.
func (s *scramConv) user() string { return s.conv.Username() }
