package quota

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/store"
)

// t0 is where the tests' fake clocks start.
var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// simTokens is a TokenSource over the simulator: it caches one access
// token per account and asks the simulator for a fresh one after
// Invalidate, like a real refresh.
type simTokens struct {
	srv    *cloudcodetest.Server
	mu     sync.Mutex
	emails map[int64]string
	cached map[int64]string
	fail   map[int64]error
	invals map[int64]int
}

func newSimTokens(srv *cloudcodetest.Server) *simTokens {
	return &simTokens{srv: srv, emails: map[int64]string{}, cached: map[int64]string{},
		fail: map[int64]error{}, invals: map[int64]int{}}
}

func (s *simTokens) Token(_ context.Context, id int64) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail[id]; err != nil {
		return "", err
	}
	if t, ok := s.cached[id]; ok {
		return t, nil
	}
	email, ok := s.emails[id]
	if !ok {
		return "", errors.New("no such account")
	}
	t := s.srv.AccessToken(email)
	s.cached[id] = t
	return t, nil
}

func (s *simTokens) Invalidate(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cached, id)
	s.invals[id]++
}

func (s *simTokens) invalidations(id int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.invals[id]
}

func (s *simTokens) setFail(id int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[id] = err
}

// needsLoginErr looks like auth.NeedsLoginError.
type needsLoginErr struct{}

func (needsLoginErr) Error() string                    { return "refresh token rejected (invalid_grant)" }
func (needsLoginErr) AccountState() store.AccountState { return store.StateNeedsLogin }

// env is a manager wired to a simulator and a temp-dir store.
type env struct {
	t      testing.TB
	clk    *clock.Fake
	srv    *cloudcodetest.Server
	st     *store.Store
	tokens *simTokens
	up     *cloudcode.Client
	m      *Manager
	ids    map[string]int64
}

// newEnv starts a simulator with one account per spec, stores them and
// builds a manager. The sim and the manager share a fake clock unless
// opt.Clock is set.
func newEnv(t testing.TB, simOpt cloudcodetest.Options, opt Options, specs ...cloudcodetest.AccountSpec) *env {
	t.Helper()
	e := &env{t: t, clk: clock.NewFake(t0), ids: map[string]int64{}}
	if simOpt.Clock == nil {
		simOpt.Clock = e.clk
	}
	if opt.Clock == nil {
		opt.Clock = e.clk
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e.srv = cloudcodetest.NewServer(simOpt)
	t.Cleanup(e.srv.Close)
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "quota.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	e.st = st
	rows := make([]store.Account, len(specs))
	for i, sp := range specs {
		a := e.srv.AddAccount(sp)
		rows[i] = store.Account{Email: a.Email, RefreshToken: a.RefreshToken, State: store.AccountState(StateActive)}
	}
	stored, err := st.UpsertAccounts(ctx, rows)
	if err != nil {
		t.Fatalf("upsert accounts: %v", err)
	}
	e.tokens = newSimTokens(e.srv)
	for _, a := range stored {
		e.ids[a.Email] = a.ID
		e.tokens.emails[a.ID] = a.Email
	}
	hc := e.srv.Client()
	if tr, ok := hc.Transport.(*http.Transport); ok {
		// Benchmarks sync many accounts at once; let connections be reused.
		tr.MaxIdleConnsPerHost = 256
	}
	e.up = cloudcode.New(cloudcode.Config{BaseURLs: e.srv.BaseURLs(), HTTPClient: hc, Clock: e.clk})
	m, err := NewManager(ctx, e.up, e.tokens, st, opt)
	if err != nil {
		t.Fatalf("new manager: %v", err)
	}
	e.m = m
	return e
}

func (e *env) id(email string) int64 {
	e.t.Helper()
	id, ok := e.ids[email]
	if !ok {
		e.t.Fatalf("no account %s", email)
	}
	return id
}

// sync runs SyncAccount and fails the test on error.
func (e *env) sync(email string) {
	e.t.Helper()
	if err := e.m.SyncAccount(context.Background(), e.id(email)); err != nil {
		e.t.Fatalf("sync %s: %v", email, err)
	}
}

// check runs CheckQuota and fails the test on error.
func (e *env) check(email, model string) Check {
	e.t.Helper()
	c, err := e.m.CheckQuota(context.Background(), e.id(email), model)
	if err != nil {
		e.t.Fatalf("check %s %s: %v", email, model, err)
	}
	return c
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// drainEvents returns the events waiting in f without blocking.
func drainEvents(f *Feed) []Event {
	var out []Event
	for {
		select {
		case e := <-f.Events():
			out = append(out, e)
		default:
			return out
		}
	}
}

// kinds lists the kinds of events about account id (sync start/finish left
// out).
func kinds(es []Event, id int64) []EventKind {
	var out []EventKind
	for _, e := range es {
		if e.AccountID == id && e.Kind != EventSyncStarted && e.Kind != EventSyncFinished {
			out = append(out, e.Kind)
		}
	}
	return out
}

// pointF is a history point in minutes after t0.
type pointF struct {
	min int
	f   float64
}

func points(ps []pointF, at func(int) time.Time) []store.Point {
	out := make([]store.Point, len(ps))
	for i, p := range ps {
		out[i] = store.Point{At: at(p.min), LastSeen: at(p.min), Fraction: p.f}
	}
	return out
}
