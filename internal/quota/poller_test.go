package quota

import (
	"context"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// second builds another engine on the env's database through its own
// store handle, as a second process would.
func (e *env) second(t *testing.T, opt Options) *Manager {
	t.Helper()
	if opt.Clock == nil {
		opt.Clock = e.clk
	}
	if opt.Logger == nil {
		opt.Logger = e.m.log
	}
	m, err := NewManager(context.Background(), e.up, e.tokens, e.other(t), opt)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// monitor runs m's monitor until the test ends and returns its stop.
func monitor(t testing.TB, m *Manager, interval time.Duration) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.StartMonitor(ctx, interval) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

// Two engines on one database: one polls, the other reads its figures and
// makes no quota read of its own; when the poller stops, the other takes
// over.
func TestOnePollerPerDatabase(t *testing.T) {
	fast := Options{LeaseTTL: 600 * time.Millisecond, LeaseBeat: 100 * time.Millisecond}
	e := newEnv(t, cloudcodetest.Options{}, fast,
		cloudcodetest.AccountSpec{Email: "a@example.com", TierID: "g1-pro-tier"},
		cloudcodetest.AccountSpec{Email: "b@example.com", TierID: "g1-ultra-tier"})
	e.srv.SetRemaining("a@example.com", cloudcode.FamilyGemini, cloudcode.WindowWeekly, 0.4)
	other := e.second(t, fast)
	stopFirst := monitor(t, e.m, 300*time.Millisecond)
	waitFor(t, "the first engine to poll", func() bool { return e.m.MonitorStats().SyncsRun >= 1 })
	monitor(t, other, 300*time.Millisecond)

	waitFor(t, "the poller's figures in the other engine", func() bool {
		st, _ := other.Account(e.id("a@example.com"))
		w := st.Family(cloudcode.FamilyGemini).Weekly.Remaining
		return w.Known && w.Value == 0.4
	})
	if !e.m.IsPoller() || other.IsPoller() {
		t.Fatalf("poller: first %v, other %v; want exactly the first", e.m.IsPoller(), other.IsPoller())
	}
	// A few rounds: every quota read is the poller's.
	before := e.srv.TotalRequests("fetchAvailableModels")
	rounds := e.m.MonitorStats().SyncsRun
	waitFor(t, "three more rounds", func() bool { return e.m.MonitorStats().SyncsRun >= rounds+3 })
	reads := e.srv.TotalRequests("fetchAvailableModels") - before
	polled := e.m.MonitorStats().SyncsRun - rounds
	if other.MonitorStats().SyncsRun != 0 {
		t.Errorf("the other engine ran %d rounds of its own", other.MonitorStats().SyncsRun)
	}
	// Each round reads both accounts once; a round may be in flight.
	if int64(reads) > 2*(polled+1) {
		t.Errorf("%d quota reads in %d rounds of 2 accounts: someone else polls too", reads, polled)
	}
	// The other engine decides on the poller's figures: a check is a hit.
	if c, err := other.CheckQuota(context.Background(), e.id("b@example.com"), "gemini-3-flash"); err != nil || !c.Usable || c.Decision != Proceed {
		t.Errorf("check on the other engine: %+v (%v)", c, err)
	}

	stopFirst()
	waitFor(t, "the other engine to take over", func() bool { return other.IsPoller() && other.MonitorStats().SyncsRun >= 1 })
}

// A figure read from the store replaces one only if it was fetched later.
func TestAdoptOnlyNewerFigures(t *testing.T) {
	const email = "a@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	other := e.second(t, Options{})
	e.sync(email) // the poller writes 100 % at t0
	e.srv.Drain(email, cloudcode.FamilyGemini)
	e.clk.Advance(time.Minute)
	if err := other.SyncAccount(context.Background(), e.id(email)); err != nil { // this process reads 0 % itself, later
		t.Fatal(err)
	}
	if _, err := other.loadFigures(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if c, _ := other.CheckQuota(context.Background(), e.id(email), "gemini-3-flash"); c.Decision != Exhausted {
		t.Errorf("an older stored figure replaced a newer one: %+v", c)
	}
}

// A one-shot refresh (quotatui status) while another process polls reads
// that process's figures instead of polling every account again; with no
// poller it syncs, under the lease.
func TestRefreshAllReadsThePollersFigures(t *testing.T) {
	e := newEnv(t, cloudcodetest.Options{}, Options{},
		cloudcodetest.AccountSpec{Email: "a@example.com", TierID: "g1-pro-tier"},
		cloudcodetest.AccountSpec{Email: "b@example.com", TierID: "g1-pro-tier"})
	e.srv.SetRemaining("b@example.com", cloudcode.FamilyGemini, cloudcode.WindowWeekly, 0)
	oneShot := e.second(t, Options{})
	if res := oneShot.RefreshAll(context.Background()); res.OK != 2 {
		t.Fatalf("with no poller: %+v, want a sync of both", res)
	}
	reads := e.srv.TotalRequests("fetchAvailableModels")
	e.runMonitor(t) // the first engine polls from now on
	reads = e.srv.TotalRequests("fetchAvailableModels")
	status := e.second(t, Options{})
	res := status.RefreshAll(context.Background())
	if res.OK != 2 || len(res.Errors) != 0 {
		t.Errorf("refresh beside a poller: %+v", res)
	}
	if n := e.srv.TotalRequests("fetchAvailableModels") - reads; n != 0 {
		t.Errorf("a refresh beside a poller read the quota %d times itself", n)
	}
	if c, _ := status.CheckQuota(context.Background(), e.id("b@example.com"), "gemini-3-flash"); c.Decision != Exhausted {
		t.Errorf("b from the poller's figures: %+v, want Exhausted", c)
	}
}
