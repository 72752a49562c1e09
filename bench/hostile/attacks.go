package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/amqgo/amq"
	"github.com/amqgo/amq/internal/codec"
)

// outcome is what an attack observed, besides memory.
type outcome struct {
	answer string // what the server answered
	detail string // what was done and counted
	// endKiB is the RSS when the attack stopped, before its connections
	// closed (0: not measured).
	endKiB int64
}

// attack runs against a fresh target; it must close everything it opened
// before returning.
type attack struct {
	name  string
	flags func(*config) []string // extra amqbroker flags
	run   func(ctx context.Context, c *config, t *target) outcome
}

var attacks = []attack{
	{"endless", func(c *config) []string { return []string{"-max-queue-bytes", "1048576"} }, endless},
	{"selectors", nil, selectors},
	{"presockets", nil, presockets},
	{"links", nil, links},
}

func ptr[T any](v T) *T { return &v }

// endless: one connection attaches a sending link and sends a delivery
// that never ends, frames of the server's max-frame-size with more=true,
// as fast as the session window lets it, until c.endlessBytes or until the
// server detaches the link or closes the session or connection. Issue #17:
// 320 MiB took the broker from 10 MB to 992 MB.
func endless(ctx context.Context, c *config, t *target) outcome {
	p, err := dialPeer(ctx, t.addr)
	if err != nil {
		return outcome{answer: "dial: " + err.Error()}
	}
	defer p.close()
	b, err := p.begin(ctx, 0)
	if err != nil {
		return outcome{answer: "begin: " + err.Error()}
	}
	err = p.send(0, &codec.Attach{
		Name: "hostile-endless", Handle: 0, Role: codec.RoleSender,
		SndSettleMode:        ptr(codec.SenderSettleModeUnsettled),
		Source:               &codec.Source{Address: "hostile"},
		Target:               &codec.Target{Address: "hostile-endless"},
		InitialDeliveryCount: ptr(uint32(0)),
	}, nil)
	if err != nil {
		return outcome{answer: "attach: " + err.Error()}
	}

	// The session window (§2.5.6): the server takes transfer ids below
	// nextIn+window; its begin and flows move both.
	var (
		nextOut  uint32
		windowTo = b.IncomingWindow // nextIn starts at our next-outgoing-id, 0
		credit   uint32
		answer   string
	)
	handle := func(f codec.Frame) {
		switch v := f.Body.(type) {
		case *codec.Flow:
			nextIn := uint32(0)
			if v.NextIncomingID != nil {
				nextIn = *v.NextIncomingID
			}
			windowTo = nextIn + v.IncomingWindow
			if v.Handle != nil && *v.Handle == 0 && v.LinkCredit != nil {
				credit = *v.LinkCredit
			}
		case *codec.Detach:
			answer = "detach: " + condition(v.Error)
		}
	}
	for credit == 0 && answer == "" {
		f, err := p.next(ctx)
		if err != nil {
			return outcome{answer: "before any credit: " + describe(err)}
		}
		handle(f)
	}
	if answer != "" {
		return outcome{answer: "attach refused, " + answer}
	}

	frame := p.maxFrame()
	if frame > 64<<10 {
		frame = 64 << 10
	}
	payload := make([]byte, frame-64) // room for the frame header and the transfer
	// The first frame opens a data section (§3.2.6) as long as the whole
	// delivery, so that what arrives is a well-formed message that is
	// merely too large.
	first := slices.Clone(payload)
	first[0], first[1], first[2], first[3] = 0x00, 0x53, 0x75, 0xb0
	binary.BigEndian.PutUint32(first[4:], uint32(min(c.endlessBytes-8, 1<<32-1)))

	start := time.Now()
	var sent int64
	var sendErr error
	for sent < c.endlessBytes && answer == "" {
		// Take what the server said without waiting.
	drain:
		for {
			select {
			case f, ok := <-p.frames:
				if !ok {
					sendErr = p.lost(ctx)
					break drain
				}
				if cl, ok := f.Body.(*codec.Close); ok {
					answer = "close: " + condition(cl.Error)
				} else if e, ok := f.Body.(*codec.End); ok {
					answer = "end: " + condition(e.Error)
				}
				handle(f)
			default:
				break drain
			}
		}
		if sendErr != nil || answer != "" {
			break
		}
		if int32(windowTo-nextOut) <= 0 {
			f, err := p.next(ctx)
			if err != nil {
				sendErr = err
				break
			}
			handle(f)
			continue
		}
		tr := &codec.Transfer{Handle: 0, More: true}
		body := payload
		if sent == 0 {
			tr.DeliveryID, tr.DeliveryTag, tr.MessageFormat = ptr(uint32(0)), []byte("endless"), ptr(uint32(0))
			body = first
		}
		if err := p.send(0, tr, body); err != nil {
			sendErr = err
			break
		}
		nextOut++
		sent += int64(len(body))
	}
	took := time.Since(start)
	if answer == "" && sendErr == nil {
		// Everything sent: give the server what is in the socket buffers.
		wait(ctx, 500*time.Millisecond)
	late:
		for {
			select {
			case f, ok := <-p.frames:
				if !ok {
					break late
				}
				handle(f)
			default:
				break late
			}
		}
	}
	o := outcome{detail: fmt.Sprintf("sent %s in %.1f s (frames of %d B)", mib(sent), took.Seconds(), frame)}
	if rss, _, err := t.memory(); err == nil {
		o.endKiB = rss
	}
	switch {
	case answer != "":
		o.answer = answer
	case sendErr != nil:
		o.answer = describe(cause(ctx, sendErr))
	default:
		o.answer = fmt.Sprintf("nothing: all %s taken", mib(sent))
	}
	return o
}

