// Package engine is amq's AMQP 1.0 protocol engine: connection, session,
// link and delivery state, for either role, as Qpid Proton's engine is.
// Each connection has one reader goroutine, which decodes frames and
// applies them, and one writer goroutine, which writes what is queued when
// the connection is idle, merging settled dispositions into ranges as it
// goes (the meaning is known where frames are queued, so nothing is ever
// re-parsed).
//
// The role layers are thin: package server accepts connections (TLS, the
// SASL server mechanisms, a Handler that decides the links a peer
// attaches) and re-exports Conn, Link, Sender, Receiver and the delivery
// types as its own; the client runs on the same types.
//
// Frames come from internal/codec, which bounds what a peer can make us
// decode. Errors a peer causes end the narrowest scope that contains them:
// a link (amqp:link:* conditions), a session, or the connection, with the
// AMQP error sent to the peer.
package engine
