package main

// The routing-policy simulation (-routing): a week of simulated work
// replayed through the whole stack once per policy, on a fake clock, so a
// week takes seconds. The simulator's own 5-hour and weekly windows decide
// what each account has; the real proxy (session binding, the quota
// engine's Rank under the policy, the pre-request check) decides where each
// request goes; the harness only schedules the demand, plays the monitor
// (a sync round every 5 simulated minutes), and reads the simulator's
// buckets just before each reset to count what was left in them.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/proxy/proxytest"
	"github.com/quotatui/quotatui/internal/quota"
	"github.com/quotatui/quotatui/internal/store"
)

// routingConfig is the simulation's setup.
type routingConfig struct {
	seed     uint64
	pool     string        // "mixed" or "pro"
	load     float64       // weekly demand per family over the pool's weekly capacity for it
	weeks    int           // simulated weeks measured
	span     time.Duration // when set, the measured time instead of weeks (tests)
	warmup   int           // simulated weeks of demand before them
	policies []quota.Policy
	out      string
}

// pools are the account sets the simulation can run: tier ids in order.
var pools = map[string][]string{
	// One of each plan, a second PRO: the product's typical user.
	"mixed": {"g1-ultra-tier", "g1-pro-tier", "g1-pro-tier", "free-tier"},
	// Four accounts of one plan: tiers do not decide, the policy does.
	"pro": {"g1-pro-tier", "g1-pro-tier", "g1-pro-tier", "g1-pro-tier"},
}

// simWeek is the first Monday 00:00 UTC of the simulated demand.
var simWeek = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

// Demand shape. Conversations arrive as a Poisson process whose rate
// follows a working week; each is a run of requests a minute or two apart
// on one family, as an agentic tool makes them.
const (
	claudeShare    = 0.6 // of conversations: Claude Code and friends
	meanExtraReqs  = 20  // requests per conversation: 5 + geometric(mean 20), at most 80
	minReqs        = 5
	maxReqs        = 80
	minGap, maxGap = 30 * time.Second, 150 * time.Second
)

// hourly is the relative arrival rate by hour of a working day (Mon–Fri):
// idle nights, a morning burst, lunch, the afternoon, some evening work.
var hourly = [24]float64{
	0, 0, 0, 0, 0, 0, 0, 0.05,
	0.3, 1, 1, 0.9, 0.3, 0.8, 1, 1,
	0.9, 0.5, 0.3, 0.15, 0.2, 0.15, 0.05, 0,
}

// weekendHourly is Saturday's shape (Sunday has half of it).
var weekendHourly = [24]float64{
	0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0.05, 0.1, 0.15, 0.15, 0.15, 0.1,
	0.05, 0, 0, 0, 0.05, 0.05, 0, 0,
}

// rateAt is the relative arrival rate at t. A working day is busier or
// quieter as a whole (day factor) and in bursts (hour factor).
func rateAt(t time.Time, day, hour float64) float64 {
	switch t.Weekday() {
	case time.Saturday:
		return weekendHourly[t.Hour()]
	case time.Sunday:
		return weekendHourly[t.Hour()] / 2
	}
	return hourly[t.Hour()] * day * hour
}

// simRequest is one request of the demand.
type simRequest struct {
	at    time.Time
	conv  int
	model string
	fam   cloudcode.Family
}

