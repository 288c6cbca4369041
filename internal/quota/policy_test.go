package quota

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/config"
	"github.com/quotatui/quotatui/internal/store"
)

// acct describes one account's Gemini figures for the ordering tests: the
// 5-hour and weekly fractions (negative: unknown) and how long until each
// resets, its tier and the user's routing choices.
type acct struct {
	name       string
	tier       cloudcode.Tier
	five, week float64
	fiveIn     time.Duration
	weekIn     time.Duration
	prio       int
	usedAgo    time.Duration // 0: never used
	mark       bool          // a cooldown mark: not usable
	units      float64       // learned 5h bucket size in requests (weekly: 5×); 0 unknown
}

// status builds the Status the engine would hold for a at now.
func (a acct) status(id int64, now time.Time) Status {
	s := Status{AccountID: id, Label: a.name, Tier: a.tier, State: StateActive, EngineState: StateActive,
		Routing: Routing{Priority: a.prio}}
	for i, f := range cloudcode.Families {
		s.Families[i].Family = f
	}
	fq := &s.Families[0]
	if a.five >= 0 {
		fq.FiveHour = BucketQuota{Remaining: cloudcode.KnownFraction(a.five), ResetTime: now.Add(a.fiveIn)}
	}
	if a.week >= 0 {
		fq.Weekly = BucketQuota{Remaining: cloudcode.KnownFraction(a.week), ResetTime: now.Add(a.weekIn)}
	}
	if a.mark {
		s.Marks[0] = Mark{Kind: CooldownMark, Until: now.Add(time.Minute)}
	}
	fq.Units5h, fq.UnitsWeekly = a.units, 5*a.units
	return s
}

// order ranks the accounts for a Gemini model under p at t0, through the
// same candidate builder and comparison Rank uses, and returns their names.
func order(p Policy, accts []acct) []string {
	cands := make([]Candidate, len(accts))
	for i, a := range accts {
		s := a.status(int64(i+1), t0)
		var used time.Time
		if a.usedAgo > 0 {
			used = t0.Add(-a.usedAgo)
		}
		cands[i] = newCandidate(int64(i+1), &s, &s.Families[0], 0, "gemini-3-flash", t0, DefaultThresholds, used)
	}
	sort.SliceStable(cands, func(i, j int) bool { return p.less(&cands[i], &cands[j]) })
	names := make([]string, len(cands))
	for i, c := range cands {
		names[i] = c.Label
	}
	return names
}

const (
	day  = 24 * time.Hour
	none = -1.0 // an unknown figure
)

