package proxytest

import (
	"fmt"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// TierIDs are the plans a harness's pool rotates through: ULTRA, PRO, FREE.
var TierIDs = []string{"g1-ultra-tier", "g1-pro-tier", "free-tier"}

// Pool returns n accounts user1@example.com, user2@example.com, ... with
// their plans rotating through TierIDs, and their emails.
func Pool(n int) ([]cloudcodetest.AccountSpec, []string) {
	specs := make([]cloudcodetest.AccountSpec, 0, n)
	emails := make([]string, 0, n)
	for i := range n {
		e := fmt.Sprintf("user%d@example.com", i+1)
		specs = append(specs, cloudcodetest.AccountSpec{Email: e, TierID: TierIDs[i%len(TierIDs)]})
		emails = append(emails, e)
	}
	return specs, emails
}

// BucketSizes sizes a harness's buckets: units requests for a PRO
// account's 5-hour window per family, half for FREE, double for ULTRA, and
// weekly buckets five times the 5-hour one.
func BucketSizes(units int) func(cloudcode.Tier, cloudcode.Family, cloudcode.Window) int {
	return func(tier cloudcode.Tier, _ cloudcode.Family, w cloudcode.Window) int {
		n := units
		switch tier {
		case cloudcode.TierUltra:
			n *= 2
		case cloudcode.TierPro:
		default:
			n /= 2
		}
		if w == cloudcode.WindowWeekly {
			n *= 5
		}
		return n
	}
}

// Models are the models a harness's clients draw from, per family.
var Models = map[cloudcode.Family][]string{
	cloudcode.FamilyGemini:    {"gemini-3-flash", "gemini-3-pro-high"},
	cloudcode.FamilyClaudeGPT: {"claude-sonnet-4-6", "claude-opus-4-6-thinking", "gpt-oss-120b-medium"},
}
