package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/proxy/proxytest"
	"github.com/quotatui/quotatui/internal/quota"
)

// plenty is a bucket no run empties.
func plenty(cloudcode.Tier, cloudcode.Family, cloudcode.Window) int { return 1 << 30 }

// startPool starts the stack with n PRO accounts with quota to spare, on
// the wall clock.
func startPool(ctx context.Context, n int, popt proxy.Options, simLatency time.Duration, seed uint64) (*proxytest.Stack, []string, error) {
	var specs []cloudcodetest.AccountSpec
	var emails []string
	for i := range n {
		e := fmt.Sprintf("user%d@example.com", i+1)
		specs = append(specs, cloudcodetest.AccountSpec{Email: e, TierID: "g1-pro-tier"})
		emails = append(emails, e)
	}
	st, err := proxytest.Start(ctx, proxytest.Options{
		Accounts: specs,
		Sim:      cloudcodetest.Options{Capacity: plenty, Latency: simLatency, Seed: int64(seed), StreamInterval: time.Millisecond},
		Quota:    quota.Options{Logger: slog.New(slog.DiscardHandler)},
		Proxy:    popt,
		Monitor:  true, MonitorInterval: time.Minute,
	})
	if err != nil {
		return nil, nil, err
	}
	if err := st.SyncAll(ctx); err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("first sync: %w", err)
	}
	return st, emails, nil
}

// burstConfig is the rate-limit burst measurement's setup.
type burstConfig struct {
	rates      []float64 // shares of generate calls answered a bare 429
	accounts   int
	clients    int
	requests   int
	rate       float64 // client requests per second
	simLatency time.Duration
	seed       uint64
	cooldown   time.Duration // the proxy's first cooldown; 0 for its default
}

// burstResult is one bare-429 rate's outcome.
type burstResult struct {
	bareRate           float64
	requests, ok, c429 int
	other              int
	upstream429        uint64
	p50, p99, worst    time.Duration
	took               time.Duration
}

// bursts measures the share of client requests answered 429 while a share
// of the upstream's generate calls are 429s without details, on a pool
// with quota to spare.
func bursts(ctx context.Context, c burstConfig) ([]burstResult, error) {
	var out []burstResult
	for _, rate := range c.rates {
		popt := proxy.NewOptions()
		popt.CooldownFirst = c.cooldown
		st, _, err := startPool(ctx, c.accounts, popt, c.simLatency, c.seed)
		if err != nil {
			return nil, err
		}
		st.Sim.SetFaults(cloudcodetest.Faults{BareRate: rate})
		res := burstResult{bareRate: rate}
		var (
			mu   sync.Mutex
			lats []time.Duration
			wg   sync.WaitGroup
		)
		tr := &http.Transport{MaxIdleConnsPerHost: c.clients * 2}
		hc := &http.Client{Transport: tr}
		jobs := make(chan request)
		start := time.Now()
		for range c.clients {
			wg.Go(func() {
				for r := range jobs {
					r.family, r.model, r.stream = cloudcode.FamilyGemini, "gemini-3-flash", false
					t0 := time.Now()
					status, _, err := send(ctx, hc, st.URL, r)
					d := time.Since(t0)
					mu.Lock()
					res.requests++
					lats = append(lats, d)
					switch {
					case err == nil && status == http.StatusOK:
						res.ok++
					case status == http.StatusTooManyRequests:
						res.c429++
					default:
						res.other++
					}
					mu.Unlock()
				}
			})
		}
		pace := time.NewTicker(time.Duration(float64(time.Second) / c.rate))
		q := &requester{rng: rand.New(rand.NewPCG(c.seed, 1000))}
		for range c.requests {
			<-pace.C
			jobs <- q.next()
		}
		pace.Stop()
		close(jobs)
		wg.Wait()
		tr.CloseIdleConnections()
		res.took = time.Since(start)
		res.upstream429 = st.Proxy.Stats().Upstream429s
		if err := st.Close(); err != nil {
			return nil, err
		}
		slices.Sort(lats)
		res.p50, res.p99, res.worst = lats[len(lats)/2], lats[len(lats)*99/100], lats[len(lats)-1]
		out = append(out, res)
	}
	return out, nil
}

