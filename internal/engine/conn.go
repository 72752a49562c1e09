package engine

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"sync"
	"time"

	"github.com/amqgo/amq/internal/codec"
)

const (
	// closeTimeout bounds how long a closing connection waits for the
	// peer's close frame and for the last bytes to be written.
	closeTimeout = 2 * time.Second
	// transferOverhead is room left in a frame for the frame header and an
	// encoded transfer performative with an 8-byte delivery tag.
	transferOverhead = 8 + 72
)

// Conn is one AMQP connection, in either role. Handlers reach it through
// Link.Conn.
type Conn struct {
	cfg *Config
	nc  net.Conn // the socket, or the *tls.Conn over it
	br  *bufio.Reader
	log *slog.Logger
	id  uint64

	ctx    context.Context // cancelled when the connection ends
	cancel context.CancelFunc
	done   chan struct{}

	// Set during the handshake, read-only afterwards.
	tlsState        *tls.ConnectionState
	user            string
	mechanism       string
	remoteContainer string
	remoteHostname  string
	remoteProps     codec.Map
	remoteOffered   []codec.Symbol
	remoteDesired   []codec.Symbol
	peerMaxFrame    uint32 // largest frame we may send
	channelMax      uint16 // negotiated
	peerIdle        time.Duration

	// Writer state.
	wmu   sync.Mutex
	wbuf  []byte
	wdisp accepts // the accepted range at the end of wbuf, if any
	// A widened disposition, rebuilt for every delivery it grows by: kept
	// here, since a fresh one would escape to the heap each time. sendLocked
	// encodes at once, so it is free again when sendLocked returns.
	wmerged     codec.Disposition
	wmergedLast uint32
	wsig        chan struct{} // capacity 1
	wstop       chan struct{}
	wdone       chan struct{}
	wrote       chan struct{} // made by a sender waiting for the writer (writeBacklog), closed after the next write

	client bool // we opened the connection (Dial)

	mu        sync.Mutex
	opened    bool // open exchanged, writer running
	closeSent bool
	// closeErr is the reason of a close asked for during the handshake,
	// sent once the open exchange allows it.
	closeErr  *codec.Error
	ended     bool
	err       error
	sessions  map[uint16]*Session // by the peer's channel
	localChan map[uint16]*Session // by our channel
	// settleDisp is the disposition a receiver settles one delivery with,
	// reused under mu for the reason of wmerged.
	settleDisp codec.Disposition
	// sendTransfer and the values it points to: the transfer SendRaw
	// sends, reused under mu likewise.
	sendTransfer                       codec.Transfer
	sendTransferID, sendTransferFormat uint32
}

// NewConn returns the connection of an accepted socket; Serve runs it. id
// names it in the log.
func NewConn(nc net.Conn, id uint64, cfg *Config) *Conn {
	parent := cfg.Context
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancel(parent)
	return &Conn{
		cfg:       cfg,
		nc:        nc,
		id:        id,
		log:       cfg.Logger.With("conn", id, "remote", nc.RemoteAddr().String()),
		ctx:       ctx,
		cancel:    cancel,
		done:      make(chan struct{}),
		wsig:      make(chan struct{}, 1),
		wstop:     make(chan struct{}),
		wdone:     make(chan struct{}),
		sessions:  make(map[uint16]*Session),
		localChan: make(map[uint16]*Session),
	}
}

// ContainerID returns the container-id from the peer's open.
func (c *Conn) ContainerID() string { return c.remoteContainer }

// Hostname returns the hostname from the peer's open (the virtual host it
// asked for), or "".
func (c *Conn) Hostname() string { return c.remoteHostname }

// PeerCapabilities returns the offered-capabilities and
// desired-capabilities of the peer's open (§2.7.1). A function, not a
// method, for the reason of CloseWait.
func PeerCapabilities(c *Conn) (offered, desired []codec.Symbol) {
	return c.remoteOffered, c.remoteDesired
}

// Properties returns the connection properties from the peer's open.
func (c *Conn) Properties() codec.Map { return c.remoteProps }

// User returns the identity SASL authenticated: the user name for PLAIN and
// SCRAM, the certificate's common name for EXTERNAL, "" for ANONYMOUS and
// for connections without SASL.
func (c *Conn) User() string { return c.user }

// Mechanism returns the SASL mechanism used, or "" without SASL.
func (c *Conn) Mechanism() string { return c.mechanism }

// RemoteAddr returns the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr returns the server's address of the connection.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// TLSState returns the TLS connection state, or nil on a plain connection.
func (c *Conn) TLSState() *tls.ConnectionState { return c.tlsState }

