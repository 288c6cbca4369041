package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/proxy/proxytest"
	"github.com/quotatui/quotatui/internal/quota"
)

// The drain figures of issue #14 (-drain): how many upstream 429s the
// proxy provokes on the way to spending a pool, now that it counts what
// it spends. The shape is the issue's: Pro accounts with a few requests
// of Gemini quota each, a fixed number of requests at a fixed concurrency,
// a share of them streamed, most in sticky conversations. Each run is
// repeated with other clients spending a share of the units behind the
// proxy's back (the simulator's OutsideShare). Beside them: what the
// adaptive sync costs in quota-reading calls per hour, busy and idle.

// drainConfig is the -drain shape.
type drainConfig struct {
	accounts, units, requests, concurrency, runs int
	streams, outside                             float64
	seed                                         uint64
	readAccounts                                 int
	readSpeed                                    float64
	out                                          string
}

// drainRunResult is what one drain run measured.
type drainRunResult struct {
	ok, client429, avoidable429, otherErrors int
	exhausted                                int   // accounts spent by the end
	quota429                                 []int // upstream QUOTA_EXHAUSTED per exhausted account
	postSpent                                int   // upstream generate calls once no account had quota
	gens                                     int
	outsideUnits                             int
	estimate                                 quota.EstimateError
	took                                     time.Duration
}

// per429 is the mean upstream 429s per exhausted account.
func (r drainRunResult) per429() float64 {
	sum := 0
	for _, n := range r.quota429 {
		sum += n
	}
	return ratio(sum, len(r.quota429))
}

// drainOnce spends a pool of c.accounts Pro accounts with c.units Gemini
// requests each, with outside the share of units other clients spend.
func drainOnce(ctx context.Context, c drainConfig, seed uint64, outside float64) (drainRunResult, error) {
	specs := make([]cloudcodetest.AccountSpec, 0, c.accounts)
	emails := make([]string, 0, c.accounts)
	for i := range c.accounts {
		e := fmt.Sprintf("pro%d@example.com", i+1)
		specs = append(specs, cloudcodetest.AccountSpec{Email: e, TierID: "g1-pro-tier"})
		emails = append(emails, e)
	}
	units := c.units
	w := newWatcher()
	st, err := proxytest.Start(ctx, proxytest.Options{
		Accounts: specs,
		Sim: cloudcodetest.Options{StreamInterval: time.Millisecond, Seed: int64(seed), OutsideShare: outside,
			Capacity: func(_ cloudcode.Tier, _ cloudcode.Family, win cloudcode.Window) int {
				if win == cloudcode.WindowWeekly {
					return 5 * units
				}
				return units
			}},
		Quota:   quota.Options{Logger: slog.New(slog.DiscardHandler)},
		Proxy:   proxy.NewOptions(),
		Monitor: true, MonitorInterval: time.Hour,
		WrapUpstream: func(up proxy.Upstream) proxy.Upstream {
			w.next = up
			return w
		},
	})
	if err != nil {
		return drainRunResult{}, err
	}
	defer st.Close()
	t := truth{sim: st.Sim, emails: emails}
	w.truth = t
	for email, p := range st.Projects {
		w.project[p] = email
	}
	if err := st.SyncAll(ctx); err != nil {
		return drainRunResult{}, fmt.Errorf("first sync: %w", err)
	}
	res := drainDrive(ctx, st.URL, t, c, seed)
	w.mu.Lock()
	res.gens = w.gens
	res.postSpent = w.postSpent[cloudcode.FamilyGemini]
	for _, e := range emails {
		res.outsideUnits += st.Sim.OutsideSpent(e, cloudcode.FamilyGemini)
		if !t.hasQuota(e, cloudcode.FamilyGemini) {
			res.exhausted++
			res.quota429 = append(res.quota429, w.quota429[e+"/"+cloudcode.FamilyGemini.String()])
		}
	}
	w.mu.Unlock()
	res.estimate = st.Quota.EstimateError()
	return res, nil
}

