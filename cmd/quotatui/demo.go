package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/quotatui/quotatui/internal/config"
	"github.com/quotatui/quotatui/internal/demo"
)

func runDemo(ctx context.Context, c *cli, args []string) error {
	fs := flag.NewFlagSet("quotatui demo", flag.ContinueOnError)
	speed := fs.Float64("speed", 60, "simulated seconds per real second (60: a 5-hour window passes in 5 minutes)")
	accounts := fs.Int("accounts", 12, "number of synthetic accounts")
	rate := fs.Float64("rate", 3, "demo requests per second sent through the proxy (0: no traffic)")
	seed := fs.Int64("seed", 1, "seed for the simulator's faults and the traffic mix")
	cfg, src, err := loadConfig(c, fs, args)
	if err != nil {
		return err
	}
	if *speed <= 0 || *speed > 100000 {
		return fmt.Errorf("--speed = %v: must be above 0 and at most 100000", *speed)
	}
	if *accounts < 1 || *accounts > 1000 {
		return fmt.Errorf("--accounts = %d: must be between 1 and 1000", *accounts)
	}

	// A database of the user's own is only ever a demo's: the demo seeds
	// its accounts and syncs every account in it against the simulator.
	if src.Of("db").Layer != config.LayerDefault {
		if err := demo.CheckDatabase(ctx, cfg.DBPath); err != nil {
			return err
		}
	}

	// Everything the demo writes lives in one temporary directory, removed
	// on the way out, unless the user asked for a DB of their own.
	tmp, err := os.MkdirTemp("", "quotatui-demo-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(tmp)
	if src.Of("db").Layer == config.LayerDefault {
		cfg.DBPath = filepath.Join(tmp, "demo.db")
	}
	if src.Of("log_file").Layer == config.LayerDefault {
		cfg.LogFile = filepath.Join(tmp, "demo.log")
	}
	if src.Of("proxy.listen").Layer == config.LayerDefault {
		cfg.Proxy.Listen = "127.0.0.1:0" // never collide with a real quotatui on 8045
	}
	if src.Of("quota.sync_interval").Layer == config.LayerDefault {
		// Keep five simulated minutes between syncs on the fast clock.
		cfg.Quota.SyncInterval = max(time.Duration(float64(cfg.Quota.SyncInterval) / *speed), time.Second)
	}

	world := demo.NewWorld(demo.Options{Accounts: *accounts, Speed: *speed, Seed: *seed})
	defer world.Close()
	cfg.Upstream.BaseURLs = world.Sim.BaseURLs()
	cfg.OAuth.ClientID, cfg.OAuth.ClientSecret = demo.ClientID, demo.ClientSecret
	cfg.OAuth.AuthURL, cfg.OAuth.TokenURL, cfg.OAuth.UserInfoURL = world.Sim.AuthURL(), world.Sim.TokenURL(), world.Sim.UserInfoURL()

	log, closer, err := openLog(cfg.LogFile, slog.LevelInfo)
	if err != nil {
		return err
	}
	defer closer.Close()
	s, err := openStack(ctx, cfg, log, stackOptions{withProxy: true, clock: world.Clock, clockRate: *speed, http: world.HTTPClient()})
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
	if *rate > 0 {
		gen := demo.NewTraffic(demo.TrafficOptions{ProxyURL: s.proxyURL(), APIKey: cfg.Proxy.APIKey, Rate: *rate, Seed: uint64(*seed)})
		traffic = func(ctx context.Context) {
			if err := gen.Run(ctx); err != nil {
				log.Error("demo traffic stopped", "err", err)
			}
		}
	}
	return runLive(ctx, c, s, fmt.Sprintf("%s · demo, time ×%g", version, *speed), traffic)
}