func TestPolicyOrders(t *testing.T) {
	pro, ultra, free := cloudcode.TierPro, cloudcode.TierUltra, cloudcode.TierFree
	tests := []struct {
		name   string
		policy Policy
		accts  []acct
		want   []string
	}{
		{
			name:   "balanced: tier, then most left, then least recently used, unusable last",
			policy: PolicyBalanced,
			accts: []acct{
				{name: "spent-ultra", tier: ultra, five: 1, week: 1, fiveIn: time.Hour, weekIn: 6 * day, mark: true},
				{name: "pro-50-used", tier: pro, five: 0.5, week: 1, fiveIn: time.Hour, weekIn: 6 * day, usedAgo: time.Minute},
				{name: "pro-50", tier: pro, five: 0.5, week: 1, fiveIn: time.Hour, weekIn: 6 * day},
				{name: "pro-unknown", tier: pro, five: none, week: none},
				{name: "free-full", tier: free, five: 1, week: 1, fiveIn: time.Hour, weekIn: 6 * day},
				{name: "ultra-low", tier: ultra, five: 0.05, week: 1, fiveIn: time.Hour, weekIn: 6 * day},
				{name: "pro-80", tier: pro, five: 0.8, week: 1, fiveIn: 4 * time.Hour, weekIn: 6 * day},
			},
			want: []string{"ultra-low", "pro-80", "pro-50", "pro-50-used", "pro-unknown", "free-full", "spent-ultra"},
		},
		{
			name:   "reset-aware: soonest expiry first; a weekly behind pace waits; low zone and unknown after",
			policy: PolicyResetAware,
			accts: []acct{
				{name: "fresh-4h", tier: ultra, five: 1, week: 0.95, fiveIn: 4 * time.Hour, weekIn: 6 * day},
				{name: "60%-in-20m", tier: pro, five: 0.6, week: 0.9, fiveIn: 20 * time.Minute, weekIn: 6 * day},
				// Its 5h resets soonest, but its weekly (20 %, five days to go)
				// is behind pace: its units are lost only at the weekly reset.
				{name: "weekly-behind", tier: ultra, five: 0.9, week: 0.2, fiveIn: 10 * time.Minute, weekIn: 5 * day},
				{name: "low-in-5m", tier: pro, five: 0.05, week: 0.9, fiveIn: 5 * time.Minute, weekIn: 6 * day},
				{name: "unknown", tier: ultra, five: none, week: none},
				{name: "spent", tier: ultra, five: 0, week: 0.5, fiveIn: 5 * time.Minute, weekIn: 6 * day},
				// Weekly resets tomorrow with plenty left: ahead of pace, so its
				// 5h reset counts; it is the second to go.
				{name: "70%-in-1h", tier: free, five: 0.7, week: 0.8, fiveIn: time.Hour, weekIn: day},
			},
			want: []string{"60%-in-20m", "70%-in-1h", "fresh-4h", "weekly-behind", "low-in-5m", "unknown", "spent"},
		},
		{
			name:   "reset-aware ties: within one spend-by step and at one weekly pace, most left, then tier, then least recently used",
			policy: PolicyResetAware,
			accts: []acct{
				{name: "pro-60-in-21m", tier: pro, five: 0.6, week: 1, fiveIn: 21 * time.Minute, weekIn: 6 * day},
				{name: "pro-70-in-25m", tier: pro, five: 0.7, week: 1, fiveIn: 25 * time.Minute, weekIn: 6 * day},
				{name: "ultra-30-in-29m", tier: ultra, five: 0.3, week: 1, fiveIn: 29 * time.Minute, weekIn: 6 * day},
				{name: "pro-70-in-25m-used", tier: pro, five: 0.7, week: 1, fiveIn: 25 * time.Minute, weekIn: 6 * day, usedAgo: time.Minute},
				{name: "pro-90-in-31m", tier: pro, five: 0.9, week: 1, fiveIn: 31 * time.Minute, weekIn: 6 * day},
			},
			want: []string{"pro-70-in-25m", "pro-70-in-25m-used", "pro-60-in-21m", "ultra-30-in-29m", "pro-90-in-31m"},
		},
		{
			name:   "reset-aware: only a weekly figure known",
			policy: PolicyResetAware,
			accts: []acct{
				{name: "weekly-only-2d", tier: pro, five: none, week: 0.9, weekIn: 2 * day},
				{name: "weekly-only-1d", tier: pro, five: none, week: 0.9, weekIn: day},
				{name: "five-in-3h", tier: pro, five: 0.9, week: none, fiveIn: 3 * time.Hour},
			},
			want: []string{"five-in-3h", "weekly-only-1d", "weekly-only-2d"},
		},
		{
			name:   "reset-aware with learned sizes: what is lost within a window first, soonest first; then the weekly furthest ahead of pace; little room after",
			policy: PolicyResetAware,
			accts: []acct{
				// Its weekly (2 windows' worth) drains in time only with full
				// use from 2h from now: urgent, spend by then.
				{name: "kept-by-2h", tier: pro, five: 0.5, week: 0.4, fiveIn: time.Hour, weekIn: 12 * time.Hour, units: 100},
				// Its weekly holds 4.5 windows, more than the 2.2 it can serve
				// before the weekly resets: this window's leftover is lost in 2h.
				{name: "surplus-in-3h", tier: pro, five: 0.6, week: 0.9, fiveIn: 3 * time.Hour, weekIn: 10 * time.Hour, units: 100},
				// Nothing lost soon: ordered by how far ahead of pace.
				{name: "ahead-19", tier: pro, five: 0.9, week: 0.9, fiveIn: time.Hour, weekIn: 5 * day, units: 100},
				{name: "ahead-9-ultra", tier: ultra, five: 1, week: 0.8, fiveIn: time.Hour, weekIn: 5 * day, units: 400},
				// Urgent, but room for 20 requests only: kept for the
				// conversations already on it.
				{name: "urgent-little-room", tier: pro, five: 0.2, week: 0.9, fiveIn: 30 * time.Minute, weekIn: 10 * time.Hour, units: 100},
			},
			want: []string{"kept-by-2h", "surplus-in-3h", "ahead-19", "ahead-9-ultra", "urgent-little-room"},
		},
		{
			name:   "fill-first: started windows, most used first; untouched ones kept, best tier first; low and unknown after",
			policy: PolicyFillFirst,
			accts: []acct{
				{name: "untouched-pro", tier: pro, five: 1, week: 1, fiveIn: 5 * time.Hour, weekIn: 6 * day},
				{name: "started-60", tier: pro, five: 0.6, week: 0.9, fiveIn: 3 * time.Hour, weekIn: 6 * day},
				{name: "untouched-ultra", tier: ultra, five: 1, week: 1, fiveIn: 5 * time.Hour, weekIn: 6 * day},
				{name: "low", tier: pro, five: 0.05, week: 0.9, fiveIn: time.Hour, weekIn: 6 * day},
				{name: "started-30", tier: free, five: 0.3, week: 0.9, fiveIn: 2 * time.Hour, weekIn: 6 * day},
				{name: "unknown", tier: ultra, five: none, week: none},
				{name: "started-30-ultra", tier: ultra, five: 0.3, week: 0.9, fiveIn: 2 * time.Hour, weekIn: 6 * day},
			},
			want: []string{"started-30-ultra", "started-30", "started-60", "untouched-ultra", "untouched-pro", "low", "unknown"},
		},
		{
			name:   "priority: higher first, balanced within one priority, unusable last whatever its priority",
			policy: PolicyPriority,
			accts: []acct{
				{name: "p0-ultra", tier: ultra, five: 1, week: 1, fiveIn: time.Hour, weekIn: 6 * day},
				{name: "p2-free", tier: free, five: 1, week: 1, fiveIn: time.Hour, weekIn: 6 * day, prio: 2},
				{name: "p2-ultra", tier: ultra, five: 0.2, week: 1, fiveIn: time.Hour, weekIn: 6 * day, prio: 2},
				{name: "p-1-ultra", tier: ultra, five: 1, week: 1, fiveIn: time.Hour, weekIn: 6 * day, prio: -1},
				{name: "p9-cooling", tier: ultra, five: 1, week: 1, fiveIn: time.Hour, weekIn: 6 * day, prio: 9, mark: true},
				{name: "p2-free-unknown", tier: free, five: none, week: none, prio: 2},
				{name: "p2-free-60", tier: free, five: 0.6, week: 1, fiveIn: time.Hour, weekIn: 6 * day, prio: 2},
			},
			want: []string{"p2-ultra", "p2-free", "p2-free-60", "p2-free-unknown", "p0-ultra", "p-1-ultra", "p9-cooling"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The input order must not matter.
			for range 5 {
				in := slices.Clone(tt.accts)
				rand.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
				if got := order(tt.policy, in); !slices.Equal(got, tt.want) {
					t.Fatalf("order\n got  %v\n want %v", got, tt.want)
				}
			}
		})
	}
}