// Done returns a channel closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, once Done is closed: nil when the
// peer closed it cleanly.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection: a close frame carrying err (a *codec.Error
// as is, any other error as amqp:internal-error; nil for a clean close) is
// sent, and the socket is closed once the peer answers or after a short
// grace period. It returns without waiting; use Done for that.
func (c *Conn) Close(err error) error {
	c.closeWith(ToCodecError(err))
	return nil
}

// closeWith starts closing the connection with e.
func (c *Conn) closeWith(e *codec.Error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeWithLocked(e)
}

// closeWithLocked is closeWith with c.mu held.
func (c *Conn) closeWithLocked(e *codec.Error) {
	if c.closeSent || c.ended {
		return
	}
	c.closeSent = true
	if !c.opened {
		// Still in the handshake. Closing the socket here would lose the
		// reason when our open is already on its way (the peer sees it,
		// then EOF): interrupt a read in progress instead. The handshake
		// then fails and the teardown closes the socket, or the open
		// exchange, seeing closeSent, follows its open with our close.
		c.closeErr = e
		_ = c.nc.SetReadDeadline(time.Now())
		return
	}
	c.log.Debug("amqp connection closing", "error", e)
	_ = c.sendLocked(0, &codec.Close{Error: e}, nil)
	_ = c.nc.SetReadDeadline(time.Now().Add(closeTimeout))
}

// Serve runs an accepted connection: handshake, then the reader loop until
// the connection ends; it owns the teardown. It is counted in Config.WG
// by the caller, and calls Config.OnEnd before it returns. (A function,
// not a method: the methods of Conn are what handlers may call.)
func Serve(c *Conn) {
	defer c.cfg.wgDone()
	defer func() {
		if c.cfg.OnEnd != nil {
			c.cfg.OnEnd(c)
		}
	}()
	c.log.Debug("amqp connection accepted")
	err := c.handshake()
	if err == nil {
		if c.cfg.OnOpen != nil {
			c.cfg.OnOpen(c)
		}
		c.cfg.wgAdd()
		go c.writeLoop()
		err = c.readLoop()
	}
	c.teardown(err)
}

// readLoop reads and dispatches frames until the connection ends.
func (c *Conn) readLoop() error {
	idle := c.cfg.IdleTimeout
	frames := codec.NewFrameReader(c.br, c.cfg.MaxFrameSize)
	frames.ReuseTransfers() // dispatch keeps nothing of a transfer but copies
	if c.cfg.PackPayloads {
		frames.PackPayloads()
	}
	// The idle deadline is pushed back before reading from the socket,
	// not before every frame: frames already buffered need no read, and a
	// deadline per frame costs a timer update per message. stale bounds the
	// frames between two updates all the same.
	stale := maxFramesPerDeadline
	for {
		c.mu.Lock()
		closing := c.closeSent
		if !closing && (stale >= maxFramesPerDeadline || c.br.Buffered() == 0) {
			var dl time.Time
			if idle > 0 {
				dl = time.Now().Add(idle)
			}
			_ = c.nc.SetReadDeadline(dl)
			stale = 0
		}
		stale++
		c.mu.Unlock()

		fr, err := frames.ReadFrame()
		if err != nil {
			return c.readFailed(err, closing)
		}
		if closing {
			// After our close only the peer's close matters (§2.4.3).
			if _, ok := fr.Body.(*codec.Close); ok {
				return nil
			}
			continue
		}
		if err := c.dispatch(fr); err != nil {
			var ce *connError
			if errors.As(err, &ce) {
				c.log.Info("amqp connection error", "error", ce.e)
				c.mu.Lock()
				if c.err == nil {
					// We end it, for the peer's fault: Err must not read
					// as the peer's clean close once the peer answers.
					c.err = ce
				}
				c.closeWithLocked(ce.e)
				c.mu.Unlock()
				continue // wait for the peer's close, bounded by closeTimeout
			}
			if errors.Is(err, errPeerClosed) {
				return nil
			}
			return err
		}
	}
}

// maxFramesPerDeadline is how many frames readLoop may read between two
// updates of the idle deadline.
const maxFramesPerDeadline = 1024

// errPeerClosed ends readLoop after the peer's close was answered.
var errPeerClosed = errors.New("amqp: peer closed the connection")

