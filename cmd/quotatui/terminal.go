package main

import (
	"fmt"
	"os"

	"github.com/charmbracelet/x/term"
)

// isTerminal reports whether a stream of the process is a terminal. A
// character device is not enough: /dev/null is one.
func isTerminal(stream any) bool {
	f, ok := stream.(*os.File)
	return ok && term.IsTerminal(f.Fd())
}

// needTerminal returns an error saying what to run instead when stdin or
// stdout is not a terminal: the dashboard would otherwise draw into a file
// and wait for a key that cannot come, or fail deep in the TUI library.
func needTerminal(c *cli, what string) error {
	var missing string
	switch {
	case !isTerminal(c.stdin) && !isTerminal(c.stdout):
		missing = "neither stdin nor stdout is one"
	case !isTerminal(c.stdin):
		missing = "stdin is not one"
	case !isTerminal(c.stdout):
		missing = "stdout is not one"
	default:
		return nil
	}
	return fmt.Errorf("%s needs a terminal, and %s; for headless runs use 'quotatui serve' "+
		"(the proxy and the monitor, logging to stderr)", what, missing)
}
