package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
)

func runServe(ctx context.Context, c *cli, args []string) error {
	fs := flag.NewFlagSet("quotatui serve", flag.ContinueOnError)
	verbose := fs.Bool("v", false, "log every request (debug level)")
	cfg, _, err := loadConfig(c, fs, args)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := newLogger(c.stderr, level)
	s, err := openStack(ctx, cfg, log, stackOptions{withProxy: true, alerts: true})
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