// readFailed turns a read error into the end of the connection, telling the
// peer why when the stream is still usable for that.
func (c *Conn) readFailed(err error, closing bool) error {
	if closing {
		return nil
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		e := &codec.Error{Condition: codec.ErrCondResourceLimitExceeded, Description: "local-idle-timeout expired"}
		c.log.Info("amqp connection idle timeout", "timeout", c.cfg.IdleTimeout)
		c.closeWith(e)
		return fmt.Errorf("amqp: idle timeout: %w", err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return fmt.Errorf("amqp: connection lost: %w", err)
	}
	// A malformed frame: the stream cannot be trusted any further.
	c.closeWith(frameErrorCondition(err))
	return err
}

// frameErrorCondition picks the AMQP error for a codec failure.
func frameErrorCondition(err error) *codec.Error {
	var fe *codec.FramingError
	if errors.As(err, &fe) {
		return &codec.Error{Condition: codec.ErrCondFramingError, Description: fe.Reason}
	}
	var de *codec.DecodeError
	if errors.As(err, &de) {
		return &codec.Error{Condition: codec.ErrCondDecodeError, Description: de.Reason}
	}
	var ce interface{ Condition() codec.Symbol }
	if errors.As(err, &ce) {
		return &codec.Error{Condition: ce.Condition(), Description: err.Error()}
	}
	return &codec.Error{Condition: codec.ErrCondFramingError, Description: err.Error()}
}

// teardown ends everything that hangs off the connection.
func (c *Conn) teardown(cause error) {
	c.mu.Lock()
	opened := c.opened
	if c.err == nil {
		c.err = cause
	}
	linkErr := &codec.Error{Condition: codec.ErrCondConnectionForced, Description: "connection ended"}
	if cause != nil {
		linkErr.Description = cause.Error()
	}
	for _, s := range c.sessions {
		s.endLocked(linkErr)
	}
	c.ended = true
	c.mu.Unlock()
	c.cancel()
	// Done as soon as the connection is over: what follows only flushes
	// our last frames (a close) and lets the peer read them.
	close(c.done)

	if opened {
		// Let the writer flush what is queued (our close, typically).
		close(c.wstop)
		t := time.NewTimer(closeTimeout)
		select {
		case <-c.wdone:
		case <-t.C:
		}
		t.Stop()
		c.lingerClose()
		<-c.wdone
	} else {
		c.nc.Close()
	}
	if cause != nil {
		c.log.Debug("amqp connection ended", "cause", cause)
	} else {
		c.log.Debug("amqp connection ended")
	}
}

// lingerClose half-closes the socket and drains what the peer still sends
// before closing, so that the peer reads our close frame instead of a reset.
func (c *Conn) lingerClose() {
	type closeWriter interface{ CloseWrite() error }
	if cw, ok := c.nc.(closeWriter); ok {
		_ = cw.CloseWrite()
		_ = c.nc.SetReadDeadline(time.Now().Add(closeTimeout / 2))
		_, _ = io.CopyN(io.Discard, c.nc, 1<<20)
	}
	c.nc.Close()
}

// sendLocked queues a frame. c.mu must be held: the order frames are queued
// in is the order of the state changes they announce.
func (c *Conn) sendLocked(channel uint16, body codec.Performative, payload []byte) error {
	if c.ended {
		return ErrConnClosed
	}
	c.wmu.Lock()
	var buf []byte
	var err error
	if d, ok := body.(*codec.Disposition); ok && c.wdisp.extends(channel, d, len(c.wbuf)) {
		// One more accepted delivery right after the range that ends the
		// buffer: widen that disposition instead of adding a frame.
		c.wmergedLast = d.First
		c.wmerged = codec.Disposition{Role: codec.RoleReceiver, First: c.wdisp.first, Last: &c.wmergedLast, Settled: true, State: &codec.Accepted{}}
		buf, err = codec.AppendFrame(c.wbuf[:c.wdisp.at], codec.Frame{Type: codec.FrameAMQP, Channel: channel, Body: &c.wmerged})
		if err == nil {
			c.wdisp.last, c.wdisp.end = c.wmergedLast, len(buf)
		}
	} else {
		at := len(c.wbuf)
		buf, err = codec.AppendFrame(c.wbuf, codec.Frame{Type: codec.FrameAMQP, Channel: channel, Body: body, Payload: payload})
		c.wdisp = accepts{}
		if err == nil && ok && mergeable(d) {
			c.wdisp = accepts{ok: true, channel: channel, first: d.First, last: d.First, at: at, end: len(buf)}
		}
	}
	if err == nil {
		c.wbuf = buf
	}
	c.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("amqp: encoding frame: %w", err)
	}
	select {
	case c.wsig <- struct{}{}:
	default:
	}
	return nil
}

// accepts describes the last frame queued for the writer when it is a
// disposition settling deliveries first..last as accepted, the receiver's
// usual answer to each transfer. Such dispositions are merged while they
// wait for the writer: a peer then reads one frame for a run of accepted
// deliveries instead of one per delivery (§2.7.6 allows ranges).
type accepts struct {
	ok          bool
	channel     uint16
	first, last uint32
	at, end     int // the frame's bytes in wbuf
}

