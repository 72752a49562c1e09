package server

import (
	"errors"
	"testing"

	amqp "github.com/Azure/go-amqp"

	"github.com/amqgo/amq/internal/codec"
)

// TestCloseRightAfterOpenKeepsReason closes connections the moment the
// client has the server's open, when the server may not yet have marked the
// connection open. The client must still read the close and its reason, not
// a bare EOF (closing the socket there lost it in about 1 run in 10).
func TestCloseRightAfterOpenKeepsReason(t *testing.T) {
	srv := startServer(t, &Options{AllowAnonymous: true})
	for i := range 100 {
		c := dial(t, srv.URL(), nil)
		srv.CloseConnections(codec.ErrCondConnectionForced, "going away")
		<-c.Done()
		var ce *amqp.ConnError
		err := c.Err()
		if !errors.As(err, &ce) || ce.RemoteErr == nil || ce.RemoteErr.Condition != amqp.ErrCondConnectionForced ||
			ce.RemoteErr.Description != "going away" {
			t.Fatalf("run %d: err = %v, want connection-forced \"going away\"", i, err)
		}
	}
}
