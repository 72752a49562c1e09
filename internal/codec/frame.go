package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Frame types (§2.3).
const (
	FrameAMQP uint8 = 0
	FrameSASL uint8 = 1
)

// Protocol headers (§2.2, §5.2, §5.3): "AMQP", protocol id, major 1, minor 0, revision 0.
var (
	ProtoAMQP = [8]byte{'A', 'M', 'Q', 'P', ProtoIDAMQP, 1, 0, 0}
	ProtoTLS  = [8]byte{'A', 'M', 'Q', 'P', ProtoIDTLS, 1, 0, 0}
	ProtoSASL = [8]byte{'A', 'M', 'Q', 'P', ProtoIDSASL, 1, 0, 0}
)

// Protocol ids of the protocol headers.
const (
	ProtoIDAMQP uint8 = 0
	ProtoIDTLS  uint8 = 2
	ProtoIDSASL uint8 = 3
)

// ReadProtoHeader reads an 8-byte protocol header and returns its protocol
// id (ProtoIDAMQP, ProtoIDTLS or ProtoIDSASL). Anything else, including
// another version, is a *ProtoHeaderError; a short read is
// io.ErrUnexpectedEOF (io.EOF if nothing was read).
func ReadProtoHeader(r io.Reader) (id uint8, err error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, err
	}
	switch h {
	case ProtoAMQP, ProtoTLS, ProtoSASL:
		return h[4], nil
	}
	return 0, &ProtoHeaderError{Header: h}
}

// MinMaxFrameSize is the smallest max-frame-size a peer may announce (§2.7.1).
const MinMaxFrameSize = 512

// Frame is one AMQP or SASL frame (§2.3).
type Frame struct {
	// Type is FrameAMQP or FrameSASL.
	Type uint8
	// Channel is the session channel (AMQP frames; 0 for SASL).
	Channel uint16
	// Body is the performative; nil is an empty (heartbeat) frame.
	Body Performative
	// Payload is what follows a Transfer performative: the message bytes,
	// or a part of them. It must be empty for every other body.
	Payload []byte
}

const frameHeaderSize = 8

// ReadFrame reads one frame. maxFrameSize is the largest frame accepted
// (the max-frame-size this side announced; 0 means no limit). A malformed
// header (size below 8, data offset below 2 or beyond the frame, frame type
// other than AMQP or SASL, a frame larger than maxFrameSize) is a
// *FramingError, a malformed body a *DecodeError. io.EOF is returned only
// when the stream ends cleanly between frames. The extended header is
// skipped. The returned Frame does not alias any buffer of the caller.
func ReadFrame(r io.Reader, maxFrameSize uint32) (Frame, error) {
	var h [frameHeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return Frame{}, err
	}
	size := binary.BigEndian.Uint32(h[0:4])
	f, doff, err := checkFrameHeader(h, maxFrameSize)
	if err != nil {
		return f, err
	}
	rest, err := readN(r, int64(size-frameHeaderSize))
	if err != nil {
		return f, err
	}
	body := rest[doff-frameHeaderSize:]
	f.Body, f.Payload, err = DecodeFrameBody(f.Type, body)
	return f, err
}

// FrameReader reads frames as ReadFrame does, into one buffer it reuses,
// so that reading a frame makes no garbage of its own. The frames it
// returns do not alias that buffer either: decoded values are copies, and
// the payload of a transfer is copied into a slice of exactly its length
// (which a receiver may keep, a broker for instance, without pinning the
// frame around it), or with PackPayloads into a chunk shared with its
// neighbours.
type FrameReader struct {
	r      io.Reader
	max    uint32
	buf    []byte
	header [frameHeaderSize]byte
	// transfer, when not nil, is where transfers are decoded: see
	// ReuseTransfers.
	transfer *transferBox
	// packing and pack: see PackPayloads. pack is the current chunk; its
	// length is what has been handed out of it.
	packing bool
	pack    []byte
}

// PackPayloads makes the reader copy a transfer payload of at most
// MaxPackedPayload bytes into a chunk of PackChunk bytes that it shares
// with the payloads read before and after it, rather than into memory of
// its own: a stream of small messages then costs one allocation per chunk
// instead of one per message. The price is memory held: a payload kept
// alive keeps its whole chunk alive, at most PackChunk bytes, so it suits
// a client, whose application usually lets go of what it received, and
// not a broker, which keeps messages for a long time and counts their
// bytes.
func (fr *FrameReader) PackPayloads() { fr.packing = true }

// MaxPackedPayload and PackChunk: see PackPayloads.
const (
	MaxPackedPayload = 512
	PackChunk        = 4096
)

// own copies a payload out of the reused buffer.
func (fr *FrameReader) own(p []byte) []byte {
	n := len(p)
	if !fr.packing || n > MaxPackedPayload {
		return append(make([]byte, 0, n), p...)
	}
	if cap(fr.pack)-len(fr.pack) < n {
		fr.pack = make([]byte, 0, PackChunk)
	}
	at := len(fr.pack)
	fr.pack = append(fr.pack, p...)
	// Capacity ends with the payload: appending to it (the next frame of
	// the same message) must copy, not write over a neighbour.
	return fr.pack[at:len(fr.pack):len(fr.pack)]
}

// ReuseTransfers makes the reader decode every transfer, and every
// disposition, into the same memory, which saves an allocation per message
// received and per outcome: a *Transfer or *Disposition it returns, the
// delivery tag and the pointer fields in them, are then valid only until
// the next ReadFrame (a disposition's State is still the caller's). The
// payload is not affected: it is still the caller's to keep.
func (fr *FrameReader) ReuseTransfers() { fr.transfer = &transferBox{} }

// maxReusedFrame is the largest frame read into the reused buffer; a
// larger one gets a buffer of its own, so that one big message does not
// pin a big buffer for the life of the connection.
const maxReusedFrame = 64 << 10

// NewFrameReader returns a FrameReader of r accepting frames up to
// maxFrameSize bytes (0: no limit).
func NewFrameReader(r io.Reader, maxFrameSize uint32) *FrameReader {
	return &FrameReader{r: r, max: maxFrameSize}
}

// ReadFrame reads the next frame; see the package function ReadFrame for
// the errors.
func (fr *FrameReader) ReadFrame() (Frame, error) {
	h := &fr.header // a local array would escape to the heap through io.Reader
	if _, err := io.ReadFull(fr.r, h[:]); err != nil {
		return Frame{}, err
	}
	size := binary.BigEndian.Uint32(h[0:4])
	f, doff, err := checkFrameHeader(*h, fr.max)
	if err != nil {
		return f, err
	}
	n := int64(size - frameHeaderSize)
	if n > maxReusedFrame {
		rest, err := readN(fr.r, n)
		if err != nil {
			return f, err
		}
		f.Body, f.Payload, err = decodeFrameBody(f.Type, rest[doff-frameHeaderSize:], fr.transfer)
		return f, err
	}
	if int64(cap(fr.buf)) < n {
		fr.buf = make([]byte, max(n, 512))
	}
	rest := fr.buf[:n]
	if _, err := io.ReadFull(fr.r, rest); err != nil {
		return f, unexpected(err)
	}
	var payload []byte
	f.Body, payload, err = decodeFrameBody(f.Type, rest[doff-frameHeaderSize:], fr.transfer)
	if payload != nil {
		f.Payload = fr.own(payload)
	}
	return f, err
}

// checkFrameHeader validates a frame header and returns the frame's type
// and channel and its data offset in bytes.
func checkFrameHeader(h [frameHeaderSize]byte, maxFrameSize uint32) (Frame, uint32, error) {
	size := binary.BigEndian.Uint32(h[0:4])
	doff := uint32(h[4]) * 4
	f := Frame{Type: h[5], Channel: binary.BigEndian.Uint16(h[6:8])}
	switch {
	case size < frameHeaderSize:
		return f, 0, &FramingError{Reason: fmt.Sprintf("frame size %d is below 8", size)}
	case maxFrameSize != 0 && size > maxFrameSize:
		return f, 0, &FramingError{Reason: fmt.Sprintf("frame size %d exceeds max-frame-size %d", size, maxFrameSize)}
	case doff < frameHeaderSize:
		return f, 0, &FramingError{Reason: fmt.Sprintf("data offset %d is below 2", h[4])}
	case doff > size:
		return f, 0, &FramingError{Reason: fmt.Sprintf("data offset %d is beyond frame size %d", h[4], size)}
	case f.Type != FrameAMQP && f.Type != FrameSASL:
		return f, 0, &FramingError{Reason: fmt.Sprintf("unknown frame type %d", f.Type)}
	}
	return f, doff, nil
}

