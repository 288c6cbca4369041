package proxy

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// TestStatsAndHooks: counters by status and family, the latency window and
// hook, the routed-to labels, and /metrics behind the API key.
func TestStatsAndHooks(t *testing.T) {
	var observed atomic.Int64
	opt := NewOptions()
	opt.APIKey = testKey
	opt.OnUpstreamLatency = func(time.Duration) { observed.Add(1) }
	opt.Metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "quotatui_up 1\n") })
	h := newHarness(t, 2, opt, func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		if n == 2 {
			return nil, classified(429, bareBody)
		}
		return jsonResponse(200, okAnswer), nil
	})
	h.post("/v1internal:generateContent", genBody("gemini-3-flash", "a"), "x-api-key", testKey)
	h.post("/v1internal:generateContent", genBody("claude-sonnet-4-6", "b"), "x-api-key", testKey) // 429 then 200 on acct2
	h.post("/v1internal:generateContent", `{`, "x-api-key", testKey)
	st := h.srv.Stats()
	if st.Requests != 3 || st.RequestsByStatus[200] != 2 || st.RequestsByStatus[400] != 1 {
		t.Errorf("requests %d by status %v, want 3 with 2×200 and 1×400", st.Requests, st.RequestsByStatus)
	}
	if st.RequestsByFamily["gemini"] != 1 || st.RequestsByFamily["claude-gpt"] != 1 {
		t.Errorf("by family %v", st.RequestsByFamily)
	}
	if st.Upstream429s != 1 || st.ReactiveSwitches != 1 || st.InFlight != 0 {
		t.Errorf("upstream429s=%d reactive=%d inflight=%d", st.Upstream429s, st.ReactiveSwitches, st.InFlight)
	}
	if observed.Load() != 3 || st.LatencyP99 < st.LatencyP50 {
		t.Errorf("latency hook saw %d calls (want 3); p50 %v p99 %v", observed.Load(), st.LatencyP50, st.LatencyP99)
	}
	// acct1 is cooling down for Claude: a new Claude session would go to acct2.
	if st.RoutedTo["gemini"] != "acct1" || st.RoutedTo["claude-gpt"] != "acct2" {
		t.Errorf("RoutedTo = %v", st.RoutedTo)
	}
	for key, want := range map[string]int{"": 401, testKey: 200} {
		req, _ := http.NewRequest(http.MethodGet, h.ts.URL+"/metrics", nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := h.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("/metrics with key %q: %d, want %d", key, resp.StatusCode, want)
		}
	}
}

// TestPercentile checks the nearest-rank percentile.
func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if p := percentile(d, 0.5); p != 50*time.Millisecond {
		t.Errorf("p50 = %v", p)
	}
	if p := percentile(d, 0.99); p != 99*time.Millisecond {
		t.Errorf("p99 = %v", p)
	}
	if percentile(nil, 0.5) != 0 {
		t.Error("empty percentile should be 0")
	}
}

// testKey is an API key long enough for the proxy.
const testKey = "k-k-k-k-k-k-k-k-k"
