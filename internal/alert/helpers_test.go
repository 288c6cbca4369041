package alert

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/quotatui/quotatui/internal/auth"
	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/quota"
	"github.com/quotatui/quotatui/internal/store"
	"github.com/quotatui/quotatui/internal/syncbuf"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// t0 is where the tests' fake clocks start.
var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// quiet is a logger that discards everything.
var quiet = slog.New(slog.DiscardHandler)

// recorder is a sink that keeps what it is sent.
type recorder struct {
	name string
	mu   sync.Mutex
	got  []Event
}

func (r *recorder) Name() string {
	if r.name == "" {
		return "recorder"
	}
	return r.name
}

func (r *recorder) Send(_ context.Context, e Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, e)
	return nil
}

func (r *recorder) events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// of returns the recorded events of kind k.
func (r *recorder) of(k Kind) []Event {
	var out []Event
	for _, e := range r.events() {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// kinds lists the recorded kinds in order, as "kind:account/family".
func (r *recorder) kinds() []string {
	var out []string
	for _, e := range r.events() {
		s := string(e.Kind)
		if e.Account != nil {
			s += ":" + e.Account.Email
		}
		if e.Family != "" {
			s += "/" + e.Family
		}
		out = append(out, s)
	}
	return out
}

// waitFor polls cond until it holds or ten seconds pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitKind waits until r holds n events of kind k and returns them.
func waitKind(t testing.TB, r *recorder, k Kind, n int) []Event {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d %s alerts (have %v)", n, k, r.kinds()), func() bool { return len(r.of(k)) >= n })
	return r.of(k)
}

// world is a simulator, a store, real auth.Tokens, the cloudcode client
// and a quota.Manager on one fake clock: the engine alerts read in
// production, fed by the simulator instead of Google.
type world struct {
	t      testing.TB
	clk    *clock.Fake
	sim    *cloudcodetest.Server
	st     *store.Store
	tokens *auth.Tokens
	q      *quota.Manager
	ids    map[string]int64
}

type worldOptions struct {
	clientSecret string // default the simulator's
	quota        quota.Options
}

func newWorld(t testing.TB, o worldOptions, specs ...cloudcodetest.AccountSpec) *world {
	t.Helper()
	w := &world{t: t, clk: clock.NewFake(t0), ids: map[string]int64{}}
	w.sim = cloudcodetest.NewServer(cloudcodetest.Options{Clock: w.clk})
	t.Cleanup(w.sim.Close)
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "alerts.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	w.st = st
	rows := make([]store.Account, len(specs))
	for i, sp := range specs {
		a := w.sim.AddAccount(sp)
		rows[i] = store.Account{Email: a.Email, RefreshToken: a.RefreshToken, State: store.AccountState(quota.StateActive)}
	}
	stored, err := st.UpsertAccounts(ctx, rows)
	if err != nil {
		t.Fatalf("add accounts: %v", err)
	}
	for _, a := range stored {
		w.ids[a.Email] = a.ID
	}
	secret := o.clientSecret
	if secret == "" {
		secret = cloudcodetest.DefaultClientSecret
	}
	w.tokens = auth.NewTokens(auth.OAuthConfig{
		ClientID: cloudcodetest.DefaultClientID, ClientSecret: secret,
		AuthURL: w.sim.AuthURL(), TokenURL: w.sim.TokenURL(), UserInfoURL: w.sim.UserInfoURL(),
	}, st, auth.TokensOptions{Clock: w.clk, HTTPClient: w.sim.Client(),
		// As the stack wires it: the engine hears of a rejected refresh
		// token at once, with the token endpoint's words.
		OnNeedsLogin: func(id int64, reason string) {
			if err := w.q.MarkForbidden(context.Background(), id, quota.StateNeedsLogin, auth.Redact(reason), ""); err != nil {
				t.Errorf("mark account %d needs login: %v", id, err)
			}
		}})
	up := cloudcode.New(cloudcode.Config{BaseURLs: w.sim.BaseURLs(), HTTPClient: w.sim.Client(), Clock: w.clk})
	qo := o.quota
	qo.Clock = w.clk
	qo.Logger = quiet
	if w.q, err = quota.NewManager(ctx, up, w.tokens, st, qo); err != nil {
		t.Fatalf("quota manager: %v", err)
	}
	return w
}

func (w *world) id(email string) int64 {
	w.t.Helper()
	id, ok := w.ids[email]
	if !ok {
		w.t.Fatalf("no account %s", email)
	}
	return id
}

// syncAll runs one monitor round.
func (w *world) syncAll() quota.SyncResult {
	return w.q.SyncAll(context.Background())
}

// run starts a Service over the world's engine with routes, and stops it
// (checking that Run returns) when the test ends.
func (w *world) run(routes []Route, opt Options) *Service {
	w.t.Helper()
	if opt.Logger == nil {
		opt.Logger = quiet
	}
	if opt.Clock == nil {
		opt.Clock = w.clk
	}
	if opt.ScanEvery == 0 {
		opt.ScanEvery = time.Millisecond
	}
	s := New(w.q, routes, opt)
	s.flush = make(chan chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	w.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			w.t.Errorf("Run: %v", err)
		}
	})
	return s
}

// settle waits until s has handled everything the engine published so
// far (events and a fresh scan) and every sink has delivered what it was
// given, so a test can check that nothing more arrives.
func (w *world) settle(s *Service) {
	w.t.Helper()
	done := make(chan struct{})
	s.flush <- done
	<-done
	waitFor(w.t, "the sinks to deliver", func() bool {
		for _, st := range s.Stats() {
			if st.Pending != 0 {
				return false
			}
		}
		return true
	})
}

// logBuffer is a concurrency-safe log destination for checking what the
// service tells its operator.
type logBuffer struct{ syncbuf.Buffer }

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.MultiWriter(l), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

const (
	gemini = cloudcode.FamilyGemini
	claude = cloudcode.FamilyClaudeGPT
	w5h    = cloudcode.Window5h
	weekly = cloudcode.WindowWeekly
)
