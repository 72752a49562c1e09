package amq

import "sync"

// encoded is the wire form of a message being sent. A message waiting for
// its outcome keeps it, to send it again after a reconnect; once the send
// is over nothing reads it any more (the engine copies what it writes into
// its write buffer), so the buffer goes back to encodedPool for the next
// message, and a steady stream of sends encodes without allocating.
type encoded struct{ b []byte }

var encodedPool = sync.Pool{New: func() any { return new(encoded) }}

// maxPooledEncoded is the largest buffer kept for reuse: a few big messages
// must not leave big buffers behind for every small one.
const maxPooledEncoded = 64 << 10

// newEncoded returns an empty encoding with room for at least hint bytes.
func newEncoded(hint int) *encoded {
	e := encodedPool.Get().(*encoded)
	if cap(e.b) < hint {
		e.b = make([]byte, 0, hint)
	}
	return e
}

// release gives e back for reuse. Nothing may use e or its bytes after.
func (e *encoded) release() {
	if cap(e.b) > maxPooledEncoded {
		return
	}
	e.b = e.b[:0]
	encodedPool.Put(e)
}
