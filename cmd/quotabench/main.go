// Command quotabench measures quotatui's proxy against the simulator, all
// in-process and on loopback: concurrent clients (streaming and not,
// Gemini and Claude models, sticky sessions and one-shot calls) drain every
// account to zero, once with the pre-request check and once without, and
// then the proxy's added latency is measured against calling the
// simulator directly. It prints a table and can write it as Markdown.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/proxy/proxytest"
	"github.com/quotatui/quotatui/internal/quota"
)

type config struct {
	accounts   int
	clients    int
	after      int
	seed       uint64
	deadline   time.Duration
	cacheTTL   time.Duration
	units      int
	latencyN   int
	out        string
	simLatency time.Duration
	// The load measurement (load.go).
	concurrency []int
	loadOnly    bool
	cpuProfile  string
	memProfile  string
}

func main() {
	var c config
	flag.IntVar(&c.accounts, "accounts", 4, "accounts in the pool (tiers rotate ULTRA, PRO, FREE)")
	flag.IntVar(&c.clients, "clients", 12, "concurrent clients")
	flag.IntVar(&c.after, "after", 5, "requests each client makes once every account is spent")
	flag.Uint64Var(&c.seed, "seed", 1, "workload seed")
	flag.DurationVar(&c.deadline, "duration", 45*time.Second, "upper bound on each drain run")
	flag.DurationVar(&c.cacheTTL, "cache-ttl", 50*time.Millisecond, "quota cache TTL (the monitor's freshness)")
	flag.IntVar(&c.units, "units", 600, "5-hour bucket size of a PRO account in requests (FREE half, ULTRA double; weekly 5x)")
	flag.IntVar(&c.latencyN, "latency-requests", 2000, "requests per route and concurrency for the latency and CPU measurement (and as many direct)")
	concurrency := flag.String("concurrency", "1,8", "client concurrencies of the latency and CPU measurement, comma-separated")
	flag.BoolVar(&c.loadOnly, "latency-only", false, "run only the latency and CPU measurement, not the drain runs")
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the latency and CPU measurement to this file")
	flag.StringVar(&c.memProfile, "memprofile", "", "write an allocation profile of the latency and CPU measurement to this file")
	flag.DurationVar(&c.simLatency, "sim-latency", 2*time.Millisecond, "latency the simulator adds to each call in the drain runs")
	flag.StringVar(&c.out, "out", "", "write the results as Markdown to this file (e.g. docs/bench/proxy.md)")
	// The routing-policy simulation (routing.go).
	var (
		rc       routingConfig
		routing  bool
		policies string
	)
	flag.BoolVar(&routing, "routing", false, "run the routing-policy simulation instead: a simulated week per policy on a fake clock")
	flag.StringVar(&rc.pool, "pool", "mixed", "with -routing: the accounts, \"mixed\" (ULTRA, 2 PRO, FREE) or \"pro\" (4 PRO)")
	flag.Float64Var(&rc.load, "load", 1, "with -routing: the busier family's weekly demand over the pool's weekly capacity for it")
	flag.IntVar(&rc.weeks, "weeks", 2, "with -routing: simulated weeks measured")
	flag.IntVar(&rc.warmup, "warmup", 0, "with -routing: simulated weeks of demand before the measured ones")
	flag.StringVar(&policies, "policies", "balanced,reset-aware,fill-first,priority", "with -routing: the policies to compare, comma-separated")
	// The drain figures of issue #14 (drain.go).
	var (
		dc    drainConfig
		drain bool
	)
	flag.BoolVar(&drain, "drain", false, "run the spend-ledger drain figures instead (issue #14): upstream 429s per exhausted account, with and without outside spending, and quota reads per hour")
	flag.IntVar(&dc.accounts, "drain-accounts", 6, "with -drain: Pro accounts in the pool")
	flag.IntVar(&dc.units, "drain-units", 6, "with -drain: requests of Gemini quota per account (5-hour bucket)")
	flag.IntVar(&dc.requests, "drain-requests", 200, "with -drain: requests per run")
	flag.IntVar(&dc.concurrency, "drain-concurrency", 4, "with -drain: concurrent clients")
	flag.Float64Var(&dc.streams, "drain-streams", 0.25, "with -drain: share of streamed requests")
	flag.Float64Var(&dc.outside, "drain-outside", 0.3, "with -drain: share of units other clients spend in the second series")
	flag.IntVar(&dc.runs, "drain-runs", 5, "with -drain: runs per series")
	flag.IntVar(&dc.readAccounts, "read-accounts", 12, "with -drain: accounts of the quota-reads-per-hour measurement")
	flag.Float64Var(&dc.readSpeed, "read-speed", 120, "with -drain: how much faster than real the clock of the quota-reads measurement runs")
	flag.Parse()
	if drain {
		dc.seed, dc.out = c.seed, c.out
		if err := runDrain(context.Background(), dc, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "quotabench:", err)
			os.Exit(1)
		}
		return
	}
	if routing {
		rc.seed = c.seed
		rc.out = c.out
		p, err := parsePolicies(policies)
		if err == nil {
			rc.policies = p
			err = runRouting(context.Background(), rc, os.Stdout)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "quotabench:", err)
			os.Exit(1)
		}
		return
	}
	var err error
	if c.concurrency, err = parseInts(*concurrency); err != nil {
		fmt.Fprintln(os.Stderr, "quotabench: -concurrency:", err)
		os.Exit(2)
	}
	if err := run(context.Background(), c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quotabench:", err)
		os.Exit(1)
	}
}