func renderBursts(c burstConfig, rs []burstResult, command string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Client 429s under detail-less upstream 429s\n\nCommand: `%s`\n\n", command)
	fmt.Fprintf(&b, "%d PRO accounts with quota to spare, %d clients sending %d generateContent requests (Gemini, conversations and one-shots) at %g/s, "+
		"simulator latency %s; a share of the upstream's generate calls answers the 429 with no details. Goal: under 1 %% of client requests answered 429 while the pool has quota.\n\n",
		c.accounts, c.clients, c.requests, c.rate, c.simLatency)
	fmt.Fprintf(&b, "| upstream bare 429s | client requests | answered 200 | client 429s | other errors | upstream 429s seen | client latency p50 / p99 / max |\n|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %.0f %% | %d | %d | %d (%s) | %d | %d | %s / %s / %s |\n", 100*r.bareRate, r.requests, r.ok, r.c429, pct(r.c429, r.requests), r.other, r.upstream429,
			r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond), r.worst.Round(time.Millisecond))
	}
	first := c.cooldown
	if first <= 0 {
		first = proxy.DefaultCooldownFirst
	}
	fmt.Fprintf(&b, "\nA request that meets a bare 429 moves to another account at once (it does not use up one of its attempts); its account cools down for %s, twice as long at each repeat, and a success starts it over. ", first)
	b.WriteString("" +
		"When every account is cooling down, the request waits for the first to come back (at most 5 s in all) instead of failing; the latency columns show that wait.\n")
	return b.String()
}

// hangConfig is the hung-account measurement's setup.
type hangConfig struct {
	accounts   int
	firstByte  time.Duration
	every      time.Duration // a new conversation this often
	lasting    time.Duration
	simLatency time.Duration
}

// hangResult is the time each new conversation took while one account hung.
type hangResult struct {
	how        string
	times      []time.Duration // in order
	failed     int
	hungCalls  int
	hungServed int
}

// hangs measures the time for a new conversation to be served while the
// account every new conversation would go to first hangs, before its
// headers and after them.
func hangs(ctx context.Context, c hangConfig) ([]hangResult, error) {
	var out []hangResult
	for _, how := range []string{"before the headers", "after the headers"} {
		popt := proxy.NewOptions()
		popt.FirstByteTimeout = c.firstByte
		st, _, err := startPool(ctx, c.accounts, popt, c.simLatency, 1)
		if err != nil {
			return nil, err
		}
		top := st.Quota.Rank("gemini-3-flash")[0].Label
		if how == "before the headers" {
			st.Sim.SetHang(top, true)
		} else {
			st.Sim.SetHangAfterHeaders(top, true)
		}
		res := hangResult{how: how}
		tr := &http.Transport{}
		hc := &http.Client{Transport: tr}
		end := time.Now().Add(c.lasting)
		for i := 0; time.Now().Before(end); i++ {
			t0 := time.Now()
			r := request{family: cloudcode.FamilyGemini, model: "gemini-3-flash", session: fmt.Sprintf("new-%d", i), text: fmt.Sprintf("conversation %d", i)}
			status, _, err := send(ctx, hc, st.URL, r)
			res.times = append(res.times, time.Since(t0))
			if err != nil || status != http.StatusOK {
				res.failed++
			}
			time.Sleep(c.every)
		}
		tr.CloseIdleConnections()
		res.hungCalls = st.Sim.Requests(top, "generateContent")
		st.Sim.SetHang(top, false)
		st.Sim.SetHangAfterHeaders(top, false)
		if err := st.Close(); err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, nil
}

func renderHangs(c hangConfig, rs []hangResult, command string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## A new conversation while one account hangs\n\nCommand: `%s`\n\n", command)
	fmt.Fprintf(&b, "%d PRO accounts; the one every new conversation goes to first hangs; a new conversation (generateContent) every %s for %s; first-byte timeout %s. "+
		"Goal: the first-byte timeout once, then no wait.\n\n", c.accounts, c.every, c.lasting, c.firstByte)
	fmt.Fprintf(&b, "| the account hangs | conversations | first one | the others: p50 / p99 / max | others over 100 ms | failed | calls the hung account got |\n|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		rest := slices.Clone(r.times[1:])
		slices.Sort(rest)
		slow := 0
		for _, d := range rest {
			if d > 100*time.Millisecond {
				slow++
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s / %s / %s | %d | %d | %d |\n", r.how, len(r.times), r.times[0].Round(time.Millisecond),
			rest[len(rest)/2].Round(time.Millisecond), rest[len(rest)*99/100].Round(time.Millisecond), rest[len(rest)-1].Round(time.Millisecond),
			slow, r.failed, r.hungCalls)
	}
	b.WriteString("\nThe first conversation waits out the first-byte timeout on the hung account and is then served by another. " +
		"The hung account cools down and, once its cooldown is over, ranks after every other account until it answers again, so later conversations never wait for it.\n")
	return b.String()
}
