package sasl

import "context"

// mechanism is the client side of one mechanism's exchange.
type mechanism interface {
	// name is the mechanism's registered name.
	name() string
	// start returns the initial response of sasl-init; nil sends none.
	start(ctx context.Context) ([]byte, error)
	// step answers a sasl-challenge.
	step(challenge []byte) ([]byte, error)
	// finish takes the additional-data of an ok outcome and fails if the
	// mechanism authenticates the server and the server did not prove
	// itself.
	finish(additional []byte) error
}

// detailer is a mechanism that learned why it failed from a challenge
// (XOAUTH2's error JSON); it becomes AuthError.Detail.
type detailer interface {
	failureDetail() string
}