// drainRun drains the pool once with the pre-request check on or off.
func drainRun(ctx context.Context, c config, preCheck bool) (result, error) {
	sp, emails := proxytest.Pool(c.accounts)
	popt := proxy.NewOptions()
	popt.PreRequestCheck = preCheck
	w := newWatcher()
	st, err := proxytest.Start(ctx, proxytest.Options{
		Accounts: sp,
		Sim:      cloudcodetest.Options{Capacity: proxytest.BucketSizes(c.units), Latency: c.simLatency, StreamInterval: time.Millisecond, Seed: int64(c.seed)},
		Quota:    quota.Options{CacheTTL: c.cacheTTL, Logger: slog.New(slog.DiscardHandler)},
		Proxy:    popt,
		Monitor:  true, MonitorInterval: time.Hour,
		WrapUpstream: func(up proxy.Upstream) proxy.Upstream {
			w.next = up
			return w
		},
	})
	if err != nil {
		return result{}, err
	}
	defer st.Close()
	t := truth{sim: st.Sim, emails: emails}
	w.truth = t // set before the first proxied call
	for email, p := range st.Projects {
		w.project[p] = email
	}
	if err := st.SyncAll(ctx); err != nil {
		return result{}, fmt.Errorf("first sync: %w", err)
	}
	res := drive(ctx, st.URL, t, c.clients, c.after, c.seed, c.deadline)
	ps := st.Proxy.Stats()
	res.proactive, res.reactive = ps.ProactiveSwitches, ps.ReactiveSwitches
	w.mu.Lock()
	defer w.mu.Unlock()
	res.upstreamGens, res.other429 = w.gens, w.other429
	for _, f := range cloudcode.Families {
		res.postSpent += w.postSpent[f]
		for _, e := range emails {
			if !t.hasQuota(e, f) {
				res.ranOut++
			}
			n := w.quota429[e+"/"+f.String()]
			res.upstream429 += n
			res.max429PerPair = max(res.max429PerPair, n)
		}
	}
	return res, nil
}

func run(ctx context.Context, c config, stdout io.Writer) error {
	if c.loadOnly {
		return runLoadOnly(ctx, c, stdout)
	}
	start := time.Now()
	on, err := drainRun(ctx, c, true)
	if err != nil {
		return fmt.Errorf("drain with pre-request check: %w", err)
	}
	off, err := drainRun(ctx, c, false)
	if err != nil {
		return fmt.Errorf("drain without pre-request check: %w", err)
	}
	lat, err := profiledLoadRun(ctx, c)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	report := render(c, on, off, lat, time.Since(start))
	fmt.Fprint(stdout, report)
	for _, r := range []result{on, off} {
		if r.sampleErrorBody != "" {
			fmt.Fprintf(os.Stderr, "sample unexpected client error: %s\n", strings.TrimSpace(r.sampleErrorBody))
		}
	}
	return writeReport(c.out, report)
}

