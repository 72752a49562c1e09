package amq

import (
	"fmt"
	"net"
	"sync/atomic"

	"github.com/amqgo/amq/internal/frametrace"
)

// connSeq numbers traced connections, so lines of concurrent connections
// can be told apart.
var connSeq atomic.Uint64

// traceConn wraps nc with the protocol frame tracer (reference chapter 11)
// when PN_TRACE_FRM=1 is set in the environment or ConnectOptions.TraceFrames
// is true. The tracer sits under the SASL layer, so SASL frames are traced
// too, with credentials redacted. Off, it costs nothing: nc is returned
// unchanged.
func (c *connectConfig) traceConn(nc net.Conn) net.Conn {
	if !c.TraceFrames && !frametrace.Enabled() {
		return nc
	}
	id := fmt.Sprintf("amq-%d", connSeq.Add(1))
	out := frametrace.StderrWriter()
	switch {
	case c.TraceOutput != nil:
		w := c.TraceOutput
		out = func(line string) { fmt.Fprintln(w, line) }
	case c.TraceToLogger:
		logger := c.logger
		out = func(line string) { logger.Debug("amq: frame", "frame", line) }
	}
	return frametrace.Wrap(nc, id, out)
}