// selectors: c.selectorConns connections each attach c.selectorAttaches
// receiving links whose source carries a JMS selector c.selectorDepth
// parentheses deep. Issue #17: 16 × 3 of 32,600 took RSS from 9 to 766 MB.
func selectors(ctx context.Context, c *config, t *target) outcome {
	sel := strings.Repeat("(", c.selectorDepth) + "a = 1" + strings.Repeat(")", c.selectorDepth)
	filter := codec.Map{{
		// Qpid JMS's name; the broker looks at the descriptor,
		// apache.org:selector-filter:string.
		Key:   codec.Symbol("jms-selector"),
		Value: codec.Described{Descriptor: uint64(0x0000468C00000004), Value: sel},
	}}
	var (
		mu       sync.Mutex
		answers  = map[string]int{}
		attached int
		wg       sync.WaitGroup
	)
	tally := func(s string) {
		mu.Lock()
		answers[s]++
		mu.Unlock()
	}
	for i := range c.selectorConns {
		wg.Go(func() {
			p, err := dialPeer(ctx, t.addr)
			if err != nil {
				tally("dial: " + describe(err))
				return
			}
			defer p.close()
			if _, err := p.begin(ctx, 0); err != nil {
				tally("begin: " + describe(err))
				return
			}
			for h := range c.selectorAttaches {
				a := &codec.Attach{
					Name: fmt.Sprintf("hostile-selector-%d-%d", i, h), Handle: uint32(h), Role: codec.RoleReceiver,
					Source: &codec.Source{Address: "hostile-selectors", Filter: filter},
					Target: &codec.Target{},
				}
				if h == 0 && i == 0 {
					if b, err := codec.AppendFrame(nil, codec.Frame{Type: codec.FrameAMQP, Body: a}); err == nil && len(b) > p.maxFrame() {
						tally(fmt.Sprintf("not sent: the attach is %d B, over the server's max-frame-size %d", len(b), p.maxFrame()))
					}
				}
				if err := p.send(0, a, nil); err != nil {
					tally("attach: " + describe(err))
					return
				}
			}
			// Each attach gets the server's attach, then a detach when
			// refused. Wait for every answer, and for a detach until 2 s
			// after the last attach.
			got, refused := map[uint32]bool{}, map[uint32]bool{}
			var settleAt time.Time
			for len(refused) < c.selectorAttaches {
				rctx, cancel := ctx, context.CancelFunc(func() {})
				if !settleAt.IsZero() {
					rctx, cancel = context.WithDeadline(ctx, settleAt)
				}
				f, err := p.next(rctx)
				cancel()
				if err != nil {
					if ctx.Err() != nil || settleAt.IsZero() || rctx.Err() == nil {
						tally("connection: " + describe(err))
					}
					break
				}
				switch v := f.Body.(type) {
				case *codec.Attach:
					got[v.Handle] = true
					if len(got) == c.selectorAttaches && settleAt.IsZero() {
						settleAt = time.Now().Add(2 * time.Second)
					}
				case *codec.Detach:
					refused[v.Handle] = true
					tally("detach: " + condition(v.Error))
				}
			}
			n := 0
			for h := range got {
				if !refused[h] {
					n++
				}
			}
			mu.Lock()
			attached += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if attached > 0 {
		answers["attached (selector taken)"] += attached
	}
	o := outcome{detail: fmt.Sprintf("%d connections × %d attaches, selector %d deep (%s)", c.selectorConns, c.selectorAttaches, c.selectorDepth, kib(int64(len(sel))))}
	if rss, _, err := t.memory(); err == nil {
		o.endKiB = rss
	}
	o.answer = tallyString(answers)
	return o
}

// presockets: c.presockets TCP connections that send nothing, then a
// legitimate client tries to connect and send, every 2 s until it gets
// through or the attack's deadline. Issue #17: 1,100 such sockets locked
// legitimate clients out (accept4: too many open files).
func presockets(ctx context.Context, c *config, t *target) outcome {
	var conns []net.Conn
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	var dialErrs int
	for range c.presockets {
		d := net.Dialer{Timeout: 2 * time.Second}
		nc, err := d.DialContext(ctx, "tcp", t.addr)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			dialErrs++
			continue
		}
		conns = append(conns, nc)
	}
	wait(ctx, time.Second)
	_, held := t.sockets()

	start := time.Now()
	var first, last error
	attempts := 0
	var through time.Duration = -1
	for ctx.Err() == nil {
		attempts++
		err := legit(ctx, t.url)
		if attempts == 1 {
			first = err
		}
		last = err
		if err == nil {
			through = time.Since(start)
			break
		}
		wait(ctx, 2*time.Second)
	}
	_, heldEnd := t.sockets()
	o := outcome{detail: fmt.Sprintf("%d idle sockets opened (%d dials failed); broker held %d sockets after 1 s, %d at the end; nofile limit %s; %d 'too many open files' lines logged",
		len(conns), dialErrs, held, heldEnd, t.nofileLimit(), t.log.emfile())}
	if rss, _, err := t.memory(); err == nil {
		o.endKiB = rss
	}
	switch {
	case first == nil:
		o.answer = "legit client got through at once"
	case through >= 0:
		o.answer = fmt.Sprintf("legit client locked out (%s), got through after %.0f s (%d attempts)", short(first), through.Seconds(), attempts)
	default:
		o.answer = fmt.Sprintf("legit client locked out for the whole %d attempts: %s", attempts, short(last))
	}
	return o
}

// legit connects with the amq client and sends one message, within 3 s
// for each.
func legit(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 6*time.Second)
	defer cancel()
	cl, err := amq.Dial(ctx, url, &amq.ConnectOptions{ConnectTimeout: 3 * time.Second, CloseTimeout: time.Second, Reconnect: amq.NoReconnect})
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer cl.Close()
	sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
	defer scancel()
	if err := cl.Send(sctx, amq.NewMessage("legit").SetTo("hostile-legit")); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

// links: one connection attaches receiving links, sessions of up to
// handle-max+1 (at most 1024) each, until one is refused, the connection
// closes or c.links are attached. Issue #17: 51,200 links, 102,410
// goroutines and +500 MB.
func links(ctx context.Context, c *config, t *target) outcome {
	p, err := dialPeer(ctx, t.addr)
	if err != nil {
		return outcome{answer: "dial: " + describe(err)}
	}
	defer p.close()
	channelMax := 65535
	if p.open.ChannelMax != nil {
		channelMax = int(*p.open.ChannelMax)
	}
	const inFlight = 256
	var (
		sent, answered, refused, sessions int
		answer                            string
		stopErr                           error
	)
	handle := func(f codec.Frame) {
		switch v := f.Body.(type) {
		case *codec.Attach:
			answered++
		case *codec.Detach:
			refused++
			if answer == "" {
				answer = fmt.Sprintf("refused at link %d: detach: %s", answered-refused+1, condition(v.Error))
			}
		}
	}
	start := time.Now()
sessionLoop:
	for ch := 0; ch <= channelMax && sent < c.links && answer == ""; ch++ {
		b, err := p.begin(ctx, uint16(ch))
		if err != nil {
			stopErr = err
			break
		}
		sessions++
		perSession := 1024
		if b.HandleMax != nil && int64(*b.HandleMax)+1 < int64(perSession) {
			perSession = int(*b.HandleMax) + 1
		}
		perSession = min(perSession, c.links-sent)
		for h := 0; h < perSession && answer == ""; h++ {
			for sent-answered >= inFlight && answer == "" {
				f, err := p.next(ctx)
				if err != nil {
					stopErr = err
					break sessionLoop
				}
				handle(f)
			}
			if answer != "" {
				break
			}
			err := p.send(uint16(ch), &codec.Attach{
				Name: fmt.Sprintf("hostile-link-%d", sent), Handle: uint32(h), Role: codec.RoleReceiver,
				Source: &codec.Source{Address: "hostile-links"}, Target: &codec.Target{},
			}, nil)
			if err != nil {
				stopErr = err
				break sessionLoop
			}
			sent++
		}
		// Every answer of this session before the next begins.
		for answered < sent && answer == "" {
			f, err := p.next(ctx)
			if err != nil {
				stopErr = err
				break sessionLoop
			}
			handle(f)
		}
	}
	took := time.Since(start)
	// Late answers: a refusal of what was in flight, a close.
	if stopErr == nil {
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		for {
			f, err := p.next(dctx)
			if err != nil {
				if ctx.Err() != nil || dctx.Err() == nil {
					stopErr = err
				}
				break
			}
			handle(f)
		}
		cancel()
	}
	attached := answered - refused
	o := outcome{detail: fmt.Sprintf("%d links attached on %d sessions in %.2f s (%d attaches sent, %d refused)", attached, sessions, took.Seconds(), sent, refused)}
	if rss, _, err := t.memory(); err == nil {
		o.endKiB = rss
	}
	switch {
	case answer != "" && stopErr != nil:
		o.answer = answer + "; then " + describe(cause(ctx, stopErr))
	case answer != "":
		o.answer = answer
	case stopErr != nil:
		o.answer = describe(cause(ctx, stopErr))
	default:
		o.answer = fmt.Sprintf("nothing: all %d attached", attached)
	}
	return o
}

// cause is ctx's error when ctx has ended (a write then fails on the
// socket its end closed), err otherwise.
func cause(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// describe names an error for the table: the server's close or end, a
// lost connection, the attack's deadline.
func describe(err error) string {
	if ce, ok := isClosed(err); ok {
		return ce.Error()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer before the deadline"
	case errors.Is(err, context.Canceled):
		return "stopped (RSS limit, broker gone or interrupted)"
	}
	return short(err)
}

func short(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 140 {
		s = s[:140] + "…"
	}
	return s
}

func tallyString(m map[string]int) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d× %s", m[k], k))
	}
	if len(parts) == 0 {
		return "no answer"
	}
	return strings.Join(parts, "; ")
}

// wait sleeps d or until ctx ends.
func wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
