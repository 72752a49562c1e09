package wsnet

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// deadline is one direction's deadline of a Conn.
//
// A deadline that passes between two operations makes the next one fail
// at once with a time-out, until the deadline is moved, as on a TCP
// connection. One that passes while an operation waits closes the
// WebSocket: coder/websocket cannot abandon a read or a write half done
// and carry on (its framing would be lost), which is also what
// websocket.NetConn does. The operation then fails with a time-out. The
// engine ends a connection after any time-out anyway: an idle peer, a
// close not answered, a handshake too slow.
type deadline struct {
	ws *websocket.Conn

	mu      sync.Mutex
	timer   *time.Timer // made at the first deadline
	when    time.Time   // zero: none
	busy    bool        // an operation is under way
	expired bool        // passed with no operation under way
	fired   bool        // passed during the operation under way
}

// timeoutError is the error of an operation a deadline ended: a net.Error
// whose Timeout is true, as os.ErrDeadlineExceeded is.
func timeoutError(op string) error {
	return fmt.Errorf("wsnet: %s: %w", op, os.ErrDeadlineExceeded)
}

// begin starts an operation, or refuses it when the deadline has passed.
func (d *deadline) begin(op string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.expired || (!d.when.IsZero() && !time.Now().Before(d.when)) {
		d.expired = true
		return timeoutError(op)
	}
	d.busy = true
	return nil
}

// end ends the operation begin started and reports whether the deadline
// passed while it was under way.
func (d *deadline) end() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.busy = false
	fired := d.fired
	d.fired = false
	return fired
}

// set moves the deadline to t; the zero time means none.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.when = t
	d.expired = false
	if t.IsZero() {
		if d.timer != nil {
			d.timer.Stop()
		}
		return
	}
	wait := time.Until(t)
	if wait <= 0 {
		d.passLocked()
		return
	}
	if d.timer == nil {
		d.timer = time.AfterFunc(wait, d.pass)
	} else {
		d.timer.Reset(wait)
	}
}

// pass is the timer's: the deadline may have passed.
func (d *deadline) pass() {
	d.mu.Lock()
	defer d.mu.Unlock()
	// A timer reset or stopped after it had started running fires late:
	// only the deadline set now counts.
	if d.when.IsZero() || time.Now().Before(d.when) {
		return
	}
	d.passLocked()
}

func (d *deadline) passLocked() {
	if !d.busy {
		d.expired = true
		return
	}
	if !d.fired {
		d.fired = true
		// Closing the connection under the WebSocket wakes the operation,
		// and CloseNow then waits for it to let go of the WebSocket: on a
		// goroutine of its own, so that neither set nor the timer waits
		// (the engine moves deadlines with its own locks held).
		go func() { _ = d.ws.CloseNow() }()
	}
}

// stop stops the timer, for Close.
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
	}
}
