package statusapi

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/quotatui/quotatui/internal/auth"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/quota"
	"github.com/quotatui/quotatui/internal/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testJudge stands in for internal/tui's words, which this package may not
// import: enough of them to tell the states apart (cmd/quotatui tests the
// real ones through the socket).
var testJudge = Judge{
	Account: func(s *quota.Status) string {
		switch {
		case s.State == quota.StateNeedsLogin:
			return WordNeedsLogin
		case s.State == quota.StateDisabled:
			return WordDisabled
		case s.LastError != "":
			return WordSyncError
		}
		return WordOK
	},
	Family: func(f *quota.FamilyQuota, m quota.Mark) string {
		switch {
		case m.Kind == quota.ExhaustedMark || f.Decision == quota.Exhausted:
			return WordExhausted
		case f.Decision == quota.LowQuota:
			return WordLow
		case f.Decision == quota.Proceed:
			return WordOK
		}
		return WordUnknown
	},
}

// pool is a real quota engine on a store at db, synced against the
// simulator.
type pool struct {
	sim *cloudcodetest.Server
	st  *store.Store
	q   *quota.Manager
	db  string
}

// newPool starts a simulator with n accounts (tiers in turn), a store in
// a temporary directory and a quota engine, and syncs every account once.
func newPool(tb testing.TB, n int) *pool {
	tb.Helper()
	ctx := context.Background()
	p := &pool{sim: cloudcodetest.NewServer(cloudcodetest.Options{}), db: filepath.Join(tb.TempDir(), "quotatui.db")}
	tb.Cleanup(p.sim.Close)
	var err error
	if p.st, err = store.Open(ctx, p.db); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.st.Close() })
	tiers := []string{"g1-pro-tier", "g1-ultra-tier", "free-tier"}
	rows := make([]store.Account, n)
	for i := range n {
		a := p.sim.AddAccount(cloudcodetest.AccountSpec{Email: fmt.Sprintf("user%d@example.com", i+1), TierID: tiers[i%len(tiers)]})
		rows[i] = store.Account{Email: a.Email, RefreshToken: a.RefreshToken, State: store.StateActive}
	}
	if _, err := p.st.UpsertAccounts(ctx, rows); err != nil {
		tb.Fatal(err)
	}
	tokens := auth.NewTokens(auth.OAuthConfig{
		ClientID: cloudcodetest.DefaultClientID, ClientSecret: cloudcodetest.DefaultClientSecret,
		AuthURL: p.sim.AuthURL(), TokenURL: p.sim.TokenURL(), UserInfoURL: p.sim.UserInfoURL(),
	}, p.st, auth.TokensOptions{HTTPClient: p.sim.Client()})
	client := cloudcode.New(cloudcode.Config{BaseURLs: p.sim.BaseURLs(), HTTPClient: p.sim.Client()})
	if p.q, err = quota.NewManager(ctx, client, tokens, p.st, quota.Options{Concurrency: 64, Logger: slog.New(slog.DiscardHandler)}); err != nil {
		tb.Fatal(err)
	}
	p.q.SyncAll(ctx)
	return p
}

// shortDir is a state directory with a short path (sockets take at most
// about 100 bytes; t.TempDir's can be longer), removed after the test.
func shortDir(tb testing.TB) string {
	tb.Helper()
	d, err := os.MkdirTemp("", "qs")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(d) })
	return filepath.Join(d, "quotatui")
}

// running is a Server answering until the test ends.
type running struct {
	srv  *Server
	stop context.CancelFunc
	done chan error
}

// serve listens for eng on db in dir and serves until the test's cleanup
// (or stop) ends it.
func serve(tb testing.TB, dir, db string, eng Engine, command string) *running {
	tb.Helper()
	return serveWith(tb, Options{Dir: dir, DB: db, Engine: eng, Judge: testJudge, Instance: NewInstance(command, "test", db, time.Now())})
}

// serveWith is serve with all the options.
func serveWith(tb testing.TB, opt Options) *running {
	tb.Helper()
	srv, err := Listen(opt)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{srv: srv, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- srv.Serve(ctx) }()
	tb.Cleanup(func() { r.halt(tb) })
	return r
}

// halt stops the server and waits for Serve to return.
func (r *running) halt(tb testing.TB) {
	r.stop()
	if err := <-r.done; err != nil {
		tb.Errorf("Serve: %v", err)
	}
	r.done <- nil // a second halt returns at once
}

// poller wraps an engine to say whether it polls, as two processes on one
// database would.
type poller struct {
	Engine
	polls bool
}

func (p poller) IsPoller() bool { return p.polls }

// ask is Ask with a deadline of a few seconds.
func ask(dir, db string) (*Answer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return Ask(ctx, dir, db)
}

// fakeEngine answers fixed snapshots.
type fakeEngine struct {
	all      []quota.Status
	problems []string
}

func (f fakeEngine) GetAllQuotas() []quota.Status { return f.all }
func (fakeEngine) IsPoller() bool                 { return false }
func (f fakeEngine) Health() quota.Health         { return quota.Health{Problems: f.problems} }
