// Package typefix lets go-amqp v1.7 carry the AMQP types it cannot decode
// or encode: char (0x73) and decimal32/64/128 (0x74, 0x84, 0x94), arrays of
// lists, arrays, described values or nulls, and values described by AMQP's
// own descriptors. go-amqp's decoder answers "not implemented" and detaches
// the receiving link with amqp:internal-error, so one such message from a
// Proton or JMS sender stops a Go consumer for good (the broker redelivers
// it). It also keeps the type of symbol values, which go-amqp hands out as
// strings, and gives described values and arrays of ubyte exported types
// (Described, Array) in place of go-amqp's internal ones. It also lets
// go-amqp survive a peer's non-closing detach, which it cannot take
// (detach.go). go-amqp is not forked: the fix sits in the net.Conn under
// it.
//
// # Wiring
//
// Wrap the connection go-amqp is given, after the SASL exchange (or before
// it: protocol headers and SASL frames pass through), under the frame
// tracer if the tracer is to show what go-amqp sees:
//
//	nc = typefix.Wrap(nc)
//	conn, err := amqp.NewConn(ctx, nc, opts)
//
// When converting a received go-amqp message, pass every value (body,
// sequence, application-properties values, annotations, footer,
// message-id, correlation-id) through Restore. When sending, pass every
// value through ToWire before giving the message to go-amqp.
//
// # Placeholders
//
// A placeholder is a described value with a symbol descriptor in the
// reserved "amq:" namespace and a value go-amqp decodes and encodes:
//
//	char                 amq:char:v1              uint: the code point
//	decimal32            amq:decimal32:v1         uint: the 4 bytes, big-endian
//	decimal64            amq:decimal64:v1         ulong: the 8 bytes, big-endian
//	decimal128           amq:decimal128:v1        string: 32 hex digits
//	array of char        amq:char-array:v1        string: 8 hex digits per element
//	array of decimal32   amq:decimal32-array:v1   string: 8 hex digits per element
//	array of decimal64   amq:decimal64-array:v1   string: 16 hex digits per element
//	array of decimal128  amq:decimal128-array:v1  string: 32 hex digits per element
//	symbol               amq:sym                  the symbol itself
//	anything else        amq:raw:v1               string: the value's AMQP encoding in hex
//
// Incoming, "amq:sym" wraps symbols in value positions (not map keys, not
// in the header and properties sections, whose fields go-amqp decodes
// itself) and "amq:raw:v1" the arrays go-amqp has no decoder for and the
// values described by AMQP's own descriptors (domain 0, ids below 256);
// Restore decodes a raw placeholder with the project's codec. Outgoing,
// ToWire sends an Array as a raw placeholder and a Described as go-amqp's
// own described value.
//
// The mapping is lossless both ways. Every placeholder value is hashable:
// go-amqp builds Go maps from AMQP maps, and a placeholder may be a key;
// a described value holding a []byte key makes go-amqp v1.7 panic (see
// TestWhyNotBinary), hence strings of hex digits rather than binary.
// go-amqp returns a placeholder as its internal encoding.DescribedType (by
// value; descriptor decoded as a string); Restore recognises it by
// reflection. go-amqp exports no described type to encode either; the one
// exported constructor of one, amqp.NewLinkFilter, builds the values
// Placeholder returns.
//
// # The rewriting
//
// Incoming transfers whose message contains any of those values anywhere
// (including inside lists, maps, arrays of maps and described values) are
// re-encoded with placeholders; outgoing transfers carrying placeholders
// are re-encoded with the real types. Only the affected values and the
// sizes of their enclosing lists, maps and arrays change (an 8-bit list or
// map that outgrows 8 bits becomes 32-bit); every other byte is kept. The
// detection walks the encoding structurally, skipping strings and binaries
// by their length, so it has no false positives and allocates nothing: a
// transfer without those types passes unchanged (about 110 ns for a
// 100-byte message). An array go-amqp cannot decode travels whole in a
// raw placeholder, whatever it contains.
//
// A session counts transfer frames (§2.5.6), so a delivery keeps its
// number of frames: the frames of a multi-frame delivery are held back
// until its last one, the payload is rewritten and split again over the
// same frames, each keeping its own header and performative (handle,
// delivery-id, tag, more, settled...). Frames are never reordered: while a
// delivery is held, everything after it waits too. Holding is bounded
// (Options) and stops, passing the frames on as they are, as soon as the
// sender would wait for the receiver: outgoing, when go-amqp has used up
// the session window the peer granted (tracked from begin, flow and
// transfer frames, as go-amqp computes it); incoming, before 2000 frames,
// below the 2500 after which go-amqp renews its fixed window of 5000. A
// delivery that was aborted, has another message format, or ends with a
// detach, end or close passes unchanged. A frame that cannot be parsed
// passes unchanged; bytes that are not frames end the rewriting for that
// direction.
//
// # Frame-size headroom
//
// Placeholders are larger than what they replace, so the Conn announces to
// the peer a max-frame-size of 1/8 (HeadroomFactor) of go-amqp's, never
// below 512. That is enough: every rewritten byte grows at most 7 times
// — the worst case is an empty decimal128 array, 4 bytes (e0 02 00 94)
// becoming 28 (00 a3 17 "amq:decimal128-array:v1" a1 00); a char grows
// 5 → 19 bytes, a decimal32 5 → 24, a decimal64 9 → 28, a decimal128
// 17 → 54; an empty symbol 2 → 12 (hence the short "amq:sym"); a raw
// value of n >= 4 bytes to 2n+15; a list or map header widened from 8 to
// 32 bits grows 3 → 9 —
// and every other byte is kept (TestGrowthBound checks each case). A
// peer frame holds at most M/8 bytes (M: go-amqp's max-frame-size)
// including its header and performative of h bytes, so its payload
// p <= M/8 - h becomes at most 7p <= 7M/8 - 7h <= M - h, which is what
// the same frame may carry for go-amqp. The rewritten payload of a
// delivery thus fits in its frames, whatever their split.
// (If go-amqp's max-frame-size is below 4096, 512 is announced and this no
// longer holds; a delivery that does not fit passes unchanged.)
// Placeholders are always larger than the real encodings, so outgoing
// frames only shrink and the peer's max-frame-size is kept.
package typefix
