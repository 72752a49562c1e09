package engine

import "crypto/tls"

// Abort ends c as a failed network would: the socket is closed at once,
// with no close frame (and on TLS no close_notify alert), so the peer sees
// the connection drop rather than a close. c then ends as on any lost
// transport: Done is closed and Err reports the loss. (A function, not a
// method, as CloseWait.)
func Abort(c *Conn) {
	c.mu.Lock()
	nc := c.nc
	c.mu.Unlock()
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	_ = nc.Close()
}
