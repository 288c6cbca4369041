package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/proxy/proxytest"
	"github.com/quotatui/quotatui/internal/quota"
)

// The load measurement: every route of the proxy against calling the
// simulator directly, at each concurrency, in interleaved blocks (direct,
// then each route, round after round), so that a shared machine's noise
// falls on both sides alike. Per block it records every request's latency,
// the wall time and the process's CPU time (getrusage). The simulator and
// the clients run in this process in both kinds of block and do the same
// work in both, so a route's CPU minus the direct CPU is the proxy's own:
// its HTTP server, its HTTP client to the upstream, routing and rewriting.
//
// The simulator's work is the same only when the upstream call is: a
// translated route sends a longer body (a user agent, a request id, a
// generation config, a session id), which the simulator checks at some
// cost of its own. So each route also has a twin: the simulator called
// directly with exactly the call that route sends upstream (recorded once
// through the proxy), run in the block before the route's. Route − twin is
// the proxy's own CPU without the simulator's share of the longer body.

// loadRoute is one route timed against the direct call of its kind.
type loadRoute struct {
	name, path, body string
	stream           bool // compared with the direct streamed call
}

// loadRoutes ask gemini-3-flash the same question through every route.
var loadRoutes = []loadRoute{
	{"Code Assist `/v1internal:generateContent`", "/v1internal:generateContent",
		`{"model":"gemini-3-flash","project":"x","request":{"contents":[{"role":"user","parts":[{"text":"how long does this take?"}]}]}}`, false},
	{"Gemini API `/v1beta/models/{m}:generateContent`", "/v1beta/models/gemini-3-flash:generateContent",
		`{"contents":[{"role":"user","parts":[{"text":"how long does this take?"}]}]}`, false},
	{"Anthropic `/v1/messages`", "/v1/messages",
		`{"model":"gemini-3-flash","max_tokens":1024,"messages":[{"role":"user","content":"how long does this take?"}]}`, false},
	{"OpenAI `/v1/chat/completions`", "/v1/chat/completions",
		`{"model":"gemini-3-flash","messages":[{"role":"user","content":"how long does this take?"}]}`, false},
	{"OpenAI `/v1/responses`", "/v1/responses",
		`{"model":"gemini-3-flash","input":"how long does this take?"}`, false},
	{"Code Assist `:streamGenerateContent?alt=sse`", "/v1internal:streamGenerateContent?alt=sse",
		`{"model":"gemini-3-flash","project":"x","request":{"contents":[{"role":"user","parts":[{"text":"how long does this take?"}]}]}}`, true},
	{"Anthropic `/v1/messages`, streamed", "/v1/messages",
		`{"model":"gemini-3-flash","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"how long does this take?"}]}`, true},
}

// loadRounds is how many interleaved blocks each side's requests are
// split into.
const loadRounds = 5

// loadStreamChunks is how many events the simulator's streams send in the
// load run (its default interval would make the run measure sleeps).
const loadStreamChunks = 8

// blockStats sums a side's blocks at one concurrency.
type blockStats struct {
	lat      []time.Duration
	wall     time.Duration
	cpu      time.Duration
	requests int
}

func (b *blockStats) add(o blockStats) {
	b.lat = append(b.lat, o.lat...)
	b.wall += o.wall
	b.cpu += o.cpu
	b.requests += o.requests
}

func (b *blockStats) pct(p float64) time.Duration {
	if len(b.lat) == 0 {
		return 0
	}
	slices.Sort(b.lat)
	return b.lat[min(len(b.lat)-1, int(p*float64(len(b.lat))))]
}

// perThousand is the CPU time per 1000 requests.
func (b *blockStats) perThousand() time.Duration {
	if b.requests == 0 {
		return 0
	}
	return b.cpu * 1000 / time.Duration(b.requests)
}

// rate is requests per second of wall time.
func (b *blockStats) rate() float64 {
	if b.wall <= 0 {
		return 0
	}
	return float64(b.requests) / b.wall.Seconds()
}

// loadLevel is the load measurement at one concurrency.
type loadLevel struct {
	concurrency          int
	direct, directStream blockStats
	routes               []blockStats // by loadRoutes
	twins                []blockStats // by loadRoutes: its upstream call made directly
}

// load is the whole load measurement.
type load struct {
	n      int // requests per side and concurrency
	cpuOK  bool
	levels []loadLevel
}

