//go:build unix

package examples_test

import (
	"os"
	"syscall"
)

// quitSignal makes a Go program print every goroutine's stack and exit.
var quitSignal os.Signal = syscall.SIGQUIT
