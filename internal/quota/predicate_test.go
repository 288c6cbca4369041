package quota

import (
	"context"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// Whoever judges an account from a Status (the proxy, metrics, a fake)
// gets the engine's own answer: Status.Check on a snapshot agrees with
// CheckQuota for every state, mark, figure and the user's thresholds.
func TestStatusCheckIsCheckQuota(t *testing.T) {
	specs := []cloudcodetest.AccountSpec{
		{Email: "plenty@example.com", TierID: "g1-pro-tier"},
		{Email: "low@example.com", TierID: "g1-pro-tier"},     // low under the user's threshold, not under the default
		{Email: "weekly@example.com", TierID: "g1-pro-tier"},  // weekly empty
		{Email: "cooling@example.com", TierID: "g1-pro-tier"}, // cooldown mark
		{Email: "spent@example.com", TierID: "g1-pro-tier"},   // exhaustion mark
		{Email: "client@example.com", TierID: "g1-pro-tier"},  // needs_client
		{Email: "off@example.com", TierID: "g1-pro-tier"},     // disabled by the user
	}
	e := newEnv(t, cloudcodetest.Options{}, Options{Thresholds: Thresholds{Low: 0.3}}, specs...)
	ctx := context.Background()
	e.srv.SetRemaining("low@example.com", cloudcode.FamilyGemini, cloudcode.Window5h, 0.25)
	e.srv.SetRemaining("weekly@example.com", cloudcode.FamilyGemini, cloudcode.WindowWeekly, 0)
	e.m.SyncAll(ctx)
	e.m.MarkCooldown(e.id("cooling@example.com"), cloudcode.FamilyGemini, t0.Add(time.Minute), "rate limited")
	e.m.MarkExhausted(e.id("spent@example.com"), cloudcode.FamilyClaudeGPT, t0.Add(time.Hour), t0, "429")
	if err := e.m.MarkForbidden(ctx, e.id("client@example.com"), StateNeedsClient, "no client", ""); err != nil {
		t.Fatal(err)
	}
	if err := e.m.SetDisabled(ctx, e.id("off@example.com"), true); err != nil {
		t.Fatal(err)
	}
	for _, model := range []string{"gemini-3-flash", "claude-sonnet-4-6", "some-new-model"} {
		for _, st := range e.m.GetAllQuotas() {
			want, err := e.m.CheckQuota(ctx, st.AccountID, model)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Check(model, st.At); got != want {
				t.Errorf("%s %s: Status.Check = %+v, CheckQuota = %+v", st.Email, model, got, want)
			}
		}
	}
	if st, _ := e.m.Account(e.id("low@example.com")); st.Check("gemini-3-flash", st.At).Decision != LowQuota {
		t.Errorf("the user's threshold (0.3) is not the one the snapshot decides with")
	}
}