// demand draws the requests of weeks of work from seed at peak rate
// conversations per hour, sorted by time (conversations numbered from 1). The same seed gives the same
// demand, so every policy meets the same week.
func demand(seed uint64, weeks int, peak float64) []simRequest {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	var out []simRequest
	conv := 0
	end := simWeek.Add(time.Duration(weeks) * 7 * 24 * time.Hour)
	var day, hour float64
	for t := simWeek; t.Before(end); t = t.Add(time.Minute) {
		if t.Hour() == 0 && t.Minute() == 0 {
			day = 0.7 + 0.6*rng.Float64()
		}
		if t.Minute() == 0 {
			hour = 0.5 + rng.Float64()
		}
		lambda := peak * rateAt(t, day, hour) / 60 // per minute
		if lambda <= 0 || rng.Float64() >= 1-math.Exp(-lambda) {
			continue
		}
		conv++
		fam, model := cloudcode.FamilyGemini, proxytest.Models[cloudcode.FamilyGemini][rng.IntN(len(proxytest.Models[cloudcode.FamilyGemini]))]
		if rng.Float64() < claudeShare {
			fam, model = cloudcode.FamilyClaudeGPT, proxytest.Models[cloudcode.FamilyClaudeGPT][rng.IntN(len(proxytest.Models[cloudcode.FamilyClaudeGPT]))]
		}
		n := minReqs
		for n < maxReqs && rng.Float64() >= 1.0/meanExtraReqs {
			n++
		}
		at := t.Add(time.Duration(rng.IntN(60)) * time.Second)
		for range n {
			out = append(out, simRequest{at: at, conv: conv, model: model, fam: fam})
			at = at.Add(minGap + time.Duration(rng.Int64N(int64(maxGap-minGap))))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// expectedPerPeak is the expected number of requests per family share
// over weeks at a peak rate of one conversation per hour: the integral of
// the arrival rate (day and hour factors average 1) times the mean
// conversation length.
func expectedPerPeak(weeks int) float64 {
	var convs float64
	for d := range 7 {
		t := simWeek.Add(time.Duration(d) * 24 * time.Hour)
		for h := range 24 {
			convs += rateAt(t.Add(time.Duration(h)*time.Hour), 1, 1)
		}
	}
	// Mean length of 5 + geometric, capped: close enough to 5 + 20.
	return convs * float64(weeks) * (minReqs + meanExtraReqs)
}

// demandSummary describes the measured weeks' demand.
type demandSummary struct {
	convs, requests int
	busiest         float64 // the busier family's weekly requests over the pool's weekly capacity for it
}

func summarize(reqs []simRequest, c routingConfig, capacity int) demandSummary {
	from := simWeek.Add(time.Duration(c.warmup) * 7 * 24 * time.Hour)
	convs := map[int]bool{}
	perFam := map[cloudcode.Family]int{}
	var d demandSummary
	for _, r := range reqs {
		if r.at.Before(from) {
			continue
		}
		convs[r.conv] = true
		perFam[r.fam]++
		d.requests++
	}
	d.convs = len(convs)
	for _, n := range perFam {
		d.busiest = max(d.busiest, float64(n)/float64(c.weeks)/float64(capacity))
	}
	return d
}

// bucketRef is one simulator bucket the harness watches.
type bucketRef struct {
	email    string
	fam      cloudcode.Family
	win      cloudcode.Window
	capacity int
	reset    time.Time
}

// routingResult is one policy's measured weeks.
type routingResult struct {
	policy        quota.Policy
	requests      int
	served        int
	client429     int
	otherErrors   int
	lostWeekly    int // units left in weekly windows at their reset
	left5h        int // units left in 5h windows at their reset, as far as the weekly bucket had them
	stockEnd      int // units left in the weekly buckets at the end
	conversations int // with at least one request answered
	switches      int // changes of account between two answered requests of one conversation
	convsSwitched int
	upstream429   uint64
	learned       int // (account, family) pairs whose bucket sizes the engine learned
	took          time.Duration
	sampleError   string
}

// routingRun replays reqs through a fresh stack under policy p.
func routingRun(ctx context.Context, c routingConfig, p quota.Policy, reqs []simRequest) (routingResult, error) {
	res := routingResult{policy: p}
	started := time.Now()
	begin := simWeek
	measureFrom := simWeek.Add(time.Duration(c.warmup) * 7 * 24 * time.Hour)
	end := measureFrom.Add(time.Duration(c.weeks) * 7 * 24 * time.Hour)
	if c.span > 0 {
		end = measureFrom.Add(c.span)
	}
	clk := clock.NewFake(begin.Add(-7 * 24 * time.Hour))
	st, err := proxytest.Start(ctx, proxytest.Options{
		// The simulator's default buckets, named so the harness can count units.
		Sim:   cloudcodetest.Options{Capacity: cloudcodetest.DefaultCapacity},
		Quota: quota.Options{Policy: p, Logger: slog.New(slog.DiscardHandler)},
		Proxy: proxy.NewOptions(),
		Clock: clk,
	})
	if err != nil {
		return res, err
	}
	defer st.Close()
	buckets, err := addPool(ctx, st, clk, pools[c.pool], begin)
	if err != nil {
		return res, err
	}

	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	const syncEvery = 5 * time.Minute // the monitor's default round
	nextSync := begin.Add(syncEvery)
	dirty := false // something changed since the last round
	measuring := false
	var up429Before uint64
	last := map[int]string{}
	switched := map[int]bool{}
	answered := map[int]bool{}
	i := 0
	for {
		// The next event: a request, a monitor round or a bucket reset;
		// resets first at equal times.
		next := end
		if i < len(reqs) && reqs[i].at.Before(next) {
			next = reqs[i].at
		}
		if nextSync.Before(next) {
			next = nextSync
		}
		rb := earliestReset(buckets)
		if rb != nil && !rb.reset.After(next) && rb.reset.Before(end) {
			next = rb.reset
		}
		if !measuring && !next.Before(measureFrom) {
			measuring, up429Before = true, st.Proxy.Stats().Upstream429s
		}
		if !next.Before(end) {
			break
		}
		if rb != nil && rb.reset.Equal(next) {
			// Read what the windows ending now still hold just before, then
			// touch them at the reset (a poller does within minutes),
			// which starts their next windows.
			var due []*bucketRef
			for _, b := range buckets {
				if b.reset.Equal(next) {
					due = append(due, b)
				}
			}
			clk.Set(next.Add(-time.Millisecond))
			if measuring {
				for _, b := range due {
					left := units(st.Sim.Remaining(b.email, b.fam, b.win), b.capacity)
					if b.win == cloudcode.WindowWeekly {
						res.lostWeekly += left
						continue
					}
					week := bucketOf(buckets, b.email, b.fam, cloudcode.WindowWeekly)
					res.left5h += min(left, units(st.Sim.Remaining(b.email, b.fam, cloudcode.WindowWeekly), week.capacity))
				}
			}
			clk.Set(next)
			for _, b := range due {
				b.reset = touch(st.Sim, b)
			}
			dirty = true
			continue
		}
		clk.Set(next)
		if next.Equal(nextSync) {
			nextSync = nextSync.Add(syncEvery)
			if dirty {
				// Failures are the accounts' own and show as failed
				// requests if they matter.
				st.Quota.SyncAll(ctx)
				dirty = false
			}
			continue
		}
		r := reqs[i]
		i++
		dirty = true
		status, account, body := call(ctx, hc, st.URL, r.model, fmt.Sprintf("conversation %d", r.conv), fmt.Sprintf("conv-%d", r.conv), false, false)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if !measuring {
			if status == http.StatusOK {
				last[r.conv] = account
			}
			continue
		}
		res.requests++
		switch status {
		case http.StatusOK:
			res.served++
			answered[r.conv] = true
			if prev, ok := last[r.conv]; ok && prev != account {
				res.switches++
				switched[r.conv] = true
			}
			last[r.conv] = account
		case http.StatusTooManyRequests:
			res.client429++
		default:
			res.otherErrors++
			res.sampleError = fmt.Sprintf("%d %s", status, strings.TrimSpace(body))
		}
	}
	for _, b := range buckets {
		if b.win == cloudcode.WindowWeekly {
			res.stockEnd += units(st.Sim.Remaining(b.email, b.fam, b.win), b.capacity)
		}
	}
	for _, s := range st.Quota.GetAllQuotas() {
		for i := range s.Families {
			if s.Families[i].Units5h > 0 && s.Families[i].UnitsWeekly > 0 {
				res.learned++
			}
		}
	}
	res.conversations, res.convsSwitched = len(answered), len(switched)
	res.upstream429 = st.Proxy.Stats().Upstream429s - up429Before
	res.took = time.Since(started)
	return res, nil
}

// addPool adds the accounts of tiers to the simulator during the week
// before begin, a day and a half apart and at odd minutes, so their weekly
// and 5-hour windows are out of phase as with accounts a user added over
// time; keeps their windows rolling until begin; starts every weekly
// bucket on pace (holding the share of its week still to come, as if used
// evenly, so the first week loses no more than a steady one); stores the
// accounts and runs a first sync round. It returns the buckets to watch.
func addPool(ctx context.Context, st *proxytest.Stack, clk *clock.Fake, tiers []string, begin time.Time) ([]*bucketRef, error) {
	var buckets []*bucketRef
	var rows []store.Account
	week := 7 * 24 * time.Hour
	for i, tier := range tiers {
		at := begin.Add(-week + 3*time.Hour + 13*time.Minute + time.Duration(i)*(week/time.Duration(len(tiers))) + time.Duration(i)*37*time.Minute)
		advanceTouching(st.Sim, clk, buckets, at)
		email := fmt.Sprintf("acct%d-%s@example.com", i+1, strings.TrimSuffix(strings.TrimPrefix(tier, "g1-"), "-tier"))
		a := st.Sim.AddAccount(cloudcodetest.AccountSpec{Email: email, TierID: tier})
		rows = append(rows, store.Account{Email: a.Email, Label: a.Email, RefreshToken: a.RefreshToken, ProjectID: a.Project})
		t := cloudcode.NormalizeTier(tier, "")
		for _, f := range cloudcode.Families {
			for _, w := range []cloudcode.Window{cloudcode.Window5h, cloudcode.WindowWeekly} {
				buckets = append(buckets, &bucketRef{email: email, fam: f, win: w, capacity: cloudcodetest.DefaultCapacity(t, f, w), reset: st.Sim.ResetTime(email, f, w)})
			}
		}
	}
	advanceTouching(st.Sim, clk, buckets, begin)
	for _, b := range buckets {
		if b.win == cloudcode.WindowWeekly {
			st.Sim.SetRemaining(b.email, b.fam, b.win, float64(b.reset.Sub(begin))/float64(week))
		}
	}
	if _, err := st.Store.UpsertAccounts(ctx, rows); err != nil {
		return nil, err
	}
	if err := st.Quota.Reload(ctx); err != nil {
		return nil, err
	}
	if err := st.SyncAll(ctx); err != nil {
		return nil, fmt.Errorf("first sync: %w", err)
	}
	return buckets, nil
}

// units turns a remaining fraction into whole units of a bucket.
func units(fraction float64, capacity int) int {
	return int(math.Round(fraction * float64(capacity)))
}

// earliestReset returns the bucket whose window ends first.
func earliestReset(bs []*bucketRef) *bucketRef {
	var out *bucketRef
	for _, b := range bs {
		if out == nil || b.reset.Before(out.reset) {
			out = b
		}
	}
	return out
}

func bucketOf(bs []*bucketRef, email string, f cloudcode.Family, w cloudcode.Window) *bucketRef {
	for _, b := range bs {
		if b.email == email && b.fam == f && b.win == w {
			return b
		}
	}
	panic("quotabench: no bucket " + email + " " + f.String() + " " + string(w))
}

// touch reads a bucket at its reset, which starts its next window in the
// simulator, and returns when that one ends.
func touch(sim *cloudcodetest.Server, b *bucketRef) time.Time {
	sim.Remaining(b.email, b.fam, b.win)
	return sim.ResetTime(b.email, b.fam, b.win)
}

// advanceTouching moves the clock to t, touching every bucket at each of
// its resets on the way, as a poller keeps windows rolling while nobody
// uses the accounts.
func advanceTouching(sim *cloudcodetest.Server, clk *clock.Fake, bs []*bucketRef, t time.Time) {
	for {
		b := earliestReset(bs)
		if b == nil || b.reset.After(t) {
			break
		}
		clk.Set(b.reset)
		b.reset = touch(sim, b)
	}
	clk.Set(t)
}

// poolCapacity is the pool's weekly units per family.
func poolCapacity(pool string) int {
	n := 0
	for _, tier := range pools[pool] {
		n += cloudcodetest.DefaultCapacity(cloudcode.NormalizeTier(tier, ""), cloudcode.FamilyGemini, cloudcode.WindowWeekly)
	}
	return n
}

// runRouting runs the simulation for every policy and writes the table.
func runRouting(ctx context.Context, c routingConfig, stdout io.Writer) error {
	if _, ok := pools[c.pool]; !ok {
		return fmt.Errorf("unknown pool %q: want mixed or pro", c.pool)
	}
	if c.weeks < 1 {
		return errors.New("-weeks must be at least 1")
	}
	// The peak rate that makes the busier family's weekly demand load
	// times the pool's weekly capacity for it.
	peak := c.load * float64(poolCapacity(c.pool)) / (claudeShare * expectedPerPeak(1))
	reqs := demand(c.seed, c.warmup+c.weeks, peak)
	sum := summarize(reqs, c, poolCapacity(c.pool))
	start := time.Now()
	// Each policy runs on its own stack and clock: as many at once as
	// there are processors.
	results := make([]routingResult, len(c.policies))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, p := range c.policies {
		g.Go(func() error {
			r, err := routingRun(gctx, c, p, reqs)
			if err != nil {
				return fmt.Errorf("policy %s: %w", p, err)
			}
			results[i] = r
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	report := renderRouting(c, results, sum, peak, time.Since(start))
	fmt.Fprint(stdout, report)
	for _, r := range results {
		if r.sampleError != "" {
			fmt.Fprintf(os.Stderr, "%s: sample unexpected error: %s\n", r.policy, r.sampleError)
		}
	}
	return writeReport(c.out, report)
}

func renderRouting(c routingConfig, rs []routingResult, demand demandSummary, peak float64, took time.Duration) string {
	var b strings.Builder
	names := make([]string, len(c.policies))
	for i, p := range c.policies {
		names[i] = p.String()
	}
	fmt.Fprintf(&b, "# Routing policies over simulated weeks (cmd/quotabench -routing)\n\n")
	fmt.Fprintf(&b, "Command: `go run ./cmd/quotabench -routing -pool %s -load %g -weeks %d -warmup %d -seed %d -policies %s`\n\n",
		c.pool, c.load, c.weeks, c.warmup, c.seed, strings.Join(names, ","))
	fmt.Fprintf(&b, "Pool %q: %s, with the simulator's default buckets (FREE 20/100, PRO 100/500, ULTRA 400/2000 requests per family, 5h/weekly), "+
		"added 42 h apart so their windows are out of phase, every weekly bucket starting on pace. "+
		"Demand: %d measured week(s) after %d of warm-up, of a working week (idle nights, morning and afternoon bursts, light weekends): "+
		"%d conversations of %d requests on average, a request every 30–150 s, %.0f %% on Claude/GPT; peak %.1f new conversations an hour, "+
		"so the busier family's weekly demand is %.2f× the pool's weekly capacity for it (drawn: %.2f×). "+
		"Whole stack in-process on a fake clock (simulator, store, quota engine under the policy with a monitor round every 5 simulated minutes, proxy with its session binding and pre-request check); %s for all policies.\n\n",
		c.pool, strings.Join(pools[c.pool], ", "), c.weeks, c.warmup, demand.convs, demand.requests/max(demand.convs, 1), claudeShare*100, peak,
		c.load, demand.busiest, took.Round(100*time.Millisecond))
	fmt.Fprintf(&b, "| policy | requests | served | client 429s | units lost at weekly resets | weekly units left at the end | left in 5h windows at their reset | switches per conversation | conversations that switched | upstream 429s |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %d | %d | %d (%s) | %d | %d | %d | %.3f | %d of %d | %d |\n",
			r.policy, r.requests, r.served, r.client429, pctOf(r.client429, r.requests), r.lostWeekly, r.stockEnd, r.left5h,
			ratio(r.switches, r.conversations), r.convsSwitched, r.conversations, r.upstream429)
	}
	b.WriteString(`
How to read it:
- "served" and "client 429s" are what the clients got; a 429 means no account could serve the family at that moment.
- "units lost at weekly resets" is what each weekly bucket still held when its window reset: quota that is gone. Every policy starts with the same buckets and gets the same refills, so served + lost + "weekly units left at the end" is the same for all of them: what one policy does not lose it has served or still holds.
- "left in 5h windows at their reset" sums, over every 5-hour window that ended, what it still held as far as its weekly bucket had it: capacity that went unused then (mostly at night). It is not lost quota in itself, since the weekly bucket keeps those units, but a window that resets full while demand is refused elsewhere later is a lost chance.
- "switches per conversation" counts changes of account between two answered requests of one conversation, over the conversations with an answered request; a conversation keeps its account under every policy, so a switch means its account could no longer serve it.
- The simulator starts a window when it is first touched after its reset; the harness touches every bucket at its reset (a poller does within minutes), so windows keep their phase and an unused account's window is never "unstarted": fill-first cannot show that benefit here.
`)
	return b.String()
}

// parsePolicies reads -policies.
func parsePolicies(s string) ([]quota.Policy, error) {
	var out []quota.Policy
	for _, n := range strings.Split(s, ",") {
		p, err := quota.ParsePolicy(strings.TrimSpace(n))
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}
