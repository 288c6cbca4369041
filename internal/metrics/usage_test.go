package metrics

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/proxy/proxytest"
	"github.com/quotatui/quotatui/internal/quota"
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

// fakeUsageQuota adds usage totals to the fixtures' engine.
type fakeUsageQuota struct {
	*fakeQuota
	totals []quota.ModelUsage
}

func (f fakeUsageQuota) UsageTotals() []quota.ModelUsage { return f.totals }

// The usage series name a removed account by its id and requests no
// account served as "none"; an estimated family is flagged; the
// quota-reading figures come from the monitor's stats.
func TestUsageSeriesLabels(t *testing.T) {
	q, p := fixtures()
	q.statuses[0].Families[gem].Estimated, q.statuses[0].Families[gem].Requests = true, 3
	q.stats.QuotaReads, q.stats.QuotaReadsLastHour, q.stats.BusySyncs = 500, 120, 9
	q.stats.Estimate = quota.EstimateError{Readings: 4, MeanAbs: 0.03}
	uq := fakeUsageQuota{fakeQuota: q, totals: []quota.ModelUsage{
		{AccountID: 1, Family: "gemini", Model: "gemini-3-flash", Requests: 2, Errors: 1, Charged: 3, Tokens: quota.Tokens{Prompt: 10, Candidates: 5, Thoughts: 2, Cached: 4, Total: 17}},
		{AccountID: 42, Family: "gemini", Model: "gemini-3-flash", Requests: 1, Tokens: quota.Tokens{Prompt: 7}},
		{Family: "claude-gpt", Model: "claude-sonnet-4-6", Errors: 1},
	}}
	fams := scrape(t, New(uq, p))
	for _, tt := range []struct {
		name   string
		labels L
		want   float64
	}{
		{"quotatui_remaining_estimated", L{"account": "work", "family": "gemini"}, 1},
		{"quotatui_remaining_estimated", L{"account": "work", "family": "claude-gpt"}, 0},
		{"quotatui_requests_since_sync", L{"account": "work", "family": "gemini"}, 3},
		{"quotatui_tokens_total", L{"account": "work", "family": "gemini", "model": "gemini-3-flash", "type": "cached"}, 4},
		{"quotatui_tokens_total", L{"account": "#42", "family": "gemini", "model": "gemini-3-flash", "type": "prompt"}, 7},
		{"quotatui_usage_requests_total", L{"account": "work", "family": "gemini", "model": "gemini-3-flash", "result": "error"}, 1},
		{"quotatui_usage_requests_total", L{"account": "none", "family": "claude-gpt", "model": "claude-sonnet-4-6", "result": "error"}, 1},
		{"quotatui_usage_charged_total", L{"account": "work", "family": "gemini", "model": "gemini-3-flash"}, 3},
		{"quotatui_quota_reads_total", L{}, 500},
		{"quotatui_quota_reads_last_hour", L{}, 120},
		{"quotatui_busy_syncs_total", L{}, 9},
		{"quotatui_estimate_error_mean_abs", L{}, 0.03},
		{"quotatui_estimate_readings_total", L{}, 4},
	} {
		if m, ok := sample(fams, tt.name, tt.labels); !ok || value(m) != tt.want {
			t.Errorf("%s%v = %v (%v), want %v", tt.name, tt.labels, m, ok, tt.want)
		}
	}
}