// writeReport writes a report as Markdown to out, when one is named.
func writeReport(out, report string) error {
	if out == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(out, []byte(report+keptNotes(out)), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}

// notesMarker starts the hand-written part of a report (the profile and
// what was changed), which a new run keeps.
const notesMarker = "<!-- notes: kept by quotabench -->"

// keptNotes returns the hand-written part of an existing report, from the
// marker on, after a blank line; "" when there is none.
func keptNotes(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if i := strings.Index(string(b), notesMarker); i >= 0 {
		return "\n" + string(b[i:])
	}
	return ""
}

func pctOf(n, d int) string {
	if d == 0 {
		return "0 %"
	}
	return fmt.Sprintf("%.2f %%", 100*float64(n)/float64(d))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }

func render(c config, on, off result, lat load, took time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Proxy benchmark (cmd/quotabench)\n\n")
	fmt.Fprintf(&b, "Command: `go run ./cmd/quotabench -accounts %d -clients %d -seed %d -units %d -cache-ttl %s -sim-latency %s -latency-requests %d -concurrency %s`\n\n",
		c.accounts, c.clients, c.seed, c.units, c.cacheTTL, c.simLatency, c.latencyN, joinInts(c.concurrency))
	fmt.Fprintf(&b, "Whole stack in-process on loopback: simulator, SQLite store, auth.Tokens against the simulator's token endpoint, quota.Manager (cache TTL %s, monitor on), proxy. "+
		"%d accounts (tiers rotate ULTRA, PRO, FREE; 5h buckets of %d/%d/%d requests per family), %d clients: half Gemini and half Claude/GPT models, 30 %% streaming, half Gemini API and half Code Assist form, 70 %% in sticky sessions of 3–10 requests, 30 %% one-shot. "+
		"Each run drains every account to zero, then every client makes %d more requests. Run took %s in all.\n\n",
		c.cacheTTL, c.accounts, 2*c.units, c.units, c.units/2, c.clients, c.after, took.Round(100*time.Millisecond))
	fmt.Fprintf(&b, "| figure | pre-request check on | off (reactive only) | target |\n|---|---|---|---|\n")
	row := func(name string, x, y any, target string) {
		fmt.Fprintf(&b, "| %s | %v | %v | %s |\n", name, x, y, target)
	}
	row("client requests", on.requests, off.requests, "")
	row("answered 200", on.ok, off.ok, "")
	row("client 429 while an account still had quota for the family", fmt.Sprintf("%d (%s)", on.bad429, pctOf(on.bad429, on.requests)), fmt.Sprintf("%d (%s)", off.bad429, pctOf(off.bad429, off.requests)), "0 %")
	row("client 429 once the family was spent everywhere", on.client429-on.bad429, off.client429-off.bad429, "(expected)")
	row("other client errors", on.otherErrors, off.otherErrors, "0")
	row("(account, family) pairs that ran out", on.ranOut, off.ranOut, "")
	row("upstream QUOTA_EXHAUSTED 429s provoked (total)", on.upstream429, off.upstream429, "")
	row("… per pair that ran out (mean / max)", fmt.Sprintf("%.2f / %d", ratio(on.upstream429, on.ranOut), on.max429PerPair), fmt.Sprintf("%.2f / %d", ratio(off.upstream429, off.ranOut), off.max429PerPair), "≤ 1; 0 with the check")
	row("other upstream 429s (rate limit, bare)", on.other429, off.other429, "")
	row("upstream generate calls after the family was spent everywhere", on.postSpent, off.postSpent, "0")
	row("upstream generate calls (total)", on.upstreamGens, off.upstreamGens, "")
	row("proactive switches", on.proactive, off.proactive, "")
	row("reactive switches", on.reactive, off.reactive, "")
	row("conversations that changed account", fmt.Sprintf("%d of %d", on.sessionsSwitch, on.sessions), fmt.Sprintf("%d of %d", off.sessionsSwitch, off.sessions), "")
	row("drained every account", on.drainedAll, off.drainedAll, "yes")
	row("run time", on.took.Round(time.Millisecond), off.took.Round(time.Millisecond), "")
	b.WriteString(lat.markdown())
	b.WriteString(`
How to read it:
- "client 429 while an account still had quota" is judged against the simulator's own buckets at the moment the client got its answer.
- With the check, an account in the low zone (the engine's figure, brought forward between syncs by its estimate of the requests spent since, below 10 %, or within 3 requests of empty by that estimate) takes one request at a time and is synced (quota.Manager.CheckQuotaFresh) before each, so it is left the moment it is empty; with k requests left at most k are in flight on it.
- Without the check the proxy trusts the cached figure and learns from the upstream's 429: one per (account, family), the request in flight when it ran out (the low-zone gate still keeps it to one), retried at once on the next account. For the last account of a family that 429 is also the one "upstream call after the family was spent everywhere": it is how a reactive proxy finds out; after it nothing is sent until the reset.
- The added latency is two loopback hops against one plus the proxy's work (routing, body rewrite, JSON validation of the answer).
`)
	return b.String()
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
