package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/quotatui/quotatui/internal/auth"
	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/logfile"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/proxy/proxytest"
	"github.com/quotatui/quotatui/internal/quota"
)

// soakConfig is what the soak run takes from the flags.
type soakConfig struct {
	duration time.Duration
	speed    float64 // simulated seconds per real second
	rate     float64 // client requests per real second
	clients  int
	accounts int
	units    int // 5-hour bucket of a PRO account, per family (FREE half, ULTRA double; weekly 5x)
	seed     uint64
	sample   time.Duration
	faults   faultMix
	dir      string
}

// faultMix is the share of generate calls given each injected fault, and
// how often an account's access tokens are revoked under it.
type faultMix struct {
	bare, capacity, hang, cut float64
	expireEvery               time.Duration
}

// minute is one sampling interval of the soak.
type minute struct {
	at       time.Duration // real time since the start, at the end of the interval
	simAt    time.Time
	outcomes [numKinds]int
	proc     procSample
	dbMB     float64 // the database file
	walMB    float64 // its write-ahead log, emptied at each checkpoint
	logMB    float64
}

// soak runs the whole stack against the simulator for c.duration with
// every fault kind mixed in, and samples the process each c.sample.
func soak(ctx context.Context, c soakConfig, progress func(string)) (soakReport, error) {
	start := time.Now()
	simStart := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	clk := clock.NewScaled(simStart, c.speed)
	logPath := filepath.Join(c.dir, "quotatui.log")
	lf, err := logfile.Open(logPath, logfile.Options{MaxBytes: 4 << 20, Keep: 2})
	if err != nil {
		return soakReport{}, err
	}
	defer lf.Close()
	log := slog.New(auth.NewRedactingHandler(slog.NewTextHandler(lf, &slog.HandlerOptions{Level: slog.LevelInfo})))

	specs, emails := proxytest.Pool(c.accounts)
	popt := proxy.NewOptions()
	popt.FirstByteTimeout = 3 * time.Second
	popt.StreamIdleTimeout = 3 * time.Second
	st, err := proxytest.Start(ctx, proxytest.Options{
		Accounts: specs,
		Clock:    clk,
		Dir:      c.dir,
		Logger:   log,
		Sim: cloudcodetest.Options{Capacity: proxytest.BucketSizes(c.units), Latency: 5 * time.Millisecond,
			StreamChunks: 4, StreamInterval: 20 * time.Millisecond, AccessTokenTTL: time.Hour, Seed: int64(c.seed)},
		Quota:   quota.Options{ClockRate: c.speed, CacheTTL: 5 * time.Minute},
		Proxy:   popt,
		Monitor: true, MonitorInterval: 5 * time.Minute,
	})
	if err != nil {
		return soakReport{}, err
	}
	defer st.Close()
	if err := st.SyncAll(ctx); err != nil {
		return soakReport{}, fmt.Errorf("first sync: %w", err)
	}
	st.Sim.SetFaults(cloudcodetest.Faults{BareRate: c.faults.bare, CapacityRate: c.faults.capacity})
	st.Sim.SetStreamFaults(cloudcodetest.StreamFaults{HangRate: c.faults.hang, CutRate: c.faults.cut})
	t := truth{sim: st.Sim, emails: emails}
	baseline := sampleProc()

	runCtx, stop := context.WithTimeout(ctx, c.duration)
	defer stop()
	var wg sync.WaitGroup
	keepCtx, stopKeep := context.WithCancel(ctx)
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		_ = st.Proxy.KeepCounters(keepCtx, st.Store, time.Minute)
	}()

	// Faults on a timer: an account's access tokens revoked (its next
	// call answers 401 and the proxy refreshes).
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(c.seed, 99))
		tick := time.NewTicker(c.faults.expireEvery)
		defer tick.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-tick.C:
				st.Sim.ExpireAccessTokens(emails[rng.IntN(len(emails))])
			}
		}
	})

	// The clients take turns from one pacer, for a steady rate overall.
	var (
		mu  sync.Mutex
		cur minute
	)
	pace := make(chan struct{})
	wg.Go(func() {
		tick := time.NewTicker(time.Duration(float64(time.Second) / c.rate))
		defer tick.Stop()
		for {
			select {
			case <-runCtx.Done():
				close(pace)
				return
			case <-tick.C:
				select {
				case pace <- struct{}{}:
				default: // every client busy: the rate is what they can do
				}
			}
		}
	})
	tr := &http.Transport{MaxIdleConnsPerHost: c.clients * 2}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	samples := []string{}
	for i := range c.clients {
		wg.Go(func() {
			q := &requester{rng: rand.New(rand.NewPCG(c.seed, uint64(i))), id: i}
			for range pace {
				r := q.next()
				status, body, readErr := send(runCtx, hc, st.URL, r)
				k := judge(runCtx, t, r, status, body, readErr)
				mu.Lock()
				cur.outcomes[k]++
				if k == servable && len(samples) < 5 {
					samples = append(samples, fmt.Sprintf("%d %s", status, strings.TrimSpace(string(body))))
				}
				mu.Unlock()
			}
		})
	}

	var mins []minute
	tick := time.NewTicker(c.sample)
	defer tick.Stop()
	db := filepath.Join(c.dir, "quotatui.db")
	for done := false; !done; {
		select {
		case <-runCtx.Done():
			done = true
		case <-tick.C:
		}
		mu.Lock()
		m := cur
		cur = minute{}
		mu.Unlock()
		if done && len(mins) > 0 && time.Since(start)-mins[len(mins)-1].at < c.sample/2 {
			// The run ended just after a sample: the requests that ended
			// since belong to it.
			for k, v := range m.outcomes {
				mins[len(mins)-1].outcomes[k] += v
			}
			break
		}
		m.at, m.simAt = time.Since(start).Round(time.Second), clk.Now()
		m.proc = sampleProc()
		m.dbMB, m.walMB = fileMB(db), fileMB(db+"-wal")
		m.logMB = fileMB(logPath, logPath+".1", logPath+".2")
		mins = append(mins, m)
		progress(fmt.Sprintf("%s: %d requests, %d servable errors, RSS %.1f MB, %d goroutines, %d files",
			m.at, total(m.outcomes), m.outcomes[servable], m.proc.rssMB, m.proc.goroutines, m.proc.files))
	}
	wg.Wait() // clients, pacer and the token revoker are done
	stats := st.Proxy.Stats()
	stopKeep()
	<-kept // the last save is done
	tr.CloseIdleConnections()
	simSpan := clk.Now().Sub(simStart)
	if err := st.Close(); err != nil {
		return soakReport{}, err
	}
	// Every goroutine the run started is gone within a few seconds.
	deadline := time.Now().Add(10 * time.Second)
	end := runtime.NumGoroutine()
	for end > baseline.goroutines && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		end = runtime.NumGoroutine()
	}
	return soakReport{cfg: c, minutes: mins, baseline: baseline, endGoroutines: end, simSpan: simSpan,
		stats: stats, samples: samples, took: time.Since(start)}, nil
}

