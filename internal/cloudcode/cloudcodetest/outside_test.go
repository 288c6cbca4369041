package cloudcodetest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// With OutsideShare other clients take that share of the units spent, on
// the accounts that serve generate calls, and the quota answers show it.
func TestOutsideShare(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{OutsideShare: 0.3, Capacity: func(cloudcode.Tier, cloudcode.Family, cloudcode.Window) int { return 100 }})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "shared@example.com", TierID: "g1-pro-tier"})
	const calls = 35
	for range calls {
		if _, err := s.generate(context.Background(), acct.AccessToken, acct.Project, "gemini-3-flash"); err != nil {
			t.Fatal(err)
		}
	}
	// 35 calls at 0.3/0.7 each: 15 units spent by others, 50 in all.
	if got := s.srv.OutsideSpent(acct.Email, cloudcode.FamilyGemini); got != 15 {
		t.Errorf("others spent %d units, want 15", got)
	}
	if got := s.srv.Remaining(acct.Email, cloudcode.FamilyGemini, cloudcode.Window5h); got != 0.5 {
		t.Errorf("remaining %v, want 0.5", got)
	}
	if got := s.srv.OutsideSpent(acct.Email, cloudcode.FamilyClaudeGPT); got != 0 {
		t.Errorf("others spent %d Claude units, want 0: only the family in use", got)
	}
}

// SpendOutside spends as another client would, up to what is left, and
// the proxy's next call then finds the bucket empty.
func TestSpendOutside(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{Capacity: func(cloudcode.Tier, cloudcode.Family, cloudcode.Window) int { return 4 }})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "ide@example.com", TierID: "g1-pro-tier"})
	if got := s.srv.SpendOutside(acct.Email, cloudcode.FamilyGemini, 3); got != 3 {
		t.Fatalf("took %d, want 3", got)
	}
	if got := s.srv.SpendOutside(acct.Email, cloudcode.FamilyGemini, 3); got != 1 {
		t.Fatalf("took %d of the last unit, want 1", got)
	}
	if got := s.srv.OutsideSpent(acct.Email, cloudcode.FamilyGemini); got != 4 {
		t.Errorf("OutsideSpent = %d, want 4", got)
	}
	var qe *cloudcode.QuotaExhaustedError
	if _, err := s.generate(context.Background(), acct.AccessToken, acct.Project, "gemini-3-flash"); !errors.As(err, &qe) {
		t.Errorf("generate on a bucket others emptied: %v, want QUOTA_EXHAUSTED", err)
	}
}
