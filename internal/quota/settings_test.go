package quota

import (
	"context"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/store"
)

// setRouting writes an account's routing choices as the CLI does and
// reloads the manager, as its monitor does when the counter moves.
func (e *env) setRouting(email string, r store.Routing) {
	e.t.Helper()
	ctx := context.Background()
	if err := e.st.SetRouting(ctx, e.id(email), r); err != nil {
		e.t.Fatal(err)
	}
	if err := e.m.Reload(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// agree checks that Status.Check, CheckQuota and Rank give one answer for
// the account and model: the dashboard, metrics, alerts and the proxy
// all judge through the one predicate.
func (e *env) agree(email, model string) Check {
	e.t.Helper()
	want := e.check(email, model)
	st, _ := e.m.Account(e.id(email))
	if got := st.Check(model, st.At); got != want {
		e.t.Errorf("%s %s: Status.Check = %+v, CheckQuota = %+v", email, model, got, want)
	}
	for _, c := range e.m.Rank(model) {
		if c.AccountID == e.id(email) && c.Check != want {
			e.t.Errorf("%s %s: Rank's check = %+v, CheckQuota = %+v", email, model, c.Check, want)
		}
	}
	return want
}

// A reserve makes the account exhausted for the proxy at that level, per
// family, with the low zone just above it; the figure stays the real one
// and the engine's own decision (the dashboard's severity, warnings) is
// unchanged.
func TestReserveIsExhaustedForTheProxy(t *testing.T) {
	const a = "a@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: a, TierID: "g1-pro-tier"})
	e.setRouting(a, store.Routing{Reserve: 0.3})
	tests := []struct {
		gemini, claude float64
		wantG, wantC   Decision
	}{
		{0.5, 0.5, Proceed, Proceed},
		{0.37, 0.31, LowQuota, LowQuota}, // within Low (10 %) of the reserve
		{0.3, 0.25, Exhausted, Exhausted},
		{0.8, 0.1, Proceed, Exhausted}, // per family
		{0.0, 0.6, Exhausted, Proceed},
	}
	for _, tt := range tests {
		e.srv.SetRemaining(a, cloudcode.FamilyGemini, cloudcode.Window5h, tt.gemini)
		e.srv.SetRemaining(a, cloudcode.FamilyClaudeGPT, cloudcode.Window5h, tt.claude)
		e.sync(a)
		for _, x := range []struct {
			model string
			f     float64
			want  Decision
		}{{"gemini-3-flash", tt.gemini, tt.wantG}, {"claude-sonnet-4-6", tt.claude, tt.wantC}} {
			c := e.agree(a, x.model)
			if c.Decision != x.want || c.Usable != (x.want != Exhausted) {
				t.Errorf("%s at %.2f with reserve 0.3: %v usable %v, want %v", x.model, x.f, c.Decision, c.Usable, x.want)
			}
			if !c.Remaining.Known || c.Remaining.Value != x.f {
				t.Errorf("%s: remaining %+v, want the real figure %.2f", x.model, c.Remaining, x.f)
			}
			wantReason := ""
			switch {
			case x.want == Exhausted && x.f > 0:
				wantReason = ReasonReserve
			case x.want == Exhausted:
				wantReason = ReasonExhausted
			case x.want == LowQuota:
				wantReason = ReasonLowQuota
			}
			if c.Reason != wantReason {
				t.Errorf("%s at %.2f: reason %q, want %q", x.model, x.f, c.Reason, wantReason)
			}
		}
		st, _ := e.m.Account(e.id(a))
		if d := st.Family(cloudcode.FamilyGemini).Decision; d != MakeDecision(cloudcode.KnownFraction(tt.gemini), DefaultThresholds) {
			t.Errorf("gemini at %.2f: the engine's own decision became %v: the reserve is the proxy's, not the figure's", tt.gemini, d)
		}
	}
}

// A reserve on a family reported in coarse steps keeps one step above it
// as the low zone: the next reading may be the reserve itself.
func TestReserveWithCoarseSteps(t *testing.T) {
	s := Status{Routing: Routing{Reserve: 0.2}}
	fq := &s.Families[0]
	fq.Family, fq.Coarse = cloudcode.FamilyGemini, true
	for _, tt := range []struct {
		v    float64
		want Decision
	}{{0.6, Proceed}, {0.4, LowQuota}, {0.2, Exhausted}} {
		fq.FiveHour.Remaining = cloudcode.KnownFraction(tt.v)
		fq.Effective = fq.FiveHour.Remaining
		if got := s.Check("gemini-3-flash", t0).Decision; got != tt.want {
			t.Errorf("coarse %.1f with reserve 0.2: %v, want %v", tt.v, got, tt.want)
		}
	}
}

// families restricts what the proxy may route to the account; the
// monitor still watches every family.
func TestFamiliesRestrictRouting(t *testing.T) {
	const a, b = "a@example.com", "b@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{},
		cloudcodetest.AccountSpec{Email: a, TierID: "g1-ultra-tier"},
		cloudcodetest.AccountSpec{Email: b, TierID: "g1-pro-tier"})
	e.setRouting(a, store.Routing{Families: []string{"gemini"}})
	e.m.SyncAll(context.Background())
	if c := e.agree(a, "gemini-3-flash"); !c.Usable {
		t.Errorf("gemini on a gemini-only account: %+v", c)
	}
	c := e.agree(a, "claude-sonnet-4-6")
	if c.Usable || c.Reason != ReasonFamilyNotRouted {
		t.Errorf("claude on a gemini-only account: usable %v reason %q, want %q", c.Usable, c.Reason, ReasonFamilyNotRouted)
	}
	if c.Decision != Proceed || !c.Remaining.Known {
		t.Errorf("claude on a gemini-only account: %v %+v: the figure must still be known and shown", c.Decision, c.Remaining)
	}
	if c := e.agree(a, "some-new-model"); c.Usable {
		t.Errorf("a model of no listed family went to a gemini-only account: %+v", c)
	}
	if best, ok := e.m.Best("claude-sonnet-4-6"); !ok || best.AccountID != e.id(b) {
		t.Errorf("Best for claude = %d (ok %v), want the pro account: the ultra one may not serve claude", best.AccountID, ok)
	}
	// A list of names this build does not know allows no known family.
	e.setRouting(a, store.Routing{Families: []string{"mistral"}})
	if c := e.agree(a, "gemini-3-flash"); c.Usable {
		t.Errorf("gemini on an account limited to an unknown family: %+v", c)
	}
}

// disabled_for_proxy keeps an account monitored only: synced, shown, never
// routed. The user's "disabled" still says more (it is not even synced).
func TestProxyDisabledIsMonitoredOnly(t *testing.T) {
	const a = "a@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: a, TierID: "g1-pro-tier"})
	e.setRouting(a, store.Routing{ProxyDisabled: true})
	if r := e.m.SyncAll(context.Background()); r.OK != 1 || r.Skipped != 0 {
		t.Errorf("SyncAll: %d ok, %d skipped: a monitored-only account is still synced", r.OK, r.Skipped)
	}
	for _, model := range []string{"gemini-3-flash", "claude-sonnet-4-6", "some-new-model"} {
		c := e.agree(a, model)
		if c.Usable || c.Reason != ReasonProxyDisabled {
			t.Errorf("%s: usable %v reason %q, want %q", model, c.Usable, c.Reason, ReasonProxyDisabled)
		}
	}
	if c := e.check(a, "gemini-3-flash"); !c.Remaining.Known || c.Decision != Proceed {
		t.Errorf("monitored only: figure %+v decision %v, want the real ones", c.Remaining, c.Decision)
	}
	if err := e.m.SetDisabled(context.Background(), e.id(a), true); err != nil {
		t.Fatal(err)
	}
	if c := e.agree(a, "gemini-3-flash"); c.Reason != ReasonDisabled {
		t.Errorf("disabled and monitored only: reason %q, want %q", c.Reason, ReasonDisabled)
	}
	if st, _ := e.m.Account(e.id(a)); st.State != StateDisabled || !st.Routing.ProxyDisabled {
		t.Errorf("state %q routing %+v", st.State, st.Routing)
	}
}

// A running engine picks up routing choices another process wrote (the
// CLI's `accounts set`) through the change counter, within 2 s.
func TestRoutingReloadsInARunningEngine(t *testing.T) {
	const a = "a@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: a, TierID: "g1-pro-tier"})
	e.runMonitor(t)
	cli := e.other(t)
	ctx := context.Background()
	if err := cli.SetRouting(ctx, e.id(a), store.Routing{Priority: 4, Reserve: 0.5, Families: []string{"claude-gpt"}}); err != nil {
		t.Fatal(err)
	}
	within(t, 2*time.Second, "routing set by another process", func() bool {
		st, _ := e.m.Account(e.id(a))
		return st.Routing.Priority == 4
	})
	st, _ := e.m.Account(e.id(a))
	want := Routing{Priority: 4, Reserve: 0.5, Only: FamiliesOf(cloudcode.FamilyClaudeGPT)}
	if st.Routing != want {
		t.Errorf("routing %+v, want %+v", st.Routing, want)
	}
	if c := e.agree(a, "gemini-3-flash"); c.Usable {
		t.Errorf("gemini after families=claude-gpt: %+v", c)
	}
}
