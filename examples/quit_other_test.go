//go:build !unix

package examples_test

import "os"

// quitSignal: without SIGQUIT, a hung example is only killed.
var quitSignal os.Signal = os.Kill