// loadRun measures every route against the direct call at each
// concurrency, on a pool with quota to spare.
func loadRun(ctx context.Context, c config) (load, error) {
	sp, emails := proxytest.Pool(2)
	rec := &recorder{}
	st, err := proxytest.Start(ctx, proxytest.Options{
		WrapUpstream: func(up proxy.Upstream) proxy.Upstream { rec.Upstream = up; return rec },
		Accounts:     sp,
		Sim: cloudcodetest.Options{Capacity: func(cloudcode.Tier, cloudcode.Family, cloudcode.Window) int { return 1 << 30 },
			StreamChunks: loadStreamChunks, StreamInterval: time.Microsecond},
		Quota: quota.Options{Logger: slog.New(slog.DiscardHandler)},
		Proxy: proxy.NewOptions(),
	})
	if err != nil {
		return load{}, err
	}
	defer st.Close()
	if err := st.SyncAll(ctx); err != nil {
		return load{}, fmt.Errorf("first sync: %w", err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	tok := st.Sim.AccessToken(emails[0])
	inner := `{"contents":[{"role":"user","parts":[{"text":"how long does this take?"}]}]}`
	directBody := fmt.Sprintf(`{"model":"gemini-3-flash","project":%q,"request":%s}`, st.Projects[emails[0]], inner)
	direct := loadRoute{path: st.Sim.BaseURLs()[0] + ":generateContent", body: directBody}
	directStream := loadRoute{path: st.Sim.BaseURLs()[0] + ":streamGenerateContent?alt=sse", body: directBody, stream: true}

	twins := make([]twinRoute, len(loadRoutes))
	for i, r := range loadRoutes {
		if twins[i], err = rec.twin(ctx, hc, st.URL, r, st.Sim.BaseURLs()[0]); err != nil {
			return load{}, err
		}
	}

	res := load{n: c.latencyN, cpuOK: cpuAvailable()}
	for _, conc := range c.concurrency {
		lv := loadLevel{concurrency: conc, routes: make([]blockStats, len(loadRoutes)), twins: make([]blockStats, len(loadRoutes))}
		per := max(c.latencyN/loadRounds, conc)
		// A warm-up block per side: connections, caches, the first GC.
		for _, r := range []loadRoute{direct, directStream} {
			if _, err := runBlock(ctx, hc, r, "", tok, conc, per/5+conc); err != nil {
				return load{}, err
			}
		}
		for i, r := range loadRoutes {
			if _, err := runBlock(ctx, hc, twins[i].loadRoute, "", twins[i].bearer, conc, per/5+conc); err != nil {
				return load{}, err
			}
			if _, err := runBlock(ctx, hc, r, st.URL, "", conc, per/5+conc); err != nil {
				return load{}, err
			}
		}
		for range loadRounds {
			for _, side := range []struct {
				r   loadRoute
				sum *blockStats
			}{{direct, &lv.direct}, {directStream, &lv.directStream}} {
				b, err := runBlock(ctx, hc, side.r, "", tok, conc, per)
				if err != nil {
					return load{}, err
				}
				side.sum.add(b)
			}
			for i, r := range loadRoutes {
				tb, err := runBlock(ctx, hc, twins[i].loadRoute, "", twins[i].bearer, conc, per)
				if err != nil {
					return load{}, err
				}
				lv.twins[i].add(tb)
				b, err := runBlock(ctx, hc, r, st.URL, "", conc, per)
				if err != nil {
					return load{}, err
				}
				lv.routes[i].add(b)
			}
		}
		res.levels = append(res.levels, lv)
	}
	return res, nil
}

// recorder passes the proxy's upstream calls on and, while armed, keeps
// the last one, for a route's twin.
type recorder struct {
	proxy.Upstream
	armed atomic.Bool
	mu    sync.Mutex
	last  *cloudcode.Request
}

func (r *recorder) Do(ctx context.Context, req cloudcode.Request) (*http.Response, error) {
	if r.armed.Load() {
		kept := req
		kept.Body = slices.Clone(req.Body)
		r.mu.Lock()
		r.last = &kept
		r.mu.Unlock()
	}
	return r.Upstream.Do(ctx, req)
}

// twinRoute is a route's upstream call, made straight to the simulator.
type twinRoute struct {
	loadRoute
	bearer string
}

// twin sends one request through the proxy on r and returns the call it
// made upstream, addressed to the simulator at base.
func (rec *recorder) twin(ctx context.Context, hc *http.Client, proxyURL string, r loadRoute, base string) (twinRoute, error) {
	rec.mu.Lock()
	rec.last = nil
	rec.mu.Unlock()
	rec.armed.Store(true)
	_, err := timeOne(ctx, hc, proxyURL+r.path, r.body, "")
	rec.armed.Store(false)
	if err != nil {
		return twinRoute{}, fmt.Errorf("record %s's upstream call: %w", r.name, err)
	}
	rec.mu.Lock()
	last := rec.last
	rec.mu.Unlock()
	if last == nil || last.RPC == "" || last.Path != "" {
		return twinRoute{}, fmt.Errorf("record %s's upstream call: no generation call was made", r.name)
	}
	path := base + ":" + last.RPC
	if q := last.Query.Encode(); q != "" {
		path += "?" + q
	}
	return twinRoute{loadRoute: loadRoute{name: r.name + " (its upstream call, direct)", path: path, body: string(last.Body), stream: r.stream},
		bearer: last.AccessToken}, nil
}

// runBlock makes n requests to r (under base, when r.path is relative) at
// concurrency conc and returns their latencies, wall time and CPU time.
func runBlock(ctx context.Context, hc *http.Client, r loadRoute, base, bearer string, conc, n int) (blockStats, error) {
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	lats := make([][]time.Duration, conc)
	cpu0 := processCPU()
	start := time.Now()
	for w := range conc {
		each := n / conc
		if w < n%conc {
			each++
		}
		wg.Go(func() {
			for range each {
				d, err := timeOne(ctx, hc, base+r.path, r.body, bearer)
				if err != nil {
					mu.Lock()
					first = cmpErr(first, err)
					mu.Unlock()
					return
				}
				lats[w] = append(lats[w], d)
			}
		})
	}
	wg.Wait()
	b := blockStats{wall: time.Since(start), cpu: processCPU() - cpu0, requests: n}
	for _, l := range lats {
		b.lat = append(b.lat, l...)
	}
	return b, first
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// timeOne makes one JSON POST and reads the whole answer; a status other
// than 200 is an error.
func timeOne(ctx context.Context, hc *http.Client, url, body, bearer string) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: status %d", url, resp.StatusCode)
	}
	return d, err
}

// markdown renders the load measurement.
func (l load) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nAdded latency and CPU per request, every route against calling the simulator directly (the same upstream call, gemini-3-flash; streams of %d events), "+
		"%d requests per route and concurrency in %d interleaved blocks: direct, direct streamed, then each route, round after round. "+
		"Added = route − direct of its kind (streamed routes against the direct streamed call).\n",
		loadStreamChunks, l.n, loadRounds)
	for _, lv := range l.levels {
		dir := func(r loadRoute) *blockStats {
			if r.stream {
				return &lv.directStream
			}
			return &lv.direct
		}
		fmt.Fprintf(&b, "\nConcurrency %d:\n\n", lv.concurrency)
		fmt.Fprintf(&b, "| route | p50 | added p50 | p99 | added p99 | requests/s (of direct) | CPU per 1000 requests | route − direct | the proxy's own (route − twin) |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, d := range []struct {
			name string
			s    *blockStats
		}{{"direct to the simulator", &lv.direct}, {"direct, streamed", &lv.directStream}} {
			fmt.Fprintf(&b, "| %s | %s | | %s | | %.0f | %s | | |\n", d.name, ms(d.s.pct(0.5)), ms(d.s.pct(0.99)), d.s.rate(), l.cpu(d.s.perThousand()))
		}
		for i, r := range loadRoutes {
			s, d := &lv.routes[i], dir(r)
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.0f (%.0f %%) | %s | %s | %s |\n", r.name,
				ms(s.pct(0.5)), ms(s.pct(0.5)-d.pct(0.5)), ms(s.pct(0.99)), ms(s.pct(0.99)-d.pct(0.99)),
				s.rate(), 100*s.rate()/max(d.rate(), 1e-9), l.cpu(s.perThousand()), l.own(s, d), l.own(s, &lv.twins[i]))
		}
	}
	b.WriteString("\nCPU is this process's user + system time (getrusage) over each block: the clients and the simulator run in it in both kinds of block, " +
		"so a route's figure minus the direct one is what the proxy itself spends per 1000 requests (both HTTP legs it adds, routing, rewriting, translating); " +
		"the ratio in brackets is that over the direct figure measured in the same run, which a faster or slower machine leaves about the same. " +
		"A route's twin is the simulator called directly with exactly the call that route sends upstream (a translated route's body is longer, and the simulator's checks of it cost it more): " +
		"route − twin leaves the simulator's share out of the proxy's figure; the ratio in that column is over the twin's CPU.\n")
	return b.String()
}

