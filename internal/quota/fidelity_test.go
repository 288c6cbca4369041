package quota

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/syncbuf"
)

// lockedBuffer is safe for concurrent writers and readers.
type lockedBuffer = syncbuf.Buffer

// newLog returns a logger writing text lines at debug and above into a
// buffer the test reads.
func newLog() (*slog.Logger, *lockedBuffer) {
	buf := &lockedBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// fiveUnits makes every bucket 5 units, so figures move in 0.2 steps, as
// the upstream has been seen to report them.
func fiveUnits(cloudcode.Tier, cloudcode.Family, cloudcode.Window) int { return 5 }

// An empty weekly bucket arrives without a fraction (proto3): the account
// is exhausted for the family, whatever the models' own 5h figure says.
func TestEmptyBucketsAreExhausted(t *testing.T) {
	const email = "weekly@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	e.srv.SetRemaining(email, cloudcode.FamilyGemini, cloudcode.WindowWeekly, 0)
	e.srv.Drain(email, cloudcode.FamilyClaudeGPT) // as a free account's Claude/GPT family arrives
	for _, model := range []string{"gemini-3-flash", "claude-sonnet-4-6-thinking", "gpt-oss-120b-medium"} {
		c := e.check(email, model)
		if c.Decision != Exhausted || c.Usable || !c.Remaining.Known || c.Remaining.Value != 0 {
			t.Errorf("%s: %+v, want known 0, Exhausted, not usable", model, c)
		}
	}
	st, _ := e.m.Account(e.id(email))
	if w := st.Family(cloudcode.FamilyGemini).Weekly.Remaining; w != cloudcode.KnownFraction(0) {
		t.Errorf("gemini weekly = %+v, want known 0", w)
	}
	if got := e.m.Rank("gemini-3-flash"); got[0].Check.Usable {
		t.Errorf("Rank offers the empty account: %+v", got[0])
	}
}

// Figures that move in 0.2 steps go from 0.2 straight to 0: the reading of
// 0.2 is the last step, so it is the low zone (a warning, one request at a
// time in the proxy), not Proceed.
func TestCoarseStepsReachTheLowZone(t *testing.T) {
	const email = "coarse@example.com"
	e := newEnv(t, cloudcodetest.Options{Capacity: fiveUnits}, Options{}, cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	feed := e.m.Subscribe()
	defer feed.Close()
	id := e.id(email)
	for _, tt := range []struct {
		fraction float64
		want     Decision
	}{{1, Proceed}, {0.6, Proceed}, {0.4, Proceed}, {0.2, LowQuota}, {0, Exhausted}} {
		e.srv.SetRemaining(email, cloudcode.FamilyGemini, cloudcode.Window5h, tt.fraction)
		e.sync(email)
		if c := e.check(email, "gemini-3-flash"); c.Decision != tt.want {
			t.Errorf("at %v: %s, want %s", tt.fraction, c.Decision, tt.want)
		}
		if st, _ := e.m.Account(id); st.Family(cloudcode.FamilyGemini).Decision != tt.want {
			t.Errorf("at %v: family decision %s, want %s", tt.fraction, st.Family(cloudcode.FamilyGemini).Decision, tt.want)
		}
	}
	got := kinds(drainEvents(feed), id)
	if len(got) != 2 || got[0] != EventLowQuota || got[1] != EventExhausted {
		t.Errorf("events %v, want a low-quota warning at 0.2, then exhausted", got)
	}
}

// Fine-grained figures keep the configured threshold: 0.2 is plenty once
// the account has shown it reports in small steps.
func TestFineStepsKeepTheThreshold(t *testing.T) {
	const email = "fine@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"}) // 100 units
	e.srv.SetRemaining(email, cloudcode.FamilyGemini, cloudcode.Window5h, 0.37)
	e.sync(email)
	e.srv.SetRemaining(email, cloudcode.FamilyGemini, cloudcode.Window5h, 0.2)
	e.sync(email)
	if c := e.check(email, "gemini-3-flash"); c.Decision != Proceed {
		t.Errorf("fine-grained account at 0.2: %s, want Proceed", c.Decision)
	}
}

// oddUpstream reports a figure the parser could not use, as a real
// answer with a NaN would.
type oddUpstream struct {
	Upstream
	problems []string
}

func (o oddUpstream) FetchAvailableModels(ctx context.Context, tok, project string) (*cloudcode.ModelCatalog, error) {
	cat, err := o.Upstream.FetchAvailableModels(ctx, tok, project)
	if cat != nil {
		cat.Problems = append(cat.Problems, o.problems...)
	}
	return cat, err
}

// A figure that makes no sense is logged once per account while it lasts,
// not on every sync.
func TestOddFiguresLoggedOnce(t *testing.T) {
	const email = "odd@example.com"
	log, buf := newLog()
	e := newEnv(t, cloudcodetest.Options{}, Options{Logger: log}, cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	problem := "models.gemini-3-flash.quotaInfo.remainingFraction: NaN is not a fraction; read as unknown"
	m, err := newManager(context.Background(), oddUpstream{e.up, []string{problem}}, e.tokens, e.st, Options{Clock: e.clk, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := m.SyncAccount(context.Background(), e.id(email)); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(buf.String(), "NaN is not a fraction"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, buf)
	}
	if !strings.Contains(buf.String(), "level=WARN") {
		t.Errorf("not a warning:\n%s", buf)
	}
}

// A long-running engine tells its operator what happened: each round's
// summary and each warning at INFO, each failing account at WARN with its
// reason, once while the same failure lasts (a dead network must not
// flood the log), again when the failure changes.
func TestSyncLogging(t *testing.T) {
	log, buf := newLog()
	e := newEnv(t, cloudcodetest.Options{}, Options{Logger: log},
		cloudcodetest.AccountSpec{Email: "ok@example.com", TierID: "g1-pro-tier"},
		cloudcodetest.AccountSpec{Email: "sick@example.com", TierID: "g1-pro-tier"})
	ctx := context.Background()
	e.srv.Drain("ok@example.com", cloudcode.FamilyGemini)
	e.tokens.setFail(e.id("sick@example.com"), errTest("connection refused"))
	for range 3 {
		e.clk.Advance(10 * time.Minute)
		e.m.SyncAll(ctx)
	}
	out := buf.String()
	if n := strings.Count(out, `msg="quota: sync round" ok=1 errors=1`); n != 3 {
		t.Errorf("%d round summaries at INFO, want 3:\n%s", n, out)
	}
	if n := strings.Count(out, `level=WARN msg="quota: sync failed" account=sick@example.com`); n != 1 {
		t.Errorf("the same failure logged %d times at WARN, want once:\n%s", n, out)
	}
	if !strings.Contains(out, `level=INFO msg="quota: exhausted" account=ok@example.com family=gemini`) {
		t.Errorf("the exhaustion warning is not in the log:\n%s", out)
	}
	e.tokens.setFail(e.id("sick@example.com"), errTest("no route to host"))
	e.m.SyncAll(ctx)
	if n := strings.Count(buf.String(), `level=WARN msg="quota: sync failed" account=sick@example.com`); n != 2 {
		t.Errorf("a new failure was not logged at WARN:\n%s", buf.String())
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }
