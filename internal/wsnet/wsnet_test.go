package wsnet

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// A write larger than MaxMessage arrives as binary messages of at most
// MaxMessage bytes that add up to it, so a peer that bounds its messages
// (Artemis at 64 KiB) is not sent one past its bound; reads stream the
// messages back as one sequence of bytes.
func TestWritesAreCutIntoMessages(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type result struct {
		sizes []int
		data  []byte
		err   error
	}
	got := make(chan result, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wc, err := websocket.Accept(w, r, nil)
		if err != nil {
			got <- result{err: err}
			return
		}
		defer wc.CloseNow()
		wc.SetReadLimit(MaxMessage) // a peer with a bound of its own
		var res result
		for len(res.data) < 100_000 {
			typ, b, err := wc.Read(ctx)
			if err != nil {
				res.err = err
				break
			}
			if typ != websocket.MessageBinary {
				res.err = io.ErrUnexpectedEOF
				break
			}
			res.sizes = append(res.sizes, len(b))
			res.data = append(res.data, b...)
		}
		// Echo it in one message: the client reads it as a stream.
		if res.err == nil {
			res.err = wc.Write(ctx, websocket.MessageBinary, res.data)
		}
		got <- res
		_, _, _ = wc.Read(ctx) // until the client closes
	}))
	defer srv.Close()

	wc, _, err := websocket.Dial(ctx, strings.Replace(srv.URL, "http:", "ws:", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := New(wc, nil, nil)
	defer c.Close()
	want := make([]byte, 100_000)
	for i := range want {
		want[i] = byte(i * 7)
	}
	if n, err := c.Write(want); n != len(want) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	res := <-got
	if res.err != nil {
		t.Fatal(res.err)
	}
	if !bytes.Equal(res.data, want) {
		t.Fatal("the messages do not add up to what was written")
	}
	for _, n := range res.sizes {
		if n > MaxMessage {
			t.Fatalf("a message of %d bytes (max %d): sizes %v", n, MaxMessage, res.sizes)
		}
	}
	if len(res.sizes) != (len(want)+MaxMessage-1)/MaxMessage {
		t.Errorf("%d messages: %v", len(res.sizes), res.sizes)
	}
	back := make([]byte, len(want))
	if _, err := io.ReadFull(c, back); err != nil || !bytes.Equal(back, want) {
		t.Fatalf("read back: %v", err)
	}
}