// Under every policy the order is a strict weak order (so sorting is
// well defined), Best is Rank's first usable candidate, and usable
// accounts come first. Random figures, resets, tiers and priorities.
func TestPolicyOrdersAreConsistent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	fig := func() float64 {
		switch r.IntN(6) {
		case 0:
			return none
		case 1:
			return 1
		case 2:
			return 0
		}
		return float64(r.IntN(21)) / 20
	}
	for _, p := range Policies {
		for round := range 200 {
			var accts []acct
			for i := range 2 + r.IntN(8) {
				accts = append(accts, acct{
					name: string(rune('a' + i)), tier: cloudcode.Tier(r.IntN(4)),
					five: fig(), week: fig(),
					fiveIn: time.Duration(r.IntN(300)) * time.Minute, weekIn: time.Duration(r.IntN(7*24)) * time.Hour,
					prio: r.IntN(3), usedAgo: time.Duration(r.IntN(3)) * time.Minute, mark: r.IntN(8) == 0,
				})
			}
			m := managerOf(t, p, accts)
			ranked := m.Rank("gemini-3-flash")
			for i := 0; i+1 < len(ranked); i++ {
				if p.less(&ranked[i+1], &ranked[i]) {
					t.Fatalf("%s round %d: %s sorted before %s but less says otherwise", p, round, ranked[i].Label, ranked[i+1].Label)
				}
				if !ranked[i].Check.Usable && ranked[i+1].Check.Usable {
					t.Fatalf("%s round %d: unusable %s before usable %s", p, round, ranked[i].Label, ranked[i+1].Label)
				}
			}
			for i := range ranked {
				for j := range ranked {
					for k := range ranked {
						a, b, c := &ranked[i], &ranked[j], &ranked[k]
						if p.less(a, b) && p.less(b, c) && !p.less(a, c) {
							t.Fatalf("%s round %d: not transitive: %s < %s < %s", p, round, a.Label, b.Label, c.Label)
						}
					}
				}
			}
			best, ok := m.Best("gemini-3-flash")
			if ok != ranked[0].Check.Usable || ok && best.AccountID != ranked[0].AccountID {
				t.Fatalf("%s round %d: Best = %s (ok %v), Rank's first = %s", p, round, best.Label, ok, ranked[0].Label)
			}
		}
	}
}

