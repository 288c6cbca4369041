// Command quotatui is a terminal dashboard and local proxy for Antigravity
// quota across several Google accounts. This package only declares the
// commands and wires the parts together; the logic lives in internal/, and
// the command-line conventions (help, usage errors, exit statuses) in
// internal/cmdline. Each command group has its own file.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/quotatui/quotatui/internal/cmdline"
	"github.com/quotatui/quotatui/internal/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// cli is what every command gets: the process's streams and environment,
// and the settings' flags, which the root command owns.
type cli struct {
	stdin    io.Reader
	stdout   io.Writer
	stderr   io.Writer
	getenv   func(string) string
	settings *config.Flags
	// process is set when the command is the whole process (main), not a
	// test's in-process run: status may then tune the process's garbage
	// collector for a one-shot answer (status.go).
	process bool
}

func main() {
	// SIGHUP too: closing the terminal must clean up like Ctrl-C does (the
	// demo's temporary directory, the proxy's listener, the store).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := run(ctx, os.Args[1:], &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, process: true})
	stop()
	os.Exit(code)
}

// run runs quotatui with args and returns its exit status.
func run(ctx context.Context, args []string, c *cli) int {
	return cmdline.Execute(ctx, newRoot(c), args, c.stdout, c.stderr)
}

// newRoot builds the command tree. The root command is the dashboard;
// every command takes every setting as a flag.
func newRoot(c *cli) *cobra.Command {
	root := &cobra.Command{
		Use:   "quotatui [command]",
		Short: "open the live dashboard with the monitor and the proxy",
		Long: "With no command, quotatui runs the dashboard, the background monitor and the proxy in one\n" +
			"process, in the terminal (use 'quotatui serve' where there is none).",
		RunE: func(cmd *cobra.Command, _ []string) error { return runDashboard(cmd.Context(), c) },
	}
	c.settings = cmdline.AddSettings(root.PersistentFlags())
	root.AddCommand(
		demoCommand(c),
		serveCommand(c),
		loginCommand(c),
		accountsCommand(c),
		statusCommand(c),
		usageCommand(c),
		alertsCommand(c),
		configCommand(c),
		versionCommand(c),
	)
	cmdline.Prepare(root, cmdline.VersionText(version))
	return root
}

// loadConfig returns the effective configuration from the settings'
// flags, the environment, the config file and the defaults.
func loadConfig(c *cli) (config.Config, config.Sources, error) {
	cfg, src, err := config.Resolve(c.settings, c.getenv)
	if err == nil {
		warnSecretFlags(c.stderr, src)
	}
	return cfg, src, err
}
