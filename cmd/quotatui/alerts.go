package main

import (
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/quotatui/quotatui/internal/alert"
	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cmdline"
	"github.com/quotatui/quotatui/internal/config"
	"github.com/quotatui/quotatui/internal/quota"
)

// alertsCommand is `quotatui alerts`; its one subcommand, test, sends a
// sample alert to every configured sink (the work is alert.RunTest).
func alertsCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alerts <command>",
		Short: "send a test alert to every configured alert sink ('alerts test')",
		Args:  cmdline.Subcommands,
		RunE: func(*cobra.Command, []string) error {
			return cmdline.Usagef("name a command: test")
		},
	}
	test := &cobra.Command{
		Use:   "test",
		Short: "send one sample alert to every configured sink and print each sink's result",
		Long: "Sends one sample alert (kind \"test\") to every configured sink (desktop, webhook,\n" +
			"command), whatever its event filter, and prints each sink's result. Exits 1 when no\n" +
			"sink is configured or any sink failed. Sinks are set with the alerts.* settings (see\n" +
			"'quotatui config' and the README's Alerts section).",
		Args: cmdline.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := loadConfig(c)
			if err != nil {
				return err
			}
			return alert.RunTest(cmd.Context(), c.stdout, cfg.Alerts, time.Now())
		},
	}
	cmd.AddCommand(test)
	return cmd
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
