package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/tui"
)

func runDashboard(ctx context.Context, c *cli) error {
	tuneLongRunningGC(c)
	if err := needTerminal(c, "the dashboard"); err != nil {
		return err
	}
	cfg, _, err := loadConfig(c)
	if err != nil {
		return err
	}
	log, closer, err := openLog(cfg.LogFile, slog.LevelInfo)
	if err != nil {
		return err
	}
	defer closer.Close()
	s, err := openStack(ctx, cfg, log, stackOptions{withProxy: true, alerts: true})
	if err != nil {
		return err
	}
	defer s.Close()
	listenStatus(c, s, "dashboard")
	return runLive(ctx, c, s, version, nil)
}

// runLive runs the monitor, the proxy and the dashboard until the user
// quits or ctx ends; title follows the name in the header. extra, when set, runs beside them (the demo's traffic)
// and is stopped with them.
func runLive(ctx context.Context, c *cli, s *stack, title string, extra func(context.Context)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	feed := s.quota.Subscribe()
	defer feed.Close()

	stackErr := make(chan error, 1)
	go func() {
		err := s.run(ctx)
		if err != nil {
			cancel() // the monitor or the proxy failed: close the dashboard and say why
		}
		stackErr <- err
	}()
	extraDone := make(chan struct{})
	go func() {
		defer close(extraDone)
		if extra != nil {
			extra(ctx)
		}
	}()

	deps := tui.Deps{
		Engine:  s.quota,
		Feed:    feed,
		History: historyFunc(s),
		Usage:   s.quota.Usage,
		Clock:   s.clock,
		NoColor: c.getenv("NO_COLOR") != "",
		Version: title,
		Logger:  s.log,
	}
	if s.proxy != nil {
		deps.Proxy = s.proxy
	}
	s.log.Info("quotatui started", "version", title, "proxy", s.proxyURL(), "db", shownDB(s.cfg.DBPath), "backend", s.store.Backend(),
		"sync_interval", s.cfg.Quota.SyncInterval.String(), "routing_policy", s.quota.Policy().String())
	uiErr := tui.Run(ctx, deps)
	cancel()
	<-extraDone
	err := <-stackErr
	switch {
	case uiErr != nil:
		s.log.Error("quotatui stopped: the dashboard failed", "err", uiErr)
		return uiErr
	case err != nil:
		s.log.Error("quotatui stopped: the monitor or the proxy failed", "err", err)
		return err
	}
	s.log.Info("quotatui stopped")
	return nil
}

// historyFunc adapts the quota manager's history to the dashboard's point
// type, so the dashboard does not import the store.
func historyFunc(s *stack) tui.HistoryFunc {
	return func(ctx context.Context, id int64, f cloudcode.Family, since time.Time) ([]tui.Point, error) {
		pts, err := s.quota.History(ctx, id, f, since)
		if err != nil {
			return nil, err
		}
		out := make([]tui.Point, len(pts))
		for i, p := range pts {
			out[i] = tui.Point{At: p.At, LastSeen: p.LastSeen, Fraction: p.Fraction, ResetTime: p.ResetTime}
		}
		return out, nil
	}
}
