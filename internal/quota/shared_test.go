package quota

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/store"
	"github.com/quotatui/quotatui/internal/store/pg"
	"github.com/quotatui/quotatui/internal/store/pg/pgtest"
)

// pgEnv is two engines, as two instances, on one PostgreSQL database and
// one simulator. Their monitors' 1-second look at the counters is off:
// whatever reaches one from the other came by the store's announcements.
type pgEnv struct {
	t      *testing.T
	url    string
	clk    *clock.Fake
	srv    *cloudcodetest.Server
	tokens *simTokens
	up     *cloudcode.Client
	ids    map[string]int64
	stores []*pg.Store
}

func newPGEnv(t *testing.T, specs ...cloudcodetest.AccountSpec) *pgEnv {
	t.Helper()
	e := &pgEnv{t: t, url: pgtest.URL(t), clk: clock.NewFake(t0), ids: map[string]int64{}}
	e.srv = cloudcodetest.NewServer(cloudcodetest.Options{Clock: e.clk})
	t.Cleanup(e.srv.Close)
	e.tokens = newSimTokens(e.srv)
	e.up = cloudcode.New(cloudcode.Config{BaseURLs: e.srv.BaseURLs(), HTTPClient: e.srv.Client(), Clock: e.clk})
	st := e.open()
	var rows []store.Account
	for _, sp := range specs {
		a := e.srv.AddAccount(sp)
		rows = append(rows, store.Account{Email: a.Email, RefreshToken: a.RefreshToken})
	}
	stored, err := st.UpsertAccounts(context.Background(), rows)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range stored {
		e.ids[a.Email] = a.ID
		e.tokens.emails[a.ID] = a.Email
	}
	return e
}

func (e *pgEnv) open() *pg.Store {
	e.t.Helper()
	s, err := pg.Open(context.Background(), e.url, pg.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { s.Close() })
	e.stores = append(e.stores, s)
	return s
}

// engine builds an engine on a store handle of its own and runs its
// monitor (one round an hour: only the first round, takeovers and
// requests sync) until the test ends.
func (e *pgEnv) engine(holder string, beat time.Duration) (*Manager, *pg.Store, func()) {
	e.t.Helper()
	st := e.open()
	m, err := NewManager(context.Background(), e.up, e.tokens, st, Options{Clock: e.clk, Holder: holder,
		LeaseTTL: 3 * beat, LeaseBeat: beat, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		e.t.Fatal(err)
	}
	m.watchEvery = time.Hour
	stop := monitor(e.t, m, time.Hour)
	waitFor(e.t, holder+" listening", st.Listening)
	return m, st, stop
}

// A mark, a cooldown and an engine state set by one instance are in force
// in the other by the store's announcement (not by polling, which is off
// here).
func TestSharedMarksReachEveryInstance(t *testing.T) {
	e := newPGEnv(t,
		cloudcodetest.AccountSpec{Email: "a@example.com", TierID: "g1-pro-tier"},
		cloudcodetest.AccountSpec{Email: "b@example.com", TierID: "g1-pro-tier"})
	a, _, _ := e.engine("a", 50*time.Millisecond)
	b, _, _ := e.engine("b", 50*time.Millisecond)
	id, other := e.ids["a@example.com"], e.ids["b@example.com"]
	waitFor(t, "the first round", func() bool { return a.MonitorStats().SyncsRun+b.MonitorStats().SyncsRun >= 1 })

	a.MarkExhausted(id, cloudcode.FamilyGemini, e.clk.Now().Add(3*time.Hour), e.clk.Now(), "QUOTA_EXHAUSTED")
	waitFor(t, "the exhaustion mark in b", func() bool {
		st, _ := b.Account(id)
		return st.Marks[familyIndex(cloudcode.FamilyGemini)].Kind == ExhaustedMark
	})
	if c, _ := b.CheckQuota(context.Background(), id, "gemini-3-flash"); c.Usable {
		t.Errorf("b still finds the account usable for gemini: %+v", c)
	}
	a.MarkCooldown(other, cloudcode.FamilyClaudeGPT, e.clk.Now().Add(time.Minute), "rate limited")
	waitFor(t, "the cooldown in b", func() bool {
		st, _ := b.Account(other)
		return st.Marks[familyIndex(cloudcode.FamilyClaudeGPT)].Kind == CooldownMark
	})
	if err := a.MarkForbidden(context.Background(), other, StateForbidden, "SERVICE_DISABLED", ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the state in b", func() bool { st, _ := b.Account(other); return st.EngineState == StateForbidden })
	if best, ok := b.Best("gemini-3-flash"); ok && best.Check.Usable {
		t.Errorf("b would route gemini to %d, with both accounts marked", best.AccountID)
	}
}

// A resync made by an instance that does not poll is carried out there
// and seen by every instance, the poller included.
func TestSharedResyncSeenByAll(t *testing.T) {
	e := newPGEnv(t, cloudcodetest.AccountSpec{Email: "a@example.com", TierID: "g1-pro-tier"})
	poller, _, _ := e.engine("poller", 50*time.Millisecond)
	waitFor(t, "the poller's first round", func() bool { return poller.IsPoller() && poller.MonitorStats().SyncsRun >= 1 })
	other, _, _ := e.engine("other", 50*time.Millisecond)
	id := e.ids["a@example.com"]
	e.srv.SetRemaining("a@example.com", cloudcode.FamilyGemini, cloudcode.WindowWeekly, 0.3)
	e.clk.Advance(time.Minute)
	if err := other.SyncAccount(context.Background(), id); err != nil { // the user's R, on the instance that does not poll
		t.Fatal(err)
	}
	waitFor(t, "the resync's figure in the poller", func() bool {
		st, _ := poller.Account(id)
		w := st.Family(cloudcode.FamilyGemini).Weekly.Remaining
		return w.Known && w.Value == 0.3
	})
	if other.IsPoller() {
		t.Error("the instance that resynced took the poller's role")
	}
}

// When the poller's session dies (SIGKILL, a lost machine), another
// instance polls within its next lease beat, and the old one, if it lives
// on, knows it no longer polls.
func TestSharedPollerTakeover(t *testing.T) {
	e := newPGEnv(t, cloudcodetest.AccountSpec{Email: "a@example.com", TierID: "g1-pro-tier"})
	// The first beats once an hour: once its session is gone it is as
	// good as dead (a live process that lost its connection is the last
	// part of the test).
	first, _, _ := e.engine("first", time.Hour)
	waitFor(t, "the first poller", first.IsPoller)
	second, _, _ := e.engine("second", 50*time.Millisecond)
	waitFor(t, "the second's heartbeat", func() bool { return len(second.Instances()) == 2 })
	if second.IsPoller() || second.MonitorStats().SyncsRun != 0 {
		t.Fatal("the second instance polls beside the first")
	}
	if ms := second.MonitorStats(); ms.Backend != store.BackendPostgres || ms.Instances != 2 {
		t.Errorf("monitor stats say %q with %d instances", ms.Backend, ms.Instances)
	}
	conn, err := pgx.Connect(context.Background(), pgtest.Server(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`,
		pg.AppName("poller", e.stores[0].Schema())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second instance to poll", func() bool { return second.IsPoller() && second.MonitorStats().SyncsRun >= 1 })
	first.beat(context.Background()) // its next beat
	if first.IsPoller() {
		t.Error("the first instance still says it polls after its session ended")
	}
}