// mergeable reports whether d is a disposition accepts can describe: the
// receiver settling one delivery as accepted.
func mergeable(d *codec.Disposition) bool {
	if d.Role != codec.RoleReceiver || !d.Settled || d.Last != nil || d.Batchable {
		return false
	}
	_, ok := d.State.(*codec.Accepted)
	return ok
}

// extends reports whether d accepts the delivery right after the range a
// describes, on the same channel, with the range still ending the buffer.
func (a *accepts) extends(channel uint16, d *codec.Disposition, buffered int) bool {
	return a.ok && a.channel == channel && a.end == buffered && a.last != math.MaxUint32 &&
		d.First == a.last+1 && mergeable(d)
}

// writeLoop writes queued frames and heartbeats until teardown.
func (c *Conn) writeLoop() {
	defer c.cfg.wgDone()
	defer close(c.wdone)
	var tick <-chan time.Time
	half := heartbeatInterval(c.peerIdle)
	if half > 0 {
		t := time.NewTicker(half / 2)
		defer t.Stop()
		tick = t.C
	}
	lastWrite := time.Now()
	var spare []byte
	for {
		stop := false
		select {
		case <-c.wsig:
		case <-c.wstop:
			stop = true
		case now := <-tick:
			if now.Sub(lastWrite) < half {
				continue
			}
			c.wmu.Lock()
			if len(c.wbuf) == 0 {
				c.wbuf = append(c.wbuf, emptyFrame[:]...)
			}
			c.wmu.Unlock()
		}
		c.wmu.Lock()
		buf := c.wbuf
		c.wbuf = spare[:0]
		c.wdisp = accepts{}
		c.wmu.Unlock()
		if len(buf) > 0 {
			_, err := c.nc.Write(buf)
			c.wmu.Lock()
			if c.wrote != nil {
				close(c.wrote)
				c.wrote = nil
			}
			c.wmu.Unlock()
			if err != nil {
				c.nc.Close() // the reader notices and tears down
				return
			}
			lastWrite = time.Now()
		}
		spare = buf[:0]
		if cap(spare) > 1<<20 {
			spare = nil // don't pin a huge buffer after a big message
		}
		if stop {
			return
		}
	}
}

// MinHeartbeatInterval is the shortest interval between two heartbeats we
// send, whatever idle time-out the peer announces: a peer announcing 1 ms
// would otherwise have us write a thousand frames a second.
const MinHeartbeatInterval = 100 * time.Millisecond

// heartbeatInterval is how long our writer may stay silent: half the
// idle time-out the peer announced (§2.4.5), but not below
// MinHeartbeatInterval; 0 when the peer announced none.
func heartbeatInterval(peerIdle time.Duration) time.Duration {
	if peerIdle <= 0 {
		return 0
	}
	return max(peerIdle/2, MinHeartbeatInterval)
}

// maxWriteBacklog is how many encoded bytes may wait for the writer before
// Send waits for it.
const maxWriteBacklog = 1 << 20

// writeBacklog returns a channel to wait on when too much is queued for the
// writer, or nil.
func (c *Conn) writeBacklog() <-chan struct{} {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(c.wbuf) < maxWriteBacklog {
		return nil
	}
	if c.wrote == nil {
		c.wrote = make(chan struct{})
	}
	return c.wrote
}

// emptyFrame is a heartbeat: an AMQP frame with no body (§2.4.5).
var emptyFrame = [8]byte{0, 0, 0, 8, 2, 0, 0, 0}

// maxTransferPayload is the message bytes one transfer frame may carry.
func (c *Conn) maxTransferPayload() int {
	n := int(c.peerMaxFrame) - transferOverhead
	if n < 1 {
		n = 1
	}
	return n
}

// negotiate records the peer's open.
func (c *Conn) negotiate(o *codec.Open) {
	c.remoteContainer = o.ContainerID
	c.remoteHostname = o.Hostname
	c.remoteProps = o.Properties
	c.remoteOffered, c.remoteDesired = o.OfferedCapabilities, o.DesiredCapabilities
	c.peerMaxFrame = o.MaxFrameSize
	if c.peerMaxFrame == 0 {
		c.peerMaxFrame = math.MaxUint32
	}
	if c.peerMaxFrame > c.cfg.MaxFrameSize {
		c.peerMaxFrame = c.cfg.MaxFrameSize
	}
	if c.peerMaxFrame < MinMaxFrameSize {
		c.peerMaxFrame = MinMaxFrameSize
	}
	c.channelMax = c.cfg.ChannelMax
	if o.ChannelMax != nil && *o.ChannelMax < c.channelMax {
		c.channelMax = *o.ChannelMax
	}
	c.peerIdle = time.Duration(o.IdleTimeOut) * time.Millisecond
}
