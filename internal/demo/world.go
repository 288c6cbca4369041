// Package demo builds quotatui's demo world: the embedded upstream
// simulator with a dozen synthetic accounts on a fast clock, and a traffic
// generator that sends requests through the real proxy so quotas drain,
// warnings fire, conversations switch accounts and windows reset.
package demo

import (
	"fmt"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/store"
)

// Options shape the demo world.
type Options struct {
	Accounts int     // how many synthetic accounts; default 12
	Speed    float64 // simulated seconds per real second; default 60
	Seed     int64
}

// World is the simulator and its accounts.
type World struct {
	Sim      *cloudcodetest.Server
	Clock    *clock.Scaled
	Accounts []cloudcodetest.Account
	Tiers    []string // tier id per account, same order
}

// The sim's client credentials: they only open the simulator's own OAuth
// endpoints, never Google's.
const (
	ClientID     = cloudcodetest.DefaultClientID
	ClientSecret = cloudcodetest.DefaultClientSecret
)

// demoCapacity keeps windows small so the story unfolds in minutes: a few
// dozen requests empty a free account's 5-hour window. Free accounts have
// no Claude/GPT quota, as with Google (cloudcodetest.DefaultCapacity).
func demoCapacity(t cloudcode.Tier, f cloudcode.Family, w cloudcode.Window) int {
	base := map[cloudcode.Tier]int{cloudcode.TierFree: 8, cloudcode.TierPro: 20, cloudcode.TierUltra: 40}[t]
	if base == 0 {
		base = 8
	}
	if t != cloudcode.TierPro && t != cloudcode.TierUltra && f == cloudcode.FamilyClaudeGPT {
		return 0
	}
	if w == cloudcode.WindowWeekly {
		return base * 4
	}
	return base
}

var tierCycle = []string{"g1-ultra-tier", "g1-pro-tier", "g1-pro-tier", "free-tier", "free-tier", "standard-tier"}

var names = []string{"ada", "grace", "linus", "ken", "barbara", "dennis", "margaret", "edsger", "frances", "john", "radia", "donald", "alan", "katherine", "tim", "guido"}

// NewWorld starts the simulator on a scaled clock with synthetic accounts
// of mixed tiers. Some start part-drained so the dashboard has colour at once.
func NewWorld(opt Options) *World {
	if opt.Accounts <= 0 {
		opt.Accounts = 12
	}
	if opt.Speed <= 0 {
		opt.Speed = 60
	}
	clk := clock.NewScaled(time.Now().UTC().Truncate(time.Second), opt.Speed)
	sim := cloudcodetest.NewServer(cloudcodetest.Options{
		Clock:          clk,
		Capacity:       demoCapacity,
		Seed:           opt.Seed,
		StreamChunks:   4,
		StreamInterval: 20 * time.Millisecond,
	})
	w := &World{Sim: sim, Clock: clk}
	for i := 0; i < opt.Accounts; i++ {
		name := names[i%len(names)]
		if i >= len(names) {
			name = fmt.Sprintf("%s%d", name, i/len(names)+1)
		}
		tier := tierCycle[i%len(tierCycle)]
		acct := sim.AddAccount(cloudcodetest.AccountSpec{Email: name + "@example.com", TierID: tier})
		w.Accounts = append(w.Accounts, acct)
		w.Tiers = append(w.Tiers, tier)
	}
	// A few accounts start low, one with an almost empty weekly bucket, so
	// warnings and the weekly bottleneck show without waiting.
	if len(w.Accounts) > 3 {
		sim.SetRemaining(w.Accounts[3].Email, cloudcode.FamilyGemini, cloudcode.Window5h, 0.25)
	}
	if len(w.Accounts) > 5 { // a paid account: free ones have no Claude quota at all
		sim.SetRemaining(w.Accounts[5].Email, cloudcode.FamilyClaudeGPT, cloudcode.WindowWeekly, 0.05)
	}
	if len(w.Accounts) > 7 {
		sim.SetRemaining(w.Accounts[7].Email, cloudcode.FamilyGemini, cloudcode.WindowWeekly, 0.3)
	}
	return w
}

// StoreAccounts returns the world's accounts as store rows, ready for
// store.UpsertAccounts: the refresh tokens open the simulator only.
func (w *World) StoreAccounts() []store.Account {
	out := make([]store.Account, 0, len(w.Accounts))
	for i, a := range w.Accounts {
		out = append(out, store.Account{
			Email:        a.Email,
			Label:        names[i%len(names)],
			RefreshToken: a.RefreshToken,
			ProjectID:    a.Project,
			State:        store.StateActive,
		})
	}
	return out
}

// Close stops the simulator.
func (w *World) Close() { w.Sim.Close() }