func (l load) cpu(d time.Duration) string {
	if !l.cpuOK {
		return "n/a"
	}
	return fmt.Sprintf("%.3f s", d.Seconds())
}

// own is the proxy's own CPU per 1000 requests of a route, and its ratio
// to the direct call's.
func (l load) own(s, d *blockStats) string {
	if !l.cpuOK {
		return "n/a"
	}
	own := s.perThousand() - d.perThousand()
	return fmt.Sprintf("%.3f s (%.2f×)", own.Seconds(), own.Seconds()/max(d.perThousand().Seconds(), 1e-9))
}

// parseInts reads a comma-separated list of positive integers.
func parseInts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// profiledLoadRun is loadRun with the CPU and allocation profiles the
// flags ask for.
func profiledLoadRun(ctx context.Context, c config) (load, error) {
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return load{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return load{}, err
		}
		defer pprof.StopCPUProfile()
	}
	if c.memProfile != "" {
		runtime.MemProfileRate = 4096
	}
	l, err := loadRun(ctx, c)
	if err == nil && c.memProfile != "" {
		err = writeHeapProfile(c.memProfile)
	}
	return l, err
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// runLoadOnly runs and prints the load measurement alone (-latency-only).
func runLoadOnly(ctx context.Context, c config, stdout io.Writer) error {
	start := time.Now()
	l, err := profiledLoadRun(ctx, c)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Proxy latency and CPU per request (cmd/quotabench -latency-only)\n\n")
	fmt.Fprintf(&b, "Command: `go run ./cmd/quotabench -latency-only -latency-requests %d -concurrency %s`; run took %s.\n",
		c.latencyN, joinInts(c.concurrency), time.Since(start).Round(100*time.Millisecond))
	b.WriteString(l.markdown())
	fmt.Fprint(stdout, b.String())
	return writeReport(c.out, b.String())
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}
