package frametrace

import (
	"os"
	"strings"
	"sync"
)

// EnvVar is the environment variable that switches frame tracing on, the
// one Qpid Proton reads.
const EnvVar = "PN_TRACE_FRM"

// Enabled reports whether PN_TRACE_FRM is set to 1, true or yes (in any
// case, surrounding spaces ignored).
func Enabled() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(EnvVar))) {
	case "1", "true", "yes":
		return true
	}
	return false
}

// stderrMu keeps lines written by different connections from interleaving.
var stderrMu sync.Mutex

// StderrWriter returns the default sink: it writes each line, with a
// newline, to os.Stderr (as it is at the time of the call) in one Write.
// It is safe for concurrent use; write errors are ignored.
func StderrWriter() func(line string) {
	return func(line string) {
		b := make([]byte, 0, len(line)+1)
		b = append(append(b, line...), '\n')
		stderrMu.Lock()
		defer stderrMu.Unlock()
		_, _ = os.Stderr.Write(b)
	}
}
