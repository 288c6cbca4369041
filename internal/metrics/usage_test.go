package metrics

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/proxy/proxytest"
)

// finalUsage is an answer's final usage by the metrics' token type.
func finalUsage(t *testing.T, body string) map[string]float64 {
	t.Helper()
	u, err := proxytest.FinalUsage(body)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]float64{"prompt": float64(u.Prompt), "candidates": float64(u.Candidates), "thoughts": float64(u.Thoughts), "cached": float64(u.Cached)}
}

// Requests through the proxy against the simulator, a whole answer and a
// stream, reach the token counters with each answer's final usage; the
// figures they spent show as estimated until the next sync; the
// quota-reading calls of the syncs are counted.
func TestUsageSeriesFromTheProxy(t *testing.T) {
	ctx := context.Background()
	st, err := proxytest.Start(ctx, proxytest.Options{Dir: t.TempDir(),
		Accounts: []cloudcodetest.AccountSpec{{Email: "ada@example.com", TierID: "g1-pro-tier"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	m := New(st.Quota, st.Proxy)
	before := scrape(t, m)
	if got, ok := sample(before, "quotatui_remaining_estimated", L{"account": "ada@example.com", "family": "gemini"}); !ok || value(got) != 0 {
		t.Fatalf("before any request: estimated %v (%v), want 0", got, ok)
	}
	if got, ok := sample(before, "quotatui_quota_reads_last_hour", L{}); !ok || value(got) < 1 {
		t.Errorf("quota reads in the last hour after a sync: %v (%v), want at least 1", got, ok)
	}

	post := func(path, body string) string {
		t.Helper()
		resp, err := http.Post(st.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	whole := finalUsage(t, post("/v1internal:generateContent",
		`{"model":"gemini-3-flash","request":{"contents":[{"role":"user","parts":[{"text":"Write a haiku about quota."}]}]}}`))
	stream := finalUsage(t, post("/v1internal:streamGenerateContent?alt=sse",
		`{"model":"gemini-3-flash","request":{"contents":[{"role":"user","parts":[{"text":"Explain buckets at length."}]}],"generationConfig":{"thinkingConfig":{"includeThoughts":true,"thinkingBudget":256}}}}`))

	fams := scrape(t, m)
	acct := "ada@example.com"
	for _, typ := range []string{"prompt", "candidates", "thoughts", "cached"} {
		got, ok := sample(fams, "quotatui_tokens_total", L{"account": acct, "family": "gemini", "model": "gemini-3-flash", "type": typ})
		if want := whole[typ] + stream[typ]; !ok || got.GetCounter() == nil || value(got) != want {
			t.Errorf("tokens %s: %v (%v), want a counter at %v", typ, got, ok, want)
		}
	}
	if got, ok := sample(fams, "quotatui_usage_requests_total", L{"account": acct, "family": "gemini", "model": "gemini-3-flash", "result": "answered"}); !ok || value(got) != 2 {
		t.Errorf("answered requests: %v (%v), want 2", got, ok)
	}
	if got, ok := sample(fams, "quotatui_remaining_estimated", L{"account": acct, "family": "gemini"}); !ok || value(got) != 1 {
		t.Errorf("estimated after two requests: %v (%v), want 1", got, ok)
	}
	if got, ok := sample(fams, "quotatui_requests_since_sync", L{"account": acct, "family": "gemini"}); !ok || value(got) != 2 {
		t.Errorf("requests since sync: %v (%v), want 2", got, ok)
	}
	est, _ := sample(fams, "quotatui_remaining_fraction", L{"account": acct, "family": "gemini", "window": "effective"})
	synced, _ := sample(before, "quotatui_remaining_fraction", L{"account": acct, "family": "gemini", "window": "effective"})
	if est == nil || synced == nil || value(est) >= value(synced) {
		t.Errorf("effective fraction %v after two requests, %v before: want it lower", est, synced)
	}
}
