package cloudcodetest_test

import (
	"context"
	"testing"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// With Steps the quota answers round what is left up to the step, as
// Google's coarse figures do: a bucket is read at 0 only when it is empty.
func TestStepsRoundUp(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{Steps: 0.2, Capacity: func(cloudcode.Tier, cloudcode.Family, cloudcode.Window) int { return 6 }})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "coarse@example.com", TierID: "g1-pro-tier"})
	want := []float64{1, 1, 0.8, 0.6, 0.4, 0.2, 0} // 6, 5, 4, ... units left of 6
	for used, w := range want {
		sum, err := s.client.RetrieveUserQuotaSummary(context.Background(), acct.AccessToken, acct.Project)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := sum.Bucket(cloudcode.FamilyGemini, cloudcode.Window5h)
		if !b.Remaining.Known || b.Remaining.Value != w {
			t.Errorf("%d of 6 units used: reads %+v, want %v", used, b.Remaining, w)
		}
		if used < 6 {
			if _, err := s.generate(context.Background(), acct.AccessToken, acct.Project, "gemini-3-flash"); err != nil {
				t.Fatal(err)
			}
		}
	}
}