// readN reads exactly n bytes, growing the buffer as data arrives so that
// a large size announced by a peer costs nothing until the bytes are sent.
func readN(r io.Reader, n int64) ([]byte, error) {
	const chunk = 64 << 10
	if n <= chunk {
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, unexpected(err)
		}
		return b, nil
	}
	b := make([]byte, 0, chunk)
	for int64(len(b)) < n {
		want := min(n-int64(len(b)), chunk)
		b = append(b, make([]byte, want)...)
		if _, err := io.ReadFull(r, b[int64(len(b))-want:]); err != nil {
			return nil, unexpected(err)
		}
	}
	return b, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// DecodeFrameBody decodes the body of a frame (what follows the extended
// header) of type typ. An empty body is a heartbeat: nil, nil, nil. Only
// a Transfer may be followed by a payload; for it the payload (possibly
// empty) aliases body. Errors are *DecodeError (or *FramingError for an
// unknown frame type).
func DecodeFrameBody(typ uint8, body []byte) (Performative, []byte, error) {
	return decodeFrameBody(typ, body, nil)
}

// decodeFrameBody is DecodeFrameBody decoding a transfer into box when box
// is not nil.
func decodeFrameBody(typ uint8, body []byte, box *transferBox) (Performative, []byte, error) {
	if typ != FrameAMQP && typ != FrameSASL {
		return nil, nil, &FramingError{Reason: fmt.Sprintf("unknown frame type %d", typ)}
	}
	if len(body) == 0 {
		return nil, nil, nil
	}
	if typ == FrameAMQP && len(body) > 3 && body[0] == 0x00 && TypeCode(body[1]) == TypeSmallUlong {
		switch uint64(body[2]) {
		case DescTransfer:
			if t, payload, ok := fastTransfer(body, box); ok {
				return t, payload, nil
			}
		case DescDisposition:
			if d, ok := fastDisposition(body, box); ok {
				return d, nil, nil
			}
		}
	}
	return decodeFrameBodyGeneric(typ, body)
}

// decodeFrameBodyGeneric is DecodeFrameBody without the fast paths.
func decodeFrameBodyGeneric(typ uint8, body []byte) (Performative, []byte, error) {
	d := newDecoder(body)
	if c, _ := d.byte1(); TypeCode(c) != TypeDescribed {
		return nil, nil, &DecodeError{Offset: 0, Reason: fmt.Sprintf("frame body starts with 0x%02x, not a described performative", c)}
	}
	desc, err := d.described()
	if err != nil {
		return nil, nil, err
	}
	p, err := decodePerformative(typ, desc)
	if err != nil {
		return nil, nil, err
	}
	payload := body[d.off:]
	if _, ok := p.(*Transfer); !ok {
		if len(payload) > 0 {
			return nil, nil, &DecodeError{Offset: d.off, Reason: fmt.Sprintf("%d bytes after a performative other than transfer", len(payload))}
		}
		payload = nil
	}
	return p, payload, nil
}

// AppendFrame appends the encoding of f to dst, with a data offset of 2
// (no extended header).
func AppendFrame(dst []byte, f Frame) ([]byte, error) {
	start := len(dst)
	b := append(dst, 0, 0, 0, 0, 2, f.Type, byte(f.Channel>>8), byte(f.Channel))
	if f.Body != nil {
		if isNilPointer(f.Body) {
			return dst, errors.New("amqp codec: frame body is a nil pointer")
		}
		if f.Body.FrameType() != f.Type {
			return dst, fmt.Errorf("amqp codec: %T cannot travel in a frame of type %d", f.Body, f.Type)
		}
		var err error
		if b, err = f.Body.appendAMQP(b); err != nil {
			return dst, err
		}
		b = append(b, f.Payload...)
	} else if len(f.Payload) > 0 {
		return dst, errors.New("amqp codec: payload without a performative")
	}
	if len(f.Payload) > 0 {
		if _, ok := f.Body.(*Transfer); !ok {
			return dst, fmt.Errorf("amqp codec: payload after %T; only a transfer carries one", f.Body)
		}
	}
	size := len(b) - start
	if uint64(size) > 0xffffffff {
		return dst, errors.New("amqp codec: frame larger than 4 GiB")
	}
	binary.BigEndian.PutUint32(b[start:], uint32(size))
	return b, nil
}

// WriteFrame encodes f and writes it to w in one Write call.
func WriteFrame(w io.Writer, f Frame) error {
	b, err := AppendFrame(nil, f)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
