// Package proxytest assembles the whole quotatui routing stack in-process
// against the simulator: cloudcodetest, a temporary store, auth.Tokens,
// quota.Manager, the cloudcode client and the proxy on a loopback port.
// End-to-end tests and cmd/quotabench use it, so they exercise the real
// code paths with nothing but loopback traffic.
package proxytest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/quotatui/quotatui/internal/auth"
	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/quota"
	"github.com/quotatui/quotatui/internal/store"
)

// Options configure a Stack. Clock, when set, is shared by every part.
type Options struct {
	Accounts []cloudcodetest.AccountSpec
	Sim      cloudcodetest.Options
	Quota    quota.Options
	Proxy    proxy.Options // Clock and Logger are filled in when empty
	Clock    clock.Clock
	Dir      string // for the SQLite file; default a new temporary directory, removed by Close
	// Monitor starts the quota monitor (first sync at once, then every
	// MonitorInterval), which also serves ResyncSoon.
	Monitor         bool
	MonitorInterval time.Duration
	Logger          *slog.Logger
	// WrapUpstream, when set, wraps the client the proxy sends through
	// (the quota engine keeps the bare client), so a harness can watch
	// every proxied call.
	WrapUpstream func(proxy.Upstream) proxy.Upstream
	// WrapQuota, when set, wraps the engine as the proxy sees it, so a
	// test can watch the marks the proxy sets.
	WrapQuota func(proxy.Quota) proxy.Quota
}

// Stack is a running simulator, quota engine and proxy.
type Stack struct {
	Sim      *cloudcodetest.Server
	Store    *store.Store
	Tokens   *auth.Tokens
	Quota    *quota.Manager
	Client   *cloudcode.Client
	Proxy    *proxy.Server
	URL      string            // the proxy's root URL
	IDs      map[string]int64  // account id by email
	Projects map[string]string // project by email

	cancel    context.CancelFunc
	transport *http.Transport // to the simulator, closed with the stack
	wg        sync.WaitGroup
	serveMu   sync.Mutex
	serve     error
	rmDir     string
	once      sync.Once
}

// Start builds and starts a Stack. Call Close when done.
func Start(ctx context.Context, opt Options) (st *Stack, err error) {
	if opt.Clock == nil {
		opt.Clock = clock.Real{}
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Stack{IDs: map[string]int64{}, Projects: map[string]string{}}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if opt.Dir == "" {
		dir, err := os.MkdirTemp("", "quotatui-stack-")
		if err != nil {
			return nil, fmt.Errorf("proxytest: temp dir: %w", err)
		}
		opt.Dir, s.rmDir = dir, dir
	}
	simOpt := opt.Sim
	simOpt.Clock = opt.Clock
	s.Sim = cloudcodetest.NewServer(simOpt)

	s.Store, err = store.Open(ctx, filepath.Join(opt.Dir, "quotatui.db"))
	if err != nil {
		return nil, fmt.Errorf("proxytest: open store: %w", err)
	}
	var rows []store.Account
	for _, spec := range opt.Accounts {
		a := s.Sim.AddAccount(spec)
		s.Projects[a.Email] = a.Project
		rows = append(rows, store.Account{Email: a.Email, Label: a.Email, RefreshToken: a.RefreshToken,
			AccessToken: a.AccessToken, AccessExpiry: opt.Clock.Now().Add(50 * time.Minute), ProjectID: a.Project})
	}
	stored, err := s.Store.UpsertAccounts(ctx, rows)
	if err != nil {
		return nil, fmt.Errorf("proxytest: add accounts: %w", err)
	}
	for _, a := range stored {
		s.IDs[a.Email] = a.ID
	}

	// The transport quotatui itself uses (cmd/quotatui's upstreamHTTP):
	// the simulator's own client keeps 2 idle connections per host, so
	// under concurrency a harness would measure dialling, not the proxy.
	s.transport = proxy.NewTransport(proxy.TransportOptions{})
	hc := &http.Client{Transport: s.transport}
	s.Tokens = auth.NewTokens(auth.OAuthConfig{
		ClientID: cloudcodetest.DefaultClientID, ClientSecret: cloudcodetest.DefaultClientSecret,
		AuthURL: s.Sim.AuthURL(), TokenURL: s.Sim.TokenURL(), UserInfoURL: s.Sim.UserInfoURL(),
	}, s.Store, auth.TokensOptions{Clock: opt.Clock, HTTPClient: hc, Logger: opt.Logger})
	s.Client = cloudcode.New(cloudcode.Config{BaseURLs: s.Sim.BaseURLs(), HTTPClient: hc, Clock: opt.Clock})

	qopt := opt.Quota
	qopt.Clock = opt.Clock
	if qopt.Logger == nil {
		qopt.Logger = opt.Logger
	}
	s.Quota, err = quota.NewManager(ctx, s.Client, s.Tokens, s.Store, qopt)
	if err != nil {
		return nil, fmt.Errorf("proxytest: quota manager: %w", err)
	}

	popt := opt.Proxy
	if popt.Clock == nil {
		popt.Clock = opt.Clock
	}
	if popt.Logger == nil {
		popt.Logger = opt.Logger
	}
	var up proxy.Upstream = s.Client
	if opt.WrapUpstream != nil {
		up = opt.WrapUpstream(up)
	}
	var q proxy.Quota = s.Quota
	if opt.WrapQuota != nil {
		q = opt.WrapQuota(q)
	}
	s.Proxy, err = proxy.New(q, s.Tokens, up, popt)
	if err != nil {
		return nil, fmt.Errorf("proxytest: proxy: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxytest: listen: %w", err)
	}
	s.URL = "http://" + ln.Addr().String()

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.wg.Go(func() {
		err := s.Proxy.Serve(runCtx, ln)
		s.serveMu.Lock()
		s.serve = err
		s.serveMu.Unlock()
	})
	if opt.Monitor {
		s.wg.Go(func() { _ = s.Quota.StartMonitor(runCtx, opt.MonitorInterval) })
	}
	return s, nil
}

// SyncAll syncs every account once, so the cache holds figures before a
// test starts.
func (s *Stack) SyncAll(ctx context.Context) error {
	r := s.Quota.SyncAll(ctx)
	var errs []error
	for id, err := range r.Errors {
		errs = append(errs, fmt.Errorf("account %d: %w", id, err))
	}
	return errors.Join(errs...)
}

// Close stops the proxy and the monitor, then closes the store and the
// simulator. It returns the error Serve returned, if any.
func (s *Stack) Close() error {
	s.once.Do(func() {
		if s.cancel != nil {
			s.cancel()
		}
		s.wg.Wait()
		if s.transport != nil {
			s.transport.CloseIdleConnections()
		}
		if s.Sim != nil {
			s.Sim.Close()
		}
		if s.Store != nil {
			_ = s.Store.Close()
		}
		if s.rmDir != "" {
			_ = os.RemoveAll(s.rmDir)
		}
	})
	s.serveMu.Lock()
	defer s.serveMu.Unlock()
	return s.serve
}
