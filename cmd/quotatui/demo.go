package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/quotatui/quotatui/internal/cmdline"
	"github.com/quotatui/quotatui/internal/config"
	"github.com/quotatui/quotatui/internal/demo"
	"github.com/quotatui/quotatui/internal/store/pg"
)

// demoOptions are the demo's own flags.
type demoOptions struct {
	speed    float64
	accounts int
	rate     float64
	seed     int64
}

func demoCommand(c *cli) *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "run the dashboard, monitor and proxy against a built-in simulator",
		Long: "The demo needs no Google account and no network: a simulator with synthetic accounts on a\n" +
			"fast clock, and traffic sent through the real proxy. It uses a temporary database and log\n" +
			"and a free port, removed when it ends, unless --db, --log-file or --proxy-listen on its\n" +
			"command line name others (the config file's and the environment's are your real ones);\n" +
			"a database holding real accounts is refused.",
		Args: cmdline.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDemo(cmd.Context(), c, o) },
	}
	f := cmd.Flags()
	f.Float64Var(&o.speed, "speed", 60, "simulated seconds per real second (60: a 5-hour window passes in 5 minutes)")
	f.IntVar(&o.accounts, "accounts", 12, "number of synthetic accounts")
	f.Float64Var(&o.rate, "rate", 3, "demo requests per second sent through the proxy (0: no traffic)")
	f.Int64Var(&o.seed, "seed", 1, "seed for the simulator's faults and the traffic mix")
	return cmd
}

func runDemo(ctx context.Context, c *cli, o demoOptions) error {
	tuneLongRunningGC(c)
	if o.speed <= 0 || o.speed > 100000 {
		return cmdline.Usagef("--speed = %v: must be above 0 and at most 100000", o.speed)
	}
	if o.accounts < 1 || o.accounts > 1000 {
		return cmdline.Usagef("--accounts = %d: must be between 1 and 1000", o.accounts)
	}
	if o.rate < 0 {
		return cmdline.Usagef("--rate = %v: must be 0 or more", o.rate)
	}
	cfg, src, err := loadConfig(c)
	if err != nil {
		return err
	}
	// The database, log file, address and sync interval in the config file
	// or the environment are the user's real ones; the demo takes only
	// what its own command line names.
	given := func(key string) bool { return src.Of(key).Layer == config.LayerFlag }
	// A database named on the command line is only ever a demo's: the
	// demo seeds its accounts and syncs every account in it against the
	// simulator.
	if given("db") {
		if pg.IsURL(cfg.DBPath) {
			// A team's shared database is never a demo's.
			return cmdline.Usagef("the demo runs on an SQLite file of its own, not on a PostgreSQL database: leave out --db or name a file")
		}
		if err := demo.CheckDatabase(ctx, cfg.DBPath); err != nil {
			return err
		}
	}

	if err := needTerminal(c, "the demo's dashboard"); err != nil {
		return err
	}

	// Everything the demo writes lives in one temporary directory, removed
	// on the way out, unless the user asked for a DB of their own.
	tmp, err := os.MkdirTemp("", "quotatui-demo-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(tmp)
	if !given("db") {
		cfg.DBPath = filepath.Join(tmp, "demo.db")
	}
	if !given("log_file") {
		cfg.LogFile = filepath.Join(tmp, "demo.log")
	}
	if !given("proxy.listen") {
		cfg.Proxy.Listen = "127.0.0.1:0" // never collide with a real quotatui on 8045
	}
	if !given("quota.sync_interval") {
		// Keep five simulated minutes between syncs on the fast clock.
		cfg.Quota.SyncInterval = max(time.Duration(float64(cfg.Quota.SyncInterval)/o.speed), time.Second)
	}

	world := demo.NewWorld(demo.Options{Accounts: o.accounts, Speed: o.speed, Seed: o.seed})
	defer world.Close()
	cfg.Upstream.BaseURLs = world.Sim.BaseURLs()
	cfg.OAuth.ClientID, cfg.OAuth.ClientSecret = demo.ClientID, demo.ClientSecret
	cfg.OAuth.AuthURL, cfg.OAuth.TokenURL, cfg.OAuth.UserInfoURL = world.Sim.AuthURL(), world.Sim.TokenURL(), world.Sim.UserInfoURL()

	log, closer, err := openLog(cfg.LogFile, slog.LevelInfo)
	if err != nil {
		return err
	}
	defer closer.Close()
	s, err := openStack(ctx, cfg, log, stackOptions{withProxy: true, clock: world.Clock, clockRate: o.speed, http: world.HTTPClient()})
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.store.UpsertAccounts(ctx, world.StoreAccounts()); err != nil {
		return fmt.Errorf("demo: seed accounts: %w", err)
	}
	if err := s.quota.Reload(ctx); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	var traffic func(context.Context)
	if o.rate > 0 {
		gen := demo.NewTraffic(demo.TrafficOptions{ProxyURL: s.proxyURL(), APIKey: cfg.Proxy.APIKey, Rate: o.rate, Seed: uint64(o.seed)})
		traffic = func(ctx context.Context) {
			if err := gen.Run(ctx); err != nil {
				log.Error("demo traffic stopped", "err", err)
			}
		}
	}
	return runLive(ctx, c, s, fmt.Sprintf("%s · demo, time ×%g", version, o.speed), traffic)
}
