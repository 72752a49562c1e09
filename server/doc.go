// Package server is the accepting side of AMQP 1.0: a listener, and for
// every connection the protocol header and TLS negotiation, the SASL server
// (ANONYMOUS, PLAIN, SCRAM-SHA-1/256/512, EXTERNAL), the open/begin/attach
// state machines, flow control, transfer reassembly and settlement. What
// the server does with links and messages is left to a Handler: the
// in-memory broker (package broker) is one, a test double is another.
//
// The connection, session and link machinery is amq's protocol engine,
// the one the client runs on too: Conn, Link, Sender, Receiver,
// IncomingDelivery and OutgoingDelivery are its types, named here. This
// package adds the listener, the SASL mechanisms and the Handler.
//
// # Writing a server
//
//	srv, err := server.Listen("amqp://127.0.0.1:0", &server.Options{
//		AllowAnonymous: true,
//		Handler: server.HandlerFuncs{
//			ServeReceiverFunc: func(ctx context.Context, r *server.Receiver) {
//				for {
//					d, err := r.Receive(ctx)
//					if err != nil {
//						return // link detached
//					}
//					msg, _ := d.Message()
//					log.Println(r.Link().Address(), msg.Value)
//					d.Accept()
//				}
//			},
//		},
//	})
//	defer srv.Close()
//	fmt.Println(srv.URL()) // amqp://127.0.0.1:PORT
//
// # Authentication
//
// Options.Credentials holds the users of PLAIN and SCRAM-SHA-*, as SCRAM
// keys, not passwords. The server does not reveal which user names exist:
// SCRAM answers an unknown name with a salt (derived from the name and a
// random secret of the store, so the same each time it is asked) and the
// iteration count of real users, and fails it at the proof, with the same
// outcome as a wrong password; PLAIN derives and compares the same keys for
// an unknown name as for a known one. Against password guessing, failed
// authentications are counted by peer address: beyond
// Options.AuthFailureLimit, the answer to each further failure is held
// back, longer each time up to Options.AuthFailureMaxDelay (successes never
// are), in a table of bounded size. Every failure is logged at Warn with
// the mechanism, the user name and the address; passwords and SASL
// responses are never logged.
//
// # Concurrency
//
// Each connection has one reader goroutine, which decodes frames and keeps
// the session and link state, and one writer goroutine, which writes frames
// in the order they were produced and sends heartbeats. Connections share
// no lock. Handler.Attach runs on the reader goroutine; every link then gets
// its own goroutine running ServeSender or ServeReceiver, whose context ends
// when the link detaches. The server answers the peer's detach (and its
// session end) once that function has returned, so a peer that has the
// answer knows the handler let go of the link. Sender.Send blocks until
// the peer grants credit; Receiver.Receive blocks until a message is
// complete.
//
// # Flow control
//
// On links where the server receives, credit is granted automatically: a
// window of Options.CreditWindow (per link: Link.SetCreditWindow) is kept
// outstanding, refilled as the handler takes messages from Receive, so a
// slow handler slows its peer down instead of buffering without bound.
// Link.SetCreditWindow(0) hands credit to the handler (Receiver.IssueCredit).
// On links where the server sends, the peer's credit is honoured exactly,
// and a drain request is answered by Sender.Drained (HandlerFuncs' default
// sender does it at once).
//
// # Errors
//
// A peer that breaks the protocol loses its connection, session or link,
// with the AMQP error the specification names (amqp:connection:framing-error,
// amqp:decode-error, amqp:session:unattached-handle, amqp:not-allowed,
// amqp:link:message-size-exceeded, ...); every other connection carries on.
// A connection silent for longer than Options.IdleTimeout is closed with
// amqp:resource-limit-exceeded.
package server
