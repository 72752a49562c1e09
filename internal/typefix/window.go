package typefix

import "encoding/binary"

// window follows the session window of go-amqp's outgoing transfers on
// one channel (§2.5.6), the way go-amqp computes it, so that the Conn
// never holds frames while go-amqp waits for window to send the rest.
type window struct {
	initial uint32 // go-amqp's next-outgoing-id in its begin
	nextOut uint32 // next transfer-id go-amqp will use
	limit   uint32 // first transfer-id beyond the peer's incoming-window
	known   bool   // limit set by the peer's begin or flow
}

// goSessionFrame tracks a begin or flow go-amqp sends.
func (c *Conn) goSessionFrame(code uint64, ch uint16, body []byte) {
	var fb16 [16]int
	if code != descBegin {
		return
	}
	f, _, ok := listFields(body, &fb16)
	if !ok || len(f) < 2 {
		return
	}
	next, _ := readUint(body, f[1])
	c.mu.Lock()
	c.sessions[ch] = &window{initial: next, nextOut: next}
	c.mu.Unlock()
}

// goSessionEnd forgets the window of a session go-amqp ends (all of them
// on close).
func (c *Conn) goSessionEnd(code uint64, ch uint16) {
	c.mu.Lock()
	if code == descClose {
		clear(c.sessions)
	} else {
		delete(c.sessions, ch)
	}
	c.mu.Unlock()
}

func (c *Conn) countTransfer(ch uint16) {
	c.mu.Lock()
	if w := c.sessions[ch]; w != nil {
		w.nextOut++
	}
	c.mu.Unlock()
}

// goBlocked reports whether go-amqp has used up the peer's incoming-window
// on channel ch and so waits for a flow before sending more transfers.
func (c *Conn) goBlocked(ch uint16) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.sessions[ch]
	return w != nil && w.known && int32(w.nextOut-w.limit) >= 0
}

// anyBlocked reports whether go-amqp waits for window on any session.
func (c *Conn) anyBlocked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.sessions {
		if w.known && int32(w.nextOut-w.limit) >= 0 {
			return true
		}
	}
	return false
}

// peerSessionFrame tracks a begin or flow from the peer as go-amqp gets it
// (§2.5.6), computing the window as go-amqp does; if go-amqp is left
// without window while frames of a delivery are held back, they go.
func (c *Conn) peerSessionFrame(fb []byte) {
	var fb16 [16]int
	body := fb[int(fb[4])*4:]
	code, _ := performative(body)
	f, _, ok := listFields(body, &fb16)
	if !ok {
		return
	}
	pch := binary.BigEndian.Uint16(fb[6:])
	c.mu.Lock()
	var blocked bool
	switch {
	case code == descBegin && len(f) > 2:
		ch, present := readUint(body, f[0])
		win, _ := readUint(body, f[2])
		if w := c.sessions[uint16(ch)]; present && w != nil {
			c.peerChan[pch] = uint16(ch)
			w.limit, w.known = w.nextOut+win, true
			blocked = int32(w.nextOut-w.limit) >= 0
		}
	case code == descFlow && len(f) > 1:
		ch, known := c.peerChan[pch]
		if w := c.sessions[ch]; known && w != nil {
			next, present := readUint(body, f[0])
			if !present {
				next = w.initial
			}
			win, _ := readUint(body, f[1])
			w.limit, w.known = next+win, true
			blocked = int32(w.nextOut-w.limit) >= 0
		}
	}
	c.mu.Unlock()
	if blocked {
		// Not from this goroutine: the writer may be blocked on the network
		// while the peer waits for us to read.
		go c.flushOut()
	}
}
