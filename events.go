package amq

import (
	"fmt"
	"sync"
	"time"
)

// State is a state of a Client's connection, reported to
// ConnectOptions.OnStateChange.
type State int

// The connection states.
const (
	// StateConnected: a connection is established (the first one, or a new
	// one after a loss, with every sender and receiver re-attached).
	StateConnected State = iota + 1
	// StateDisconnected: the connection was lost; Err says why.
	StateDisconnected
	// StateReconnecting: an attempt to connect to URL is about to be made
	// after Delay; Attempt counts the attempts since the loss.
	StateReconnecting
	// StateClosed: the client was closed by Close.
	StateClosed
	// StateFailed: the client gave up (reconnect off or exhausted, or a
	// failure that retrying cannot fix); Err says why.
	StateFailed
)

func (s State) String() string {
	switch s {
	case StateConnected:
		return "connected"
	case StateDisconnected:
		return "disconnected"
	case StateReconnecting:
		return "reconnecting"
	case StateClosed:
		return "closed"
	case StateFailed:
		return "failed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// StateEvent is one change of a Client's connection state.
type StateEvent struct {
	State State
	// URL is the peer concerned, without credentials.
	URL string
	// Err is the cause of a disconnection or failure.
	Err error
	// Attempt and Delay describe a reconnect attempt.
	Attempt int
	Delay   time.Duration
	// Time is when the change happened.
	Time time.Time
}

// eventQueue delivers events to the application's callback on a
// goroutine of its own, in order, so that a slow callback never blocks the
// connection's supervisor.
type eventQueue struct {
	fn      func(StateEvent)
	mu      sync.Mutex
	pending []StateEvent
	running bool
}

func (q *eventQueue) push(ev StateEvent) {
	if q.fn == nil {
		return
	}
	q.mu.Lock()
	q.pending = append(q.pending, ev)
	if q.running {
		q.mu.Unlock()
		return
	}
	q.running = true
	q.mu.Unlock()
	go q.drain()
}

func (q *eventQueue) drain() {
	for {
		q.mu.Lock()
		if len(q.pending) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		ev := q.pending[0]
		q.pending = q.pending[1:]
		q.mu.Unlock()
		q.fn(ev)
	}
}