// managerOf is a Manager holding the accounts' statuses at t0 under
// policy p, with no store or upstream: for the ranking alone.
func managerOf(t testing.TB, p Policy, accts []acct) *Manager {
	t.Helper()
	opt := Options{Policy: p}.withDefaults()
	m := &Manager{opt: opt, clock: fixedClock(t0)}
	m.costs.init()
	all := map[int64]*account{}
	for i, a := range accts {
		id := int64(i + 1)
		ac := &account{id: id}
		ac.snap.Store(&snapshot{status: a.status(id, t0)})
		if a.usedAgo > 0 {
			ac.lastUsed.Store(t0.Add(-a.usedAgo).UnixNano())
		}
		all[id] = ac
	}
	m.accts.Store(&all)
	return m
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// The manager ranks by the policy it was given, through Rank and Best,
// on figures synced from the simulator with windows that started at
// different times.
func TestRankFollowsThePolicy(t *testing.T) {
	specs := []cloudcodetest.AccountSpec{
		{Email: "early@example.com", TierID: "g1-pro-tier"},
		{Email: "ultra@example.com", TierID: "g1-ultra-tier"},
	}
	want := map[Policy][]string{
		// Tier first.
		PolicyBalanced: {"ultra", "late", "early"},
		// The early account's window resets first; the ultra one's weekly
		// is behind pace and waits.
		PolicyResetAware: {"early", "late", "ultra"},
		// The started windows first, most used first; the untouched last.
		PolicyFillFirst: {"ultra", "early", "late"},
		// late has priority 1.
		PolicyPriority: {"late", "ultra", "early"},
	}
	for _, p := range Policies {
		t.Run(p.String(), func(t *testing.T) {
			e := newEnv(t, cloudcodetest.Options{}, Options{Policy: p}, specs...)
			e.clk.Advance(2 * time.Hour) // late's windows start two hours after the others'
			e.addAccount(cloudcodetest.AccountSpec{Email: "late@example.com", TierID: "g1-pro-tier"})
			e.setRouting("late@example.com", store.Routing{Priority: 1})
			e.srv.SetRemaining("early@example.com", cloudcode.FamilyGemini, cloudcode.Window5h, 0.9)
			e.srv.SetRemaining("ultra@example.com", cloudcode.FamilyGemini, cloudcode.Window5h, 0.5)
			e.srv.SetRemaining("ultra@example.com", cloudcode.FamilyGemini, cloudcode.WindowWeekly, 0.5)
			e.m.SyncAll(context.Background())
			if e.m.Policy() != p {
				t.Fatalf("Policy() = %s", e.m.Policy())
			}
			var got []string
			for _, c := range e.m.Rank("gemini-3-flash") {
				got = append(got, strings.TrimSuffix(c.Label, "@example.com"))
			}
			if !slices.Equal(got, want[p]) {
				t.Errorf("Rank = %v, want %v", got, want[p])
			}
			if best, _ := e.m.Best("gemini-3-flash"); strings.TrimSuffix(best.Label, "@example.com") != want[p][0] {
				t.Errorf("Best = %s, want %s", best.Label, want[p][0])
			}
		})
	}
}

// addAccount adds an account to the simulator now (its windows start
// now) and to the store, and reloads the manager.
func (e *env) addAccount(spec cloudcodetest.AccountSpec) {
	e.t.Helper()
	ctx := context.Background()
	a := e.srv.AddAccount(spec)
	rows, err := e.st.UpsertAccounts(ctx, []store.Account{{Email: a.Email, RefreshToken: a.RefreshToken}})
	if err != nil {
		e.t.Fatal(err)
	}
	e.ids[a.Email] = rows[0].ID
	e.tokens.mu.Lock()
	e.tokens.emails[rows[0].ID] = a.Email
	e.tokens.mu.Unlock()
	if err := e.m.Reload(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// The dashboard's "why" comes from the criterion that decided, for the
// selected account against its neighbour, per family.
func TestStandings(t *testing.T) {
	accts := []acct{
		{name: "soon", tier: cloudcode.TierPro, five: 0.6, week: 0.9, fiveIn: 20 * time.Minute, weekIn: 6 * day},
		{name: "later", tier: cloudcode.TierUltra, five: 1, week: 0.95, fiveIn: 4 * time.Hour, weekIn: 6 * day},
		{name: "cooling", tier: cloudcode.TierUltra, five: 1, week: 1, fiveIn: time.Hour, weekIn: 6 * day, mark: true},
	}
	m := managerOf(t, PolicyResetAware, accts)
	tests := []struct {
		id   int64
		pos  int
		want string
	}{
		{1, 1, "ahead of later: its units expire sooner (in 20m, 5h reset vs in 4h00m, 5h reset)"},
		{2, 2, "behind soon: its units expire sooner (in 20m, 5h reset vs in 4h00m, 5h reset)"},
		{3, 0, "not routed: " + ReasonCooldown},
	}
	for _, tt := range tests {
		st := m.Standings(tt.id)
		if len(st) != len(cloudcode.Families) {
			t.Fatalf("%d standings, want one per family", len(st))
		}
		g := st[0]
		if g.Family != cloudcode.FamilyGemini || g.Policy != PolicyResetAware || g.Position != tt.pos || g.Usable != 2 || g.Why != tt.want {
			t.Errorf("account %d: %+v\nwant position %d of 2, why %q", tt.id, g, tt.pos, tt.want)
		}
	}
	if m.Standings(99) != nil {
		t.Error("Standings of an unknown account")
	}
	// Balanced on the same figures: tier decides.
	m = managerOf(t, PolicyBalanced, accts)
	if got := m.Standings(1)[0].Why; got != "behind later: higher tier (ULTRA over PRO)" {
		t.Errorf("balanced why = %q", got)
	}
	m = managerOf(t, PolicyBalanced, accts[:1])
	if got := m.Standings(1)[0]; got.Position != 1 || got.Why != "the only account that can take it" {
		t.Errorf("alone: %+v", got)
	}
}

// ParsePolicy takes exactly the names the routing.policy setting allows,
// and an unknown one is an error that lists them.
func TestParsePolicy(t *testing.T) {
	if !slices.Equal(PolicyNames(), config.RoutingPolicies()) {
		t.Errorf("quota knows %v, the config allows %v", PolicyNames(), config.RoutingPolicies())
	}
	for _, p := range Policies {
		got, err := ParsePolicy(p.String())
		if err != nil || got != p {
			t.Errorf("ParsePolicy(%q) = %v, %v", p, got, err)
		}
	}
	_, err := ParsePolicy("round-robin")
	if err == nil || !strings.Contains(err.Error(), `"round-robin"`) || !strings.Contains(err.Error(), "balanced, reset-aware, fill-first, priority") {
		t.Errorf("ParsePolicy(round-robin): %v", err)
	}
}

// BenchmarkBest1000 is what the dashboard and the proxy's stats ask every
// second: the best account for a model among 1000, under each policy.
func BenchmarkBest1000(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 7))
	accts := make([]acct, 1000)
	for i := range accts {
		accts[i] = acct{name: fmt.Sprint(i), tier: cloudcode.Tier(1 + r.IntN(3)), five: r.Float64(), week: r.Float64(),
			fiveIn: time.Duration(r.IntN(300)) * time.Minute, weekIn: time.Duration(r.IntN(168)) * time.Hour, units: 100}
	}
	for _, p := range Policies {
		m := managerOf(b, p, accts)
		b.Run(p.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := m.Best("gemini-3-flash"); !ok {
					b.Fatal("no best")
				}
			}
		})
	}
}
