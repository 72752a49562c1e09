package server

import (
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	"github.com/xdg-go/scram"
)

// scramIterations is the PBKDF2 iteration count of stored SCRAM credentials
// (RFC 7677 recommends at least 4096).
const scramIterations = 4096

// Credentials is the server's user store for the password mechanisms
// (PLAIN, SCRAM-SHA-1, SCRAM-SHA-256, SCRAM-SHA-512). Passwords are not
// kept: Set derives the SCRAM stored keys (RFC 5802 §3) once, with a random
// salt, and PLAIN is verified against them. The zero value is not usable; use
// NewCredentials. It is safe for concurrent use, including Set while the
// server runs.
type Credentials struct {
	mu    sync.RWMutex
	users map[string]*storedUser
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
	var salt [16]byte
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

// lookup returns the stored SCRAM credentials of user for mech.
func (c *Credentials) lookup(mech, user string) (scram.StoredCredentials, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	su, ok := c.users[user]
	if !ok {
		return scram.StoredCredentials{}, false
	}
	sc, ok := su.byHash[mech]
	return sc, ok
}

// verify checks a clear-text password (PLAIN) against the stored
// SCRAM-SHA-256 keys.
func (c *Credentials) verify(user, password string) bool {
	sc, ok := c.lookup(mechSCRAMSHA256, user)
	if !ok {
		return false
	}
	cl, err := scram.SHA256.NewClient(user, password, "")
	if err != nil {
		return false
	}
	got, err := cl.GetStoredCredentialsWithError(sc.KeyFactors)
	if err != nil {
		return false
	}
	return hmac.Equal(got.StoredKey, sc.StoredKey) && hmac.Equal(got.ServerKey, sc.ServerKey)
}

// scramConv runs the server side of one SCRAM exchange (RFC 5802).
type scramConv struct {
	conv *scram.ServerConversation
}

func newSCRAMConv(mech string, creds *Credentials) (*scramConv, error) {
	h := scramHashes[mech]
	srv, err := h.NewServer(func(user string) (scram.StoredCredentials, error) {
		if creds == nil {
			return scram.StoredCredentials{}, errors.New("unknown user")
		}
		sc, ok := creds.lookup(mech, user)
		if !ok {
			return scram.StoredCredentials{}, errors.New("unknown user")
		}
		return sc, nil
	})
	if err != nil {
		return nil, err
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
	return nil, &saslResult{identity: s.conv.Username(), additional: []byte(out)}, nil
}
