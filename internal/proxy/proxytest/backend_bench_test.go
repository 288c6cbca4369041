package proxytest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/proxy/proxytest"
	"github.com/quotatui/quotatui/internal/store/pg/pgtest"
)

// BenchmarkAddedLatencyByBackend measures the proxy's latency on each
// database against calling the simulator directly: the whole stack on
// loopback (client → proxy → simulator), one Gemini generateContent per
// side per iteration, interleaved so both see the same machine. What the
// database adds is the session bindings (in memory on SQLite; cached,
// written through and announced on PostgreSQL) and the marks and
// counters written behind the request. "conversation" continues one
// conversation; "new-conversation" starts one per request (a binding
// written each time). It reports the medians and 99th percentiles of
// both sides (proxy-p50-us, direct-p50-us, ...) and the median's
// difference (added-p50-us). PostgreSQL needs QUOTATUI_TEST_POSTGRES.
func BenchmarkAddedLatencyByBackend(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		for _, conv := range []string{"conversation", "new-conversation"} {
			b.Run(backend+"/"+conv, func(b *testing.B) {
				opt := proxytest.Options{
					Sim:   cloudcodetest.Options{Capacity: func(cloudcode.Tier, cloudcode.Family, cloudcode.Window) int { return 1 << 30 }},
					Proxy: proxy.NewOptions(),
				}
				opt.Accounts, _ = proxytest.Pool(2)
				if backend == "postgres" {
					opt.Postgres = pgtest.URL(b)
				}
				benchAddedLatency(b, opt, conv == "new-conversation")
			})
		}
	}
}

func benchAddedLatency(b *testing.B, opt proxytest.Options, newConv bool) {
	ctx := context.Background()
	st, err := proxytest.Start(ctx, opt)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.SyncAll(ctx); err != nil {
		b.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	email := "user1@example.com"
	tok := st.Sim.AccessToken(email)
	inner := `{"contents":[{"role":"user","parts":[{"text":"how long does this take?"}]}]}`
	direct := fmt.Sprintf(`{"model":"gemini-3-flash","project":%q,"request":%s}`, st.Projects[email], inner)
	proxied := `{"model":"gemini-3-flash","project":"x","request":` + inner + `}`
	call := func(url, body, bearer, session string) time.Duration {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		if session != "" {
			req.Header.Set("x-session-id", session)
		}
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("%s: %d %v", url, resp.StatusCode, err)
		}
		return d
	}
	session := func(i int) string {
		if newConv {
			return fmt.Sprintf("bench-%d", i)
		}
		return "bench"
	}
	for i := range 50 { // warm up: connections, caches, the binding
		call(st.Sim.BaseURLs()[0]+":generateContent", direct, tok, "")
		call(st.URL+"/v1internal:generateContent", proxied, "", session(-1-i))
	}
	viaProxy, straight := make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		straight = append(straight, call(st.Sim.BaseURLs()[0]+":generateContent", direct, tok, ""))
		viaProxy = append(viaProxy, call(st.URL+"/v1internal:generateContent", proxied, "", session(i)))
	}
	b.StopTimer()
	pct := func(ds []time.Duration, p float64) float64 {
		slices.Sort(ds)
		return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))]) / float64(time.Microsecond)
	}
	b.ReportMetric(pct(viaProxy, 0.5), "proxy-p50-us")
	b.ReportMetric(pct(viaProxy, 0.99), "proxy-p99-us")
	b.ReportMetric(pct(straight, 0.5), "direct-p50-us")
	b.ReportMetric(pct(straight, 0.99), "direct-p99-us")
	b.ReportMetric(pct(viaProxy, 0.5)-pct(straight, 0.5), "added-p50-us")
}
