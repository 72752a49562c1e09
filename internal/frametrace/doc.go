// Package frametrace logs AMQP 1.0 protocol frames, one readable line per
// frame, in the format of Qpid Proton's PN_TRACE_FRM output, which users of
// the reference client already know how to read (reference chapter 11).
//
// amq owns the net.Conn that go-amqp runs on, so tracing is a net.Conn
// wrapper: Wrap decodes every byte read and written into protocol headers
// and frames and hands each to a sink as a line such as
//
//	[c1]: -> SASL
//	[c1]: SASL:FRAME:0 <- @sasl-mechanisms(64) [sasl-server-mechanisms=@PN_SYMBOL[:ANONYMOUS, :PLAIN]]
//	[c1]: SASL:FRAME:0 -> @sasl-init(65) [mechanism=:PLAIN, initial-response=<redacted>]
//	[c1]: AMQP:FRAME:0 -> @open(16) [container-id="c1", hostname="127.0.0.1", max-frame-size=0x10000, channel-max=0x7fff]
//	[c1]: AMQP:FRAME:0 -> @transfer(20) [handle=0x0, delivery-id=0x0, delivery-tag=b"\x00\x00\x00\x00", message-format=0x0] (10) "\x00Sw\xa1\x05hello"
//	[c1]: AMQP:FRAME:0 <- @disposition(21) [role=true, first=0x0, settled=true, state=@accepted(36) []]
//	[c1]: AMQP:FRAME:0 -> (EMPTY FRAME)
//
// "->" is a frame written, "<-" one read. Field names are the
// specification's; absent (null) fields are left out; described values
// print as @name(code) [...], symbols as :sym, strings quoted, binary as
// b"...", unsigned integers in hex; a transfer's payload follows as its size
// in parentheses and its first 64 bytes, escaped.
//
// # Redaction
//
// Unlike Proton, which prints PLAIN credentials in clear, the
// initial-response of a sasl-init is printed as <redacted> for every
// mechanism but ANONYMOUS and EXTERNAL (so PLAIN passwords, XOAUTH2 tokens
// and SCRAM messages never appear), and so is every sasl-response. Bytes of
// the SASL layer that cannot be decoded are never dumped.
//
// # Robustness
//
// Tracing never changes what the connection reads or writes, never blocks
// beyond the sink, and never turns into a connection error. Each direction
// keeps its own bounded buffer: a frame larger than 256 KiB is traced from
// its first 256 KiB and the rest is passed over. When a direction stops
// making sense (a malformed frame header, an unknown protocol header) its
// buffered bytes are printed once in hex and that direction is no longer
// decoded; the connection carries on untouched.
//
// # Cost
//
// Nothing, unless the caller wraps; the caller wraps only when Enabled
// reports PN_TRACE_FRM set. When on, decoding runs on the goroutine that
// calls Read or Write.
package frametrace
