// Command quotatui is a terminal dashboard and local proxy for Antigravity
// quota across several Google accounts. This package only parses flags and
// wires the parts together; the logic lives in internal/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// cli is what every subcommand gets: the process's streams and environment.
type cli struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, c *cli, args []string) error
}

func commands() []command {
	return []command{
		{"", "open the live dashboard with the monitor and the proxy", runDashboard},
		{"demo", "run the dashboard, monitor and proxy against a built-in simulator", runDemo},
		{"serve", "run the proxy and the monitor without the dashboard", runServe},
		{"login", "add a Google account through the browser (OAuth)", runLogin},
		{"accounts", "list, import, export, enable, disable, label or remove accounts", runAccounts},
		{"status", "print every account's state and remaining quota once", runStatus},
		{"alerts", "send a test alert to every configured alert sink ('alerts test')", runAlerts},
		{"config", "print the effective configuration and where each value came from", runConfig},
		{"version", "print the version", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// exitError carries a specific exit status out of a subcommand.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func run(ctx context.Context, args []string, c *cli) int {
	name := ""
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		name, args = args[0], args[1:]
	}
	if name == "help" || (name == "" && len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help")) {
		usage(c.stdout)
		return 0
	}
	for _, cmd := range commands() {
		if cmd.name != name {
			continue
		}
		err := cmd.run(ctx, c, args)
		var ee *exitError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ee):
			if ee.err != nil {
				fmt.Fprintf(c.stderr, "quotatui %s: %v\n", name, ee.err)
			}
			return ee.code
		default:
			label := "quotatui"
			if name != "" {
				label += " " + name
			}
			fmt.Fprintf(c.stderr, "%s: %v\n", label, err)
			return 1
		}
	}
	fmt.Fprintf(c.stderr, "quotatui: unknown command %q\n\n", name)
	usage(c.stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: quotatui [command] [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, cmd := range commands() {
		name := cmd.name
		if name == "" {
			name = "(none)"
		}
		fmt.Fprintf(w, "  %-9s %s\n", name, cmd.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'quotatui <command> -h' for a command's flags; every setting is also a flag (see 'quotatui config').")
}

func runVersion(_ context.Context, c *cli, _ []string) error {
	fmt.Fprintln(c.stdout, "quotatui", version)
	return nil
}