// drainDrive sends c.requests Gemini requests at c.concurrency: a share
// c.streams streamed, half in the Gemini API form and half Code Assist,
// 80 % in sticky conversations of 3–10 requests.
func drainDrive(ctx context.Context, base string, t truth, c drainConfig, seed uint64) drainRunResult {
	tr := &http.Transport{MaxIdleConnsPerHost: c.concurrency * 2}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	var (
		res  drainRunResult
		mu   sync.Mutex
		left atomic.Int64
		wg   sync.WaitGroup
	)
	left.Store(int64(c.requests))
	start := time.Now()
	models := proxytest.Models[cloudcode.FamilyGemini]
	for client := range c.concurrency {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(client)))
			session, turns := "", 0
			for left.Add(-1) >= 0 && ctx.Err() == nil {
				oneShot := rng.IntN(10) < 2
				if !oneShot && turns == 0 {
					session, turns = fmt.Sprintf("c%d-%d", client, rng.Uint32()), 3+rng.IntN(8)
				}
				sid, text := "", fmt.Sprintf("one-shot %d %d", client, rng.Uint64())
				if !oneShot {
					sid, text = session, "conversation "+session
					turns--
				}
				stream := rng.Float64() < c.streams
				status, _, _ := call(ctx, hc, base, models[rng.IntN(len(models))], text, sid, stream, rng.IntN(2) == 0)
				mu.Lock()
				switch status {
				case 200:
					res.ok++
				case 429:
					res.client429++
					if t.anyQuota(cloudcode.FamilyGemini) {
						res.avoidable429++
					}
				default:
					res.otherErrors++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.took = time.Since(start)
	return res
}

// drainSeries is c.runs drain runs with one share of outside spending.
type drainSeries struct {
	outside float64
	runs    []drainRunResult
}

func (s drainSeries) median429() float64 {
	v := make([]float64, 0, len(s.runs))
	for _, r := range s.runs {
		v = append(v, r.per429())
	}
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// max429 is the most upstream 429s any exhausted account took in a run.
func (s drainSeries) max429() int {
	m := 0
	for _, r := range s.runs {
		for _, n := range r.quota429 {
			m = max(m, n)
		}
	}
	return m
}

// sum adds f over the runs.
func (s drainSeries) sum(f func(drainRunResult) int) int {
	n := 0
	for _, r := range s.runs {
		n += f(r)
	}
	return n
}

// maxOf is the largest f over the runs.
func (s drainSeries) maxOf(f func(drainRunResult) int) int {
	m := 0
	for _, r := range s.runs {
		m = max(m, f(r))
	}
	return m
}

// estimate is the mean absolute estimate error over every run's readings.
func (s drainSeries) estimate() (float64, int64) {
	var sum float64
	var n int64
	for _, r := range s.runs {
		sum += r.estimate.MeanAbs * float64(r.estimate.Readings)
		n += r.estimate.Readings
	}
	if n == 0 {
		return 0, 0
	}
	return sum / float64(n), n
}

// readsPerHour runs the stack with n accounts on a clock speed times
// faster than real for one hour of its time, busy (a request on each
// account's conversation every 15 s) or idle, and counts the quota-reading
// calls the simulator got.
func readsPerHour(ctx context.Context, n int, speed float64, busy bool) (int, error) {
	specs := make([]cloudcodetest.AccountSpec, 0, n)
	for i := range n {
		specs = append(specs, cloudcodetest.AccountSpec{Email: fmt.Sprintf("acct%d@example.com", i+1), TierID: "g1-pro-tier"})
	}
	clk := clock.NewScaled(time.Now().UTC().Truncate(time.Second), speed)
	st, err := proxytest.Start(ctx, proxytest.Options{
		Accounts: specs, Clock: clk,
		Sim:   cloudcodetest.Options{StreamInterval: time.Millisecond, Capacity: func(cloudcode.Tier, cloudcode.Family, cloudcode.Window) int { return 100000 }},
		Quota: quota.Options{Logger: slog.New(slog.DiscardHandler), ClockRate: speed},
		Proxy: proxy.NewOptions(),
		// The monitor's interval is real time: 5 minutes of the clock's.
		Monitor: true, MonitorInterval: time.Duration(float64(5*time.Minute) / speed),
	})
	if err != nil {
		return 0, err
	}
	defer st.Close()
	reads := func() int {
		total := 0
		for _, s := range specs {
			for _, rpc := range []string{"loadCodeAssist", "fetchAvailableModels", "retrieveUserQuotaSummary", "retrieveUserQuota"} {
				total += st.Sim.Requests(s.Email, rpc)
			}
		}
		return total
	}
	// The monitor's first round is the start, not the hour: wait for it.
	deadline := time.Now().Add(30 * time.Second)
	for st.Quota.MonitorStats().SyncsRun < 1 {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the monitor's first round did not finish")
		}
		time.Sleep(10 * time.Millisecond)
	}
	from, begin := reads(), clk.Now()
	end := begin.Add(time.Hour)
	tr := &http.Transport{MaxIdleConnsPerHost: 2 * n}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	tick := time.Duration(float64(15*time.Second) / speed)
	var wg sync.WaitGroup
	if busy {
		for i := range n {
			wg.Go(func() {
				for next := begin; clk.Now().Before(end) && ctx.Err() == nil; next = next.Add(15 * time.Second) {
					_, _, _ = call(ctx, hc, st.URL, "gemini-3-flash", "busy", fmt.Sprintf("conv-%d", i), false, false)
					time.Sleep(tick)
				}
			})
		}
	}
	for clk.Now().Before(end) && ctx.Err() == nil {
		time.Sleep(tick)
	}
	wg.Wait()
	// Scale to exactly one hour of the clock's time.
	got := float64(reads()-from) * float64(time.Hour) / float64(clk.Now().Sub(begin))
	return int(got + 0.5), nil
}

// runDrain runs the drain figures and prints (and writes) their report.
func runDrain(ctx context.Context, c drainConfig, stdout io.Writer) error {
	start := time.Now()
	var series []drainSeries
	for _, share := range []float64{0, c.outside} {
		s := drainSeries{outside: share}
		for i := range c.runs {
			r, err := drainOnce(ctx, c, c.seed+uint64(i), share)
			if err != nil {
				return fmt.Errorf("drain run %d (outside %.0f %%): %w", i+1, 100*share, err)
			}
			s.runs = append(s.runs, r)
		}
		series = append(series, s)
	}
	busy, err := readsPerHour(ctx, c.readAccounts, c.readSpeed, true)
	if err != nil {
		return fmt.Errorf("quota reads, busy: %w", err)
	}
	idle, err := readsPerHour(ctx, c.readAccounts, c.readSpeed, false)
	if err != nil {
		return fmt.Errorf("quota reads, idle: %w", err)
	}
	report := renderDrain(c, series, busy, idle, time.Since(start))
	fmt.Fprint(stdout, report)
	return writeReport(c.out, report)
}

func renderDrain(c drainConfig, series []drainSeries, busy, idle int, took time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Drain with the spend ledger (issue #14)\n\n")
	fmt.Fprintf(&b, "Command: `go run ./cmd/quotabench -drain -drain-accounts %d -drain-units %d -drain-requests %d -drain-concurrency %d -drain-streams %.2f -drain-outside %.2f -drain-runs %d -seed %d -read-accounts %d -read-speed %g`\n\n",
		c.accounts, c.units, c.requests, c.concurrency, c.streams, c.outside, c.runs, c.seed, c.readAccounts, c.readSpeed)
	fmt.Fprintf(&b, "%d Pro accounts × %d requests of Gemini quota each (5-hour bucket; weekly 5×), %d Gemini requests at concurrency %d, %.0f %% streamed, "+
		"80 %% in sticky conversations of 3–10 requests, half Gemini API and half Code Assist form; whole stack in-process with the pre-request check on. "+
		"%d runs each (seeds %d…%d); took %s. Preliminary: measured on a shared 2-core machine.\n\n",
		c.accounts, c.units, c.requests, c.concurrency, 100*c.streams, c.runs, c.seed, c.seed+uint64(c.runs)-1, took.Round(100*time.Millisecond))
	fmt.Fprintf(&b, "| figure | no outside spending | %.0f %% of units spent outside the proxy | target |\n|---|---|---|---|\n", 100*c.outside)
	row := func(name string, f func(s drainSeries) string, target string) {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", name, f(series[0]), f(series[1]), target)
	}
	row("upstream QUOTA_EXHAUSTED 429s per exhausted account: median of runs / max", func(s drainSeries) string {
		return fmt.Sprintf("%.2f / %d", s.median429(), s.max429())
	}, "0 / ≤ 1 (≤ 1 with outside spending)")
	row("… per run (mean per exhausted account)", func(s drainSeries) string {
		v := make([]string, 0, len(s.runs))
		for _, r := range s.runs {
			v = append(v, fmt.Sprintf("%.2f", r.per429()))
		}
		return strings.Join(v, ", ")
	}, "")
	row("exhausted accounts per run (min–max)", func(s drainSeries) string {
		lo := s.runs[0].exhausted
		for _, r := range s.runs {
			lo = min(lo, r.exhausted)
		}
		return fmt.Sprintf("%d–%d", lo, s.maxOf(func(r drainRunResult) int { return r.exhausted }))
	}, fmt.Sprint(c.accounts))
	row("avoidable client 429s (an account still had quota), all runs", func(s drainSeries) string {
		return fmt.Sprint(s.sum(func(r drainRunResult) int { return r.avoidable429 }))
	}, "0")
	row("upstream generate calls after the family was spent everywhere, all runs", func(s drainSeries) string {
		return fmt.Sprint(s.sum(func(r drainRunResult) int { return r.postSpent }))
	}, "0")
	row("answered 200 / client 429 / other errors, all runs", func(s drainSeries) string {
		return fmt.Sprintf("%d / %d / %d", s.sum(func(r drainRunResult) int { return r.ok }), s.sum(func(r drainRunResult) int { return r.client429 }),
			s.sum(func(r drainRunResult) int { return r.otherErrors }))
	}, "")
	row("units spent outside the proxy, all runs", func(s drainSeries) string {
		return fmt.Sprint(s.sum(func(r drainRunResult) int { return r.outsideUnits }))
	}, "")
	row("upstream generate calls, all runs", func(s drainSeries) string {
		return fmt.Sprint(s.sum(func(r drainRunResult) int { return r.gens }))
	}, "")
	row("estimate error: mean absolute difference, estimate − next synced figure (readings)", func(s drainSeries) string {
		e, n := s.estimate()
		return fmt.Sprintf("%.3f (%d)", e, n)
	}, "reported")
	fmt.Fprintf(&b, "\nQuota-reading calls (loadCodeAssist, fetchAvailableModels, retrieveUserQuotaSummary) per hour at %d accounts, one hour of a clock %g× faster than real, monitor every 5 min, adaptive sync on (defaults):\n\n", c.readAccounts, c.readSpeed)
	fmt.Fprintf(&b, "| accounts | busy (a request on every account every 15 s) | idle |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| %d | %d (%.0f per account) | %d (%.0f per account) |\n", c.readAccounts, busy, float64(busy)/float64(c.readAccounts), idle, float64(idle)/float64(c.readAccounts))
	b.WriteString(`
How to read it:
- An upstream QUOTA_EXHAUSTED 429 is one the proxy provoked: the watcher between the proxy and the simulator counts them per account. "Exhausted" is judged on the simulator's own buckets at the end.
- Every request the proxy completes is entered in the engine's ledger; between syncs the account's figure is the synced one less the learned cost of the requests since (the prior, 20 requests per 5-hour bucket, until the first readings). Within 3 requests of empty by that estimate an account takes one request at a time and is read again before each; with k requests left at most k are in flight on it.
- With outside spending the simulator spends the stated share of every account's units alongside the proxy's calls; the proxy sees only the figures fall faster than its own spending explains.
`)
	return b.String()
}
