package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/quotatui/quotatui/internal/alert"
	"github.com/quotatui/quotatui/internal/auth"
	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/config"
	"github.com/quotatui/quotatui/internal/logfile"
	"github.com/quotatui/quotatui/internal/metrics"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/quota"
	"github.com/quotatui/quotatui/internal/statusapi"
	"github.com/quotatui/quotatui/internal/store"
)

// stack is every long-lived part of quotatui, wired together.
type stack struct {
	cfg     config.Config
	log     *slog.Logger
	clock   clock.Clock
	store   backend
	client  *cloudcode.Client
	oauth   auth.OAuthConfig
	tokens  *auth.Tokens
	quota   *quota.Manager
	proxy   *proxy.Server // nil without the proxy
	metrics *metrics.Metrics
	ln      net.Listener   // the proxy's listener, bound by openStack
	alerts  *alert.Service // nil unless o.alerts and a sink is configured (alerts.go)

	status *statusapi.Server // the status socket; nil unless listenStatus bound it (statuswire.go)
}

type stackOptions struct {
	clock     clock.Clock  // default clock.Real
	clockRate float64      // clock seconds per real second (the demo's speed); default 1
	withProxy bool         // bind the listener and build the proxy
	http      *http.Client // for the upstream and OAuth; default http.DefaultClient
	alerts    bool         // send alerts to the configured sinks (serve and the dashboard)
}

func oauthConfig(cfg config.Config) auth.OAuthConfig { return auth.FromConfig(cfg) }

func quotaOptions(cfg config.Config, clk clock.Clock, rate float64, log *slog.Logger) (quota.Options, error) {
	// Load validated the name already; a Config built another way is
	// checked here rather than routed by a policy nobody chose.
	policy, err := quota.ParsePolicy(cfg.Routing.Policy)
	if err != nil {
		return quota.Options{}, fmt.Errorf("routing.policy: %w", err)
	}
	return quota.Options{
		Policy:         policy,
		Clock:          clk,
		Thresholds:     quota.Thresholds{Low: cfg.Quota.LowThreshold, Reserve: cfg.Quota.Reserve},
		CacheTTL:       cfg.Quota.CacheTTL,
		TierTTL:        cfg.Quota.TierTTL,
		AccountTimeout: cfg.Quota.AccountTimeout,
		Interval:       cfg.Quota.SyncInterval,
		Concurrency:    cfg.Quota.SyncConcurrency,
		Logger:         log,
		Retention:      cfg.Quota.Retention,
		ClockRate:      rate,
	}, nil
}

// openStack opens the store and builds the client, token source, quota
// manager and (optionally) the proxy with its listener. Close releases them.
func openStack(ctx context.Context, cfg config.Config, log *slog.Logger, o stackOptions) (_ *stack, err error) {
	if o.clock == nil {
		o.clock = clock.Real{}
	}
	if o.http == nil {
		o.http = upstreamHTTP(cfg)
	}
	s := &stack{cfg: cfg, log: log, clock: o.clock, oauth: oauthConfig(cfg)}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.store, err = openBackend(ctx, cfg.DBPath, log); err != nil {
		return nil, err
	}
	s.client = cloudcode.New(cloudcode.Config{BaseURLs: cfg.Upstream.BaseURLs, UserAgent: cfg.Upstream.UserAgent, HTTPClient: o.http, Clock: o.clock})
	s.tokens = auth.NewTokens(s.oauth, s.store, auth.TokensOptions{
		Clock:      o.clock,
		HTTPClient: o.http,
		Logger:     log,
		Clients:    auth.ClientsFromConfig(cfg),
		OnState: func(id int64, state store.AccountState, reason string) {
			// Tell the quota engine at once, so the proxy stops choosing the
			// account and the dashboard says why before the next sync.
			if s.quota == nil {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := s.quota.MarkForbidden(ctx, id, quota.AccountState(state), auth.Redact(reason), ""); err != nil {
				log.Warn("mark account state", "account", id, "state", state, "err", err)
			}
		},
	})
	qopt, err := quotaOptions(cfg, o.clock, o.clockRate, log)
	if err != nil {
		return nil, err
	}
	qopt.OnSync = func(took time.Duration, errors int) {
		if s.metrics != nil {
			s.metrics.ObserveSync(took, errors == 0)
		}
	}
	if s.quota, err = quota.NewManager(ctx, s.client, s.tokens, s.store, qopt); err != nil {
		return nil, err
	}
	if o.alerts {
		if s.alerts, err = alertService(cfg, s.quota, o.clock, s.oauth.Check() != nil, log); err != nil {
			return nil, err
		}
	}
	if !o.withProxy {
		return s, nil
	}
	popt := proxyOptions(cfg)
	popt.Clock = o.clock
	popt.Logger = log
	// The metrics read the proxy's stats, and the proxy serves the metrics:
	// the handler is looked up at request time to break the cycle.
	popt.Metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.metrics.Handler().ServeHTTP(w, r) })
	popt.OnUpstreamLatency = func(d time.Duration) { s.metrics.ObserveUpstreamLatency(d) }
	popt.Bindings = sharedBindings(s.store, popt.SessionIdle)
	if s.proxy, err = proxy.New(s.quota, s.tokens, s.client, popt); err != nil {
		return nil, err
	}
	s.metrics = metrics.New(s.quota, s.proxy)
	if s.ln, err = net.Listen("tcp", cfg.Proxy.Listen); err != nil {
		return nil, fmt.Errorf("proxy: listen on %s: %w (set --proxy-listen or QUOTATUI_PROXY_LISTEN to another address)", cfg.Proxy.Listen, err)
	}
	return s, nil
}

// proxyURL is the base URL clients use to reach the proxy.
func (s *stack) proxyURL() string {
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// run starts the monitor and the proxy and blocks until ctx ends or one of
// them fails; it returns only when both have stopped.
func (s *stack) run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		err := s.quota.StartMonitor(ctx, s.cfg.Quota.SyncInterval)
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	})
	if s.alerts != nil {
		g.Go(func() error { return s.alerts.Run(ctx) })
	}
	if s.status != nil {
		g.Go(func() error { return s.status.Serve(ctx) })
	}
	if s.proxy != nil {
		ln := s.ln
		s.ln = nil // Serve owns and closes it now
		g.Go(func() error { return s.proxy.KeepCounters(ctx, s.store, counterSaveInterval) })
		g.Go(func() error {
			err := s.proxy.Serve(ctx, ln)
			if errors.Is(err, context.Canceled) || errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return err
		})
	}
	return g.Wait()
}

// Close releases what openStack acquired.
func (s *stack) Close() {
	if s.alerts != nil {
		s.alerts.Close()
	}
	if s.status != nil {
		s.status.Close()
	}
	if s.ln != nil {
		s.ln.Close()
	}
	if s.store != nil {
		s.store.Close()
	}
}

// openLog returns a logger writing to path (created 0600, its directory
// 0700, rotated by size) that redacts anything looking like a token.
func openLog(path string, level slog.Level) (*slog.Logger, io.Closer, error) {
	f, err := logfile.Open(path, logfile.Options{})
	if err != nil {
		return nil, nil, err
	}
	return newLogger(f, level), f, nil
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(auth.NewRedactingHandler(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})))
}
