package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/quotatui/quotatui/internal/cmdline"
	"github.com/quotatui/quotatui/internal/config"
)

func serveCommand(c *cli) *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "run the proxy and the monitor without the dashboard",
		Long: "Logs go to stderr, or to the log file when log_file is set (--log-file, QUOTATUI_LOG_FILE\n" +
			"or the config file). It stops cleanly on SIGINT, SIGTERM or SIGHUP.",
		Args: cmdline.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd.Context(), c, verbose) },
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log every request too (debug level)")
	return cmd
}

func runServe(ctx context.Context, c *cli, verbose bool) error {
	tuneLongRunningGC(c)
	cfg, src, err := loadConfig(c)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	// A service's logs go to stderr (the journal) unless a log file was
	// asked for; the default path is the dashboard's, which owns the
	// terminal.
	log := newLogger(c.stderr, level)
	if src.Of("log_file").Layer != config.LayerDefault {
		var closer io.Closer
		if log, closer, err = openLog(cfg.LogFile, level); err != nil {
			return err
		}
		defer closer.Close()
	}
	s, err := openStack(ctx, cfg, log, stackOptions{withProxy: true, alerts: true})
	if err != nil {
		return err
	}
	defer s.Close()
	listenStatus(c, s, "serve")
	log.Info("quotatui serving", "proxy", s.proxyURL(), "db", shownDB(cfg.DBPath), "backend", s.store.Backend(), "sync_interval", cfg.Quota.SyncInterval.String(),
		"routing_policy", s.quota.Policy().String())
	fmt.Fprintf(c.stderr, "quotatui: proxy on %s; metrics at %s/metrics; stop with Ctrl-C\n", s.proxyURL(), s.proxyURL())
	err = s.run(ctx)
	log.Info("quotatui stopped")
	return err
}
