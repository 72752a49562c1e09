package server

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"
)

// testTimeout bounds every test's blocking calls.
const testTimeout = 20 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// startServer listens on a free loopback port and closes the server when
// the test ends.
func startServer(t *testing.T, opts *Options) *Server {
	t.Helper()
	s, err := Listen("amqp://127.0.0.1:0", opts)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// queues is a tiny test handler: what is sent to address A can be received
// from address A, in order.
type queues struct {
	mu sync.Mutex
	m  map[string]chan []byte
	// outcomes collects the outcome of every unsettled delivery sent.
	outcomes chan any
}

func newQueues() *queues {
	return &queues{m: map[string]chan []byte{}, outcomes: make(chan any, 10000)}
}

func (q *queues) get(addr string) chan []byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	ch, ok := q.m[addr]
	if !ok {
		ch = make(chan []byte, 10000)
		q.m[addr] = ch
	}
	return ch
}

func (q *queues) handler() Handler {
	return HandlerFuncs{
		ServeReceiverFunc: func(ctx context.Context, r *Receiver) {
			ch := q.get(r.Link().Address())
			for {
				d, err := r.Receive(ctx)
				if err != nil {
					return
				}
				ch <- d.Payload()
				_ = d.Accept()
			}
		},
		ServeSenderFunc: func(ctx context.Context, s *Sender) {
			ch := q.get(s.Link().Address())
			for {
				select {
				case p := <-ch:
					d, err := s.SendRaw(ctx, p, false)
					if err != nil {
						return
					}
					go func() {
						st, err := d.Wait(ctx)
						if err != nil {
							q.outcomes <- err
							return
						}
						q.outcomes <- st
					}()
				case <-s.Flowed():
					if s.Draining() {
						_ = s.Drained()
					}
				case <-ctx.Done():
					return
				}
			}
		},
	}
}

func dial(t *testing.T, url string, opts *amqp.ConnOptions) *amqp.Conn {
	t.Helper()
	c, err := amqp.Dial(testCtx(t), url, opts)
	if err != nil {
		t.Fatalf("Dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newSession(t *testing.T, c *amqp.Conn) *amqp.Session {
	t.Helper()
	s, err := c.NewSession(testCtx(t), nil)
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	return s
}

// waitFor polls cond until it holds or the deadline passes. It is for
// conditions with no event to wait on (goroutine counts).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(5 * time.Millisecond)
	}
}

// protoHeader returns the protocol header "AMQP" id 1 0 0 (§2.2, §5.1).
func protoHeader(id uint8) []byte { return []byte{'A', 'M', 'Q', 'P', id, 1, 0, 0} }