func total(o [numKinds]int) int {
	n := 0
	for _, v := range o {
		n += v
	}
	return n
}

// soakReport is what the soak measured.
type soakReport struct {
	cfg           soakConfig
	minutes       []minute
	baseline      procSample
	endGoroutines int
	simSpan       time.Duration
	stats         proxy.Stats
	samples       []string
	took          time.Duration
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// window returns the medians of a figure over the first and the last n
// samples (the first sample left out: the process is still warming up).
func (r soakReport) window(n int, f func(minute) float64) (first, last, peak float64) {
	ms := r.minutes
	if len(ms) > 2 {
		ms = ms[1:]
	}
	n = max(1, min(n, len(ms)/2))
	var a, b []float64
	for i, m := range ms {
		v := f(m)
		peak = max(peak, v)
		if i < n {
			a = append(a, v)
		}
		if i >= len(ms)-n {
			b = append(b, v)
		}
	}
	return median(a), median(b), peak
}

func (r soakReport) markdown(command string) string {
	var b strings.Builder
	c := r.cfg
	fmt.Fprintf(&b, "## Soak run (cmd/quotasoak)\n\nCommand: `%s`\n\n", command)
	fmt.Fprintf(&b, "The whole stack in one process on loopback (simulator, SQLite store on disk, auth.Tokens, quota.Manager with its monitor, the proxy, the counters saver, a rotating log file at INFO), "+
		"on a clock running %gx (%s of real time covered %s of simulated time, so 5-hour windows reset about every %s). "+
		"%d accounts (tiers rotate ULTRA, PRO, FREE; a PRO account's 5-hour bucket holds %d requests per family), %d clients at about %g requests/s: "+
		"half Gemini and half Claude/GPT, 30 %% streaming, half in each API form, 70 %% in conversations. "+
		"Faults mixed in on the generate calls: %.1f %% bare 429s, %.1f %% 503 capacity, %.1f %% hangs after the headers (first-byte timeout 3 s), %.1f %% streams cut mid-way; "+
		"an account's access tokens revoked every %s (401, then a refresh); quota 429s as accounts run out; tokens expire every simulated hour.\n\n",
		c.speed, r.took.Round(time.Second), r.simSpan.Round(time.Minute), (5 * time.Hour / time.Duration(c.speed)).Round(time.Second),
		c.accounts, c.units, c.clients, c.rate, 100*c.faults.bare, 100*c.faults.capacity, 100*c.faults.hang, 100*c.faults.cut, c.faults.expireEvery)

	var sum [numKinds]int
	for _, m := range r.minutes {
		for k, v := range m.outcomes {
			sum[k] += v
		}
	}
	n := total(sum)
	fmt.Fprintf(&b, "| outcome | requests | share |\n|---|---|---|\n")
	for k := range numKinds {
		fmt.Fprintf(&b, "| %s | %d | %s |\n", kind(k), sum[k], pct(sum[k], n))
	}
	fmt.Fprintf(&b, "| all | %d | |\n\n", n)

	rss1, rss2, rssPeak := r.window(5, func(m minute) float64 { return m.proc.rssMB })
	heap1, heap2, heapPeak := r.window(5, func(m minute) float64 { return m.proc.heapMB })
	g1, g2, gPeak := r.window(5, func(m minute) float64 { return float64(m.proc.goroutines) })
	f1, f2, fPeak := r.window(5, func(m minute) float64 { return float64(m.proc.files) })
	d1, d2, _ := r.window(5, func(m minute) float64 { return m.dbMB + m.walMB })
	fmt.Fprintf(&b, "| figure | first 5 samples (median) | last 5 samples (median) | peak | verdict |\n|---|---|---|---|---|\n")
	flat := func(a, z, tol float64) string {
		if z <= a*(1+tol)+1 {
			return "flat"
		}
		return fmt.Sprintf("**grew %.0f %%**", 100*(z-a)/max(a, 1))
	}
	fmt.Fprintf(&b, "| RSS (MB) | %.1f | %.1f | %.1f | %s |\n", rss1, rss2, rssPeak, flat(rss1, rss2, 0.15))
	fmt.Fprintf(&b, "| Go heap in use (MB) | %.1f | %.1f | %.1f | %s |\n", heap1, heap2, heapPeak, flat(heap1, heap2, 0.25))
	fmt.Fprintf(&b, "| goroutines | %.0f | %.0f | %.0f | %s |\n", g1, g2, gPeak, flat(g1, g2, 0.15))
	fmt.Fprintf(&b, "| open files | %.0f | %.0f | %.0f | %s |\n", f1, f2, fPeak, flat(f1, f2, 0.1))
	fmt.Fprintf(&b, "| database and its write-ahead log (MB) | %.2f | %.2f | | grows with the history (kept %s) |\n", d1, d2, "30 days")
	last := r.minutes[len(r.minutes)-1]
	fmt.Fprintf(&b, "| log files (KiB, INFO) | | %.1f | | rotated at 4 MiB, 2 kept |\n", last.logMB*1024)
	fmt.Fprintf(&b, "| goroutines before the stack / after it closed | %d | %d | | %s |\n\n", r.baseline.goroutines, r.endGoroutines,
		map[bool]string{true: "none left", false: "**leak**"}[r.endGoroutines <= r.baseline.goroutines])
	s := r.stats
	fmt.Fprintf(&b, "Proxy counters at the end: %d requests, %d upstream 429s, %d client 429s, %d upstream stream breaks, %d client cancels, %d proactive and %d reactive switches.\n\n",
		s.Requests, s.Upstream429s, s.Client429s, s.UpstreamBreaks, s.ClientCancels, s.ProactiveSwitches, s.ReactiveSwitches)

	fmt.Fprintf(&b, "Per sample (%s of real time each):\n\n| real time | simulated | requests | ok | broken streams | 429 pool spent | 503 capacity | 502 gave up | SERVABLE ERRORS | other errors | RSS MB | heap MB | goroutines | files | DB MB | WAL MB |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n", c.sample)
	for _, m := range r.minutes {
		o := m.outcomes
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %d | %d | %d | %d | %.1f | %.1f | %d | %d | %.2f | %.2f |\n",
			m.at, m.simAt.Format("Jan 2 15:04"), total(o), o[okAnswer], o[broken], o[spent429], o[capacity], o[gaveUp], o[servable], o[otherError],
			m.proc.rssMB, m.proc.heapMB, m.proc.goroutines, m.proc.files, m.dbMB, m.walMB)
	}
	b.WriteString(`
How to read it:
- Each answer is judged against the simulator's own buckets when it arrived. "SERVABLE ERRORS" are client errors
  (anything but 200, an injected 503 capacity answer, or a 429 when no account had quota) while some account still had
  quota for the family: errors another account could have served. The goal is 0.
- "broken streams" are streams the simulator cut or hung after their first byte: the client already had bytes, so no
  other account could take over; the proxy ends them so the client can tell (counted as upstream breaks).
- "502 gave up" are requests whose every allowed attempt (proxy.retry_attempts, 3) met a fault the simulator drew at
  random (a cut answer, a 5xx): the bound on the work one request may cost, not a routing mistake. At the default
  fault mix about 2 % of generate calls fail that way, so about 1 request in 100 000 gives up.
- Memory, goroutines and open files are flat when the last samples' median is within a few percent of the first's
  (or below it). Goroutines and files fall over the first minutes: the first sync round opens a connection per
  call, and those the load does not need go idle and close.
- The database grows with the quota history the monitor records (a row per change of a bucket's figure) and the
  events; history is pruned after 30 days, so it grows for the whole of a shorter run. SQLite writes to the
  write-ahead log (WAL MB) and copies it into the database file (DB MB) at each checkpoint (about every 4 MB).
- The harness, the simulator and the clients live in the measured process too; their share is constant.
`)
	if len(r.samples) > 0 {
		b.WriteString("\nFirst servable errors seen:\n\n")
		for _, s := range r.samples {
			fmt.Fprintf(&b, "    %s\n", s)
		}
	}
	return b.String()
}

func pct(n, d int) string {
	if d == 0 {
		return "0 %"
	}
	return fmt.Sprintf("%.2f %%", 100*float64(n)/float64(d))
}
