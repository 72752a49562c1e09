package testsupport

import (
	"strings"
	"sync"
)

// TransferWatch is a sink for the client's frame trace (Proton's format)
// that tells when the client writes the first frame of a delivery split
// into several (a transfer with more=true), and counts the transfers with
// aborted=true it writes: a test of message abort waits for the one and
// checks the other.
type TransferWatch struct {
	firstFrame chan struct{}
	once       sync.Once

	mu      sync.Mutex
	aborted int
}

// NewTransferWatch returns a watch that has seen nothing.
func NewTransferWatch() *TransferWatch {
	return &TransferWatch{firstFrame: make(chan struct{})}
}

// Write takes one line of the trace.
func (w *TransferWatch) Write(p []byte) (int, error) {
	line := string(p)
	if strings.Contains(line, "-> @transfer(20)") {
		if strings.Contains(line, "more=true") {
			w.once.Do(func() { close(w.firstFrame) })
		}
		if strings.Contains(line, "aborted=true") {
			w.mu.Lock()
			w.aborted++
			w.mu.Unlock()
		}
	}
	return len(p), nil
}

// FirstFrame is closed once a transfer with more=true was written.
func (w *TransferWatch) FirstFrame() <-chan struct{} { return w.firstFrame }

// Aborted returns how many transfers with aborted=true were written.
func (w *TransferWatch) Aborted() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.aborted
}
