package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/quotatui/quotatui/internal/alert"
	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/config"
	"github.com/quotatui/quotatui/internal/quota"
)

const alertsUsage = `usage: quotatui alerts test [flags]

Sends one sample alert (kind "test") to every configured sink (desktop,
webhook, command), whatever its event filter, and prints each sink's result.
Exits 1 when no sink is configured or any sink failed. Sinks are set with
the alerts.* settings (see 'quotatui config' and the README's Alerts section).
`

// runAlerts is 'quotatui alerts test'; the work is alert.RunTest.
func runAlerts(ctx context.Context, c *cli, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(c.stdout, alertsUsage)
		if len(args) == 0 {
			return &exitError{code: 2}
		}
		return nil
	}
	if args[0] != "test" {
		fmt.Fprint(c.stderr, alertsUsage)
		return &exitError{code: 2, err: fmt.Errorf("unknown alerts command %q", args[0])}
	}
	fs := flag.NewFlagSet("quotatui alerts test", flag.ContinueOnError)
	cfg, _, err := loadConfig(c, fs, args[1:])
	if err != nil {
		return err
	}
	return alert.RunTest(ctx, c.stdout, cfg.Alerts, time.Now())
}

// alertService returns the alert service for the configured sinks, or nil
// when none is configured. It subscribes to q at once, so it must be built
// before the monitor starts.
func alertService(cfg config.Config, q *quota.Manager, clk clock.Clock, noClient bool, log *slog.Logger) (*alert.Service, error) {
	routes, err := alert.FromConfig(cfg.Alerts, nil)
	if err != nil || len(routes) == 0 {
		return nil, err
	}
	for _, r := range routes {
		log.Info("alerts: sink configured", "sink", r.Sink.Name(), "events", r.Filter.String())
	}
	return alert.New(q, routes, alert.Options{Clock: clk, Logger: log, NoClient: noClient}), nil
}
