package amq

import (
	"time"

	"github.com/cenkalti/backoff/v4"
)

// ReconnectPolicy decides how long to wait before each reconnect attempt
// (reference 6.3: the reconnect object with reset() and next()). Reset is
// called when a connection is established and before the first attempt
// after a loss; Next is called before each attempt and returns the delay,
// or false to give up, which fails the Client.
//
// A policy is used by one Client's supervisor goroutine only; it need not
// be safe for concurrent use, but a policy value must not be shared by two
// Clients.
type ReconnectPolicy interface {
	Reset()
	Next() (delay time.Duration, ok bool)
}

// NoReconnect is a ReconnectPolicy that never reconnects: the Client fails
// when its connection is lost (the reference's reconnect=False).
var NoReconnect ReconnectPolicy = noReconnect{}

type noReconnect struct{}

func (noReconnect) Reset()                      {}
func (noReconnect) Next() (time.Duration, bool) { return 0, false }

// Default reconnect schedule: the first attempt is immediate, the next
// waits about 100ms, and each later one about twice as long as the one
// before, up to 10s; every delay but the first is randomised by ±50% so
// that many clients cut off at once do not reconnect in step. It never
// gives up.
const (
	DefaultReconnectInitial = 100 * time.Millisecond
	DefaultReconnectMax     = 10 * time.Second
)

// NewExponentialReconnect returns the default policy with the given first
// delay and ceiling, and maxAttempts > 0 to give up after that many
// attempts in a row (0: never give up).
func NewExponentialReconnect(initial, max time.Duration, maxAttempts int) ReconnectPolicy {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = initial
	b.MaxInterval = max
	b.Multiplier = 2
	b.RandomizationFactor = 0.5
	b.MaxElapsedTime = 0
	return &exponential{b: b, maxAttempts: maxAttempts}
}

type exponential struct {
	b           *backoff.ExponentialBackOff
	attempt     int
	maxAttempts int
}

func (e *exponential) Reset() {
	e.b.Reset()
	e.attempt = 0
}

func (e *exponential) Next() (time.Duration, bool) {
	e.attempt++
	if e.maxAttempts > 0 && e.attempt > e.maxAttempts {
		return 0, false
	}
	if e.attempt == 1 {
		return 0, true
	}
	return e.b.NextBackOff(), true
}
