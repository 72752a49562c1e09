package engine_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqgo/amq/internal/codec"
)

// Delivery-ids follow each other within a session (§2.7.5, and Proton
// requires it): a first transfer whose delivery-id is not the session's
// next, or a continuation that names another delivery's id, ends the
// session with amqp:invalid-field. Before, three unsettled transfers all
// carrying id 9 were stored, each under the same id.
func TestDeliveryIDsInSequence(t *testing.T) {
	id := func(v uint32) *uint32 { return &v }
	msg := []byte{0x00, 0x53, 0x77, 0x40} // amqp-value null
	for _, tc := range []struct {
		name      string
		transfers []*codec.Transfer
		wantEnd   bool
		received  int // complete deliveries Receive returns before the end
	}{
		{"in sequence from any start", []*codec.Transfer{
			{DeliveryID: id(9), DeliveryTag: []byte{1}}, {DeliveryID: id(10), DeliveryTag: []byte{2}}, {DeliveryID: id(11), DeliveryTag: []byte{3}},
		}, false, 3},
		{"continuation repeats its id", []*codec.Transfer{
			{DeliveryID: id(4), DeliveryTag: []byte{1}, More: true}, {DeliveryID: id(4)}, {DeliveryID: id(5), DeliveryTag: []byte{2}},
		}, false, 2},
		{"the same id three times", []*codec.Transfer{
			{DeliveryID: id(9), DeliveryTag: []byte{1}}, {DeliveryID: id(9), DeliveryTag: []byte{2}}, {DeliveryID: id(9), DeliveryTag: []byte{3}},
		}, true, 1},
		{"a gap", []*codec.Transfer{
			{DeliveryID: id(0), DeliveryTag: []byte{1}}, {DeliveryID: id(2), DeliveryTag: []byte{2}},
		}, true, 1},
		{"continuation names another id", []*codec.Transfer{
			{DeliveryID: id(0), DeliveryTag: []byte{1}, More: true}, {DeliveryID: id(1)},
		}, true, 0},
		{"an aborted delivery takes its id", []*codec.Transfer{
			{DeliveryID: id(0), DeliveryTag: []byte{1}, Aborted: true}, {DeliveryID: id(0), DeliveryTag: []byte{2}},
		}, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ended := make(chan *codec.Error, 1)
			addr := rawListen(t, func(p *rawPeer) {
				defer close(ended)
				if _, err := p.attachedReceiver(); err != nil {
					return
				}
				for _, tr := range tc.transfers {
					var payload []byte
					if !tr.More {
						payload = msg
					} else {
						payload = msg[:2]
					}
					if tr.DeliveryID != nil && *tr.DeliveryID == 4 && tr.DeliveryTag == nil {
						payload = msg[2:] // the continuation of delivery 4
					}
					if p.send(0, tr, payload) != nil {
						return
					}
				}
				// An echo flow: its answer comes after everything above was taken.
				if p.send(0, &codec.Flow{IncomingWindow: 100, OutgoingWindow: 100, Echo: true}, nil) != nil {
					return
				}
				for {
					fr, err := p.next()
					if err != nil {
						return
					}
					switch b := fr.Body.(type) {
					case *codec.End:
						ended <- b.Error
						return
					case *codec.Flow:
						if b.Handle == nil {
							ended <- nil // the echo's answer: the session lives
							return
						}
					}
				}
			})
			c, err := dialAddr(t, addr, clientConfig())
			require.NoError(t, err)
			r := attachReceiver(t, c, 10)
			e := <-ended
			if tc.wantEnd {
				require.NotNil(t, e, "the session was not ended")
				assert.Equal(t, codec.ErrCondInvalidField, e.Condition)
			} else {
				require.Nil(t, e, "the session was ended: %v", e)
			}
			for range tc.received {
				_, err := r.Receive(testCtx(t))
				require.NoError(t, err)
			}
		})
	}
}
