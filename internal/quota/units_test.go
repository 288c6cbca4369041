package quota

import (
	"math"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// The engine learns each bucket's size in requests from the requests the
// proxy reports (RecordSuccess) and how far the figures fell between two
// syncs of the same windows; a reset in between teaches nothing.
func TestBucketSizesLearned(t *testing.T) {
	const a = "a@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: a, TierID: "g1-pro-tier"}) // 100/500
	id := e.id(a)
	sizes := func() (float64, float64) {
		st, _ := e.m.Account(id)
		fq := st.Family(cloudcode.FamilyClaudeGPT)
		return fq.Units5h, fq.UnitsWeekly
	}
	spend := func(n int, five, week float64) {
		t.Helper()
		for range n {
			e.m.RecordSuccess(id, cloudcode.FamilyClaudeGPT, t0)
		}
		e.srv.SetRemaining(a, cloudcode.FamilyClaudeGPT, cloudcode.Window5h, five)
		e.srv.SetRemaining(a, cloudcode.FamilyClaudeGPT, cloudcode.WindowWeekly, week)
		e.sync(a)
	}
	e.sync(a)
	if f, w := sizes(); f != 0 || w != 0 {
		t.Fatalf("sizes %v/%v before any request, want unknown", f, w)
	}
	spend(2, 0.98, 0.996)
	if f, _ := sizes(); f != 0 {
		t.Errorf("5h size %v after 2 requests, want unknown until %d", f, minUnitsRequests)
	}
	spend(10, 0.88, 0.976)
	if f, w := sizes(); math.Abs(f-100) > 0.5 || math.Abs(w-500) > 2 {
		t.Errorf("sizes %.1f/%.1f after 12 requests, want 100/500", f, w)
	}
	// A reset between two syncs: the figure rose, no reading; the
	// estimate stays.
	e.clk.Advance(5*time.Hour + time.Minute)
	spend(30, 1, 0.916)
	if f, w := sizes(); math.Abs(f-100) > 0.5 || math.Abs(w-500) > 2 {
		t.Errorf("sizes %.1f/%.1f after a reset, want still 100/500", f, w)
	}
	// Gemini saw no request: nothing learned there.
	st, _ := e.m.Account(id)
	if fq := st.Family(cloudcode.FamilyGemini); fq.Units5h != 0 || fq.UnitsWeekly != 0 {
		t.Errorf("gemini sizes %v/%v with no gemini request", fq.Units5h, fq.UnitsWeekly)
	}
}
