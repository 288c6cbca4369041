package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/quotatui/quotatui/internal/cmdline"
)

func serveCommand(c *cli) *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "run the proxy and the monitor without the dashboard",
		Long:  "Logs go to stderr. It stops cleanly on SIGINT, SIGTERM or SIGHUP.",
		Args:  cmdline.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runServe(cmd.Context(), c, verbose) },
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log every request too (debug level)")
	return cmd
}

func runServe(ctx context.Context, c *cli, verbose bool) error {
	cfg, _, err := loadConfig(c)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	log := newLogger(c.stderr, level)
	s, err := openStack(ctx, cfg, log, stackOptions{withProxy: true})
	if err != nil {
		return err
	}
	defer s.Close()
	log.Info("quotatui serving", "proxy", s.proxyURL(), "db", cfg.DBPath, "sync_interval", cfg.Quota.SyncInterval.String())
	fmt.Fprintf(c.stderr, "quotatui: proxy on %s; metrics at %s/metrics; stop with Ctrl-C\n", s.proxyURL(), s.proxyURL())
	err = s.run(ctx)
	log.Info("quotatui stopped")
	return err
}
