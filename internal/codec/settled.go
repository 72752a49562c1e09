package codec

import "encoding/binary"

// SettledDisposition is a disposition a receiver sends to settle
// deliveries First through Last of the session on Channel, with the
// outcome whose encoding is State (nil: none). Nothing answers it, so a
// client may hold it back briefly and merge it with the next one.
type SettledDisposition struct {
	Channel     uint16
	First, Last uint32
	State       []byte // aliases the parsed frame
}

// ParseSettledDisposition parses frame, which must be exactly one AMQP
// frame whose body is a disposition with role receiver and settled true,
// and no fields past the state. ok is false for anything else.
func ParseSettledDisposition(frame []byte) (d SettledDisposition, ok bool) {
	if len(frame) < 8 || frame[5] != FrameAMQP {
		return d, false
	}
	size, doff := binary.BigEndian.Uint32(frame), int(frame[4])*4
	if uint64(size) != uint64(len(frame)) || doff < 8 || doff > len(frame) {
		return d, false
	}
	body := frame[doff:]
	r, end := fastFields(body, byte(DescDisposition))
	if !r.ok || end != len(body) || r.n < 4 || r.n > 5 || r.next() != TypeTrue { // role: receiver
		return d, false
	}
	var first bool
	if d.First, first = r.uint(); !first {
		return d, false
	}
	last, hasLast := r.uint()
	if !r.boolean() || !r.ok {
		return d, false
	}
	d.Last = d.First
	if hasLast {
		d.Last = last
	}
	if r.n == 1 { // the state is the last field: its encoding is the rest
		d.State, r.n, r.off = r.b[r.off:], 0, len(r.b)
		if len(d.State) == 0 {
			return d, false
		}
	}
	if !r.done() {
		return d, false
	}
	d.Channel = binary.BigEndian.Uint16(frame[6:])
	return d, true
}

// AppendSettledDisposition appends d encoded as one AMQP frame.
func AppendSettledDisposition(b []byte, d SettledDisposition) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 2, FrameAMQP, byte(d.Channel>>8), byte(d.Channel))
	b = append(b, 0x00, byte(TypeSmallUlong), byte(DescDisposition))
	b, list := beginCompound(b)
	b = append(b, byte(TypeTrue)) // role: receiver
	b = appendUint(b, d.First)
	b = appendUint(b, d.Last)
	b = append(b, byte(TypeTrue)) // settled
	list.count = 4
	if len(d.State) > 0 {
		b = append(b, d.State...)
		list.count++
	}
	b = list.finish(b, len(b), TypeList8, TypeList32, false)
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}
