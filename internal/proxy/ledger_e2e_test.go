package proxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/proxy/proxytest"
	"github.com/quotatui/quotatui/internal/quota"
)

// usageWatch wraps the proxy's upstream and keeps the final usageMetadata
// of the last generate answer, parsed on its own (the ground truth the
// ledger must match), for every answer shape the upstream sends.
type usageWatch struct {
	next proxy.Upstream
	mu   sync.Mutex
	last quota.Tokens
}

func (u *usageWatch) Do(ctx context.Context, r cloudcode.Request) (*http.Response, error) {
	resp, err := u.next.Do(ctx, r)
	if err != nil || r.RPC != "generateContent" && r.RPC != "streamGenerateContent" {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	var docs [][]byte
	if r.RPC == "generateContent" {
		docs = append(docs, b)
	} else {
		for _, line := range strings.Split(string(b), "\n") {
			if d, ok := strings.CutPrefix(line, "data: "); ok {
				docs = append(docs, []byte(d))
			}
		}
	}
	var tok quota.Tokens
	for _, d := range docs {
		var env struct {
			Response struct {
				UsageMetadata *struct {
					Prompt     int64 `json:"promptTokenCount"`
					Candidates int64 `json:"candidatesTokenCount"`
					Thoughts   int64 `json:"thoughtsTokenCount"`
					Cached     int64 `json:"cachedContentTokenCount"`
					Total      int64 `json:"totalTokenCount"`
				} `json:"usageMetadata"`
			} `json:"response"`
		}
		if json.Unmarshal(d, &env) == nil && env.Response.UsageMetadata != nil {
			m := env.Response.UsageMetadata
			tok = quota.Tokens{Prompt: m.Prompt, Candidates: m.Candidates, Thoughts: m.Thoughts, Cached: m.Cached, Total: m.Total}
		}
	}
	u.mu.Lock()
	u.last = tok
	u.mu.Unlock()
	return resp, nil
}

func (u *usageWatch) Last() quota.Tokens {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

// totals adds up the engine's ledger totals over every model.
func totals(m *quota.Manager) quota.ModelUsage {
	var sum quota.ModelUsage
	for _, u := range m.UsageTotals() {
		sum.Charged += u.Charged
		sum.Requests += u.Requests
		sum.Errors += u.Errors
		sum.Tokens.Add(u.Tokens)
	}
	return sum
}

// TestLedgerRecordsEveryShape (#14.1): every request the proxy completes,
// in every API shape, streamed or not, is entered once in the engine's
// ledger with the final usageMetadata the upstream sent (prompt,
// candidates, thoughts, cached), and the account's estimate falls by one
// request each time.
func TestLedgerRecordsEveryShape(t *testing.T) {
	w := &usageWatch{}
	e := startWith(t, func(o *proxytest.Options) {
		o.WrapUpstream = func(up proxy.Upstream) proxy.Upstream { w.next = up; return w }
	})
	long := strings.Repeat("context ", 800) // past the implicit cache's minimum
	claude := map[string]string{"anthropic-version": "2023-06-01", "User-Agent": "claude-cli/2.0 (external, cli)"}
	cases := []struct {
		name, path, body string
		hdr              map[string]string
		thoughts, cached bool
	}{
		{name: "code assist", path: "/v1internal:generateContent",
			body: `{"model":"gemini-3-flash","project":"p","request":{"contents":[{"role":"user","parts":[{"text":"` + long + `"}]}],"sessionId":"conv"}}`},
		{name: "code assist, cached prefix", path: "/v1internal:generateContent", cached: true,
			body: `{"model":"gemini-3-flash","project":"p","request":{"contents":[{"role":"user","parts":[{"text":"` + long + `"}]},{"role":"model","parts":[{"text":"ok"}]},{"role":"user","parts":[{"text":"more"}]}],"sessionId":"conv"}}`},
		{name: "code assist stream", path: "/v1internal:streamGenerateContent?alt=sse",
			body: `{"model":"gemini-3-flash","project":"p","request":{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}}`},
		{name: "gemini api, thinking", path: "/v1beta/models/gemini-3-pro-high:generateContent", thoughts: true,
			body: `{"contents":[{"role":"user","parts":[{"text":"think"}]}],"generationConfig":{"thinkingConfig":{"includeThoughts":true,"thinkingBudget":1024}}}`},
		{name: "gemini api stream", path: "/v1beta/models/gemini-3-flash:streamGenerateContent?alt=sse",
			body: `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`},
		{name: "anthropic", path: "/v1/messages", hdr: claude,
			body: `{"model":"claude-sonnet-4-6","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`},
		{name: "anthropic stream, thinking", path: "/v1/messages", hdr: claude, thoughts: true,
			body: `{"model":"claude-opus-4-6-thinking","max_tokens":4000,"stream":true,"thinking":{"type":"enabled","budget_tokens":2000},"messages":[{"role":"user","content":"think"}]}`},
		{name: "openai chat", path: "/v1/chat/completions",
			body: `{"model":"gemini-3-flash","messages":[{"role":"user","content":"hi"}]}`},
		{name: "openai chat stream", path: "/v1/chat/completions",
			body: `{"model":"gemini-3-flash","stream":true,"messages":[{"role":"user","content":"hi"}]}`},
		{name: "openai responses", path: "/v1/responses",
			body: `{"model":"gemini-3-flash","input":"hi"}`},
	}
	for _, tc := range cases {
		before := totals(e.st.Quota)
		resp, body := e.post(tc.path, tc.body, tc.hdr)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d: %s", tc.name, resp.StatusCode, body)
		}
		after := totals(e.st.Quota)
		want := w.Last()
		got := after.Tokens
		got.Prompt, got.Candidates, got.Thoughts, got.Cached, got.Total = got.Prompt-before.Tokens.Prompt, got.Candidates-before.Tokens.Candidates,
			got.Thoughts-before.Tokens.Thoughts, got.Cached-before.Tokens.Cached, got.Total-before.Tokens.Total
		if after.Requests-before.Requests != 1 || after.Charged-before.Charged != 1 || after.Errors != before.Errors {
			t.Errorf("%s: ledger moved by %d requests, %d charged, %d errors; want 1, 1, 0", tc.name,
				after.Requests-before.Requests, after.Charged-before.Charged, after.Errors-before.Errors)
		}
		if got != want || want.Prompt == 0 || want.Candidates == 0 || want.Total == 0 {
			t.Errorf("%s: ledger counted %+v, the upstream's final usage was %+v", tc.name, got, want)
		}
		if tc.thoughts != (want.Thoughts > 0) || tc.cached != (want.Cached > 0) {
			t.Errorf("%s: usage %+v; want thoughts %v, cached %v (is the simulator's usage realistic?)", tc.name, want, tc.thoughts, tc.cached)
		}
	}
	// Ten requests, each counted against its account's estimate.
	var spent int64
	for _, st := range e.st.Quota.GetAllQuotas() {
		for _, fq := range st.Families {
			spent += fq.Requests
			if fq.Requests > 0 && !fq.Estimated {
				t.Errorf("%s %s: %d requests since the sync but not marked estimated", st.Label, fq.Family, fq.Requests)
			}
		}
	}
	if spent != int64(len(cases)) {
		t.Errorf("the estimates count %d requests since the sync, want %d", spent, len(cases))
	}
	// The next sync replaces every estimate with the figure it reads.
	for _, em := range emails {
		e.sync(em)
	}
	for _, st := range e.st.Quota.GetAllQuotas() {
		for _, fq := range st.Families {
			if fq.Estimated || fq.Requests != 0 {
				t.Errorf("%s %s after a sync: estimated %v, %d requests since; want the synced figure", st.Label, fq.Family, fq.Estimated, fq.Requests)
			}
			if want := e.st.Sim.Remaining(st.Email, fq.Family, cloudcode.Window5h); fq.FiveHour.Remaining.Value != want {
				t.Errorf("%s %s after a sync: 5h %v, the simulator has %v", st.Label, fq.Family, fq.FiveHour.Remaining, want)
			}
		}
	}
}

// TestLedgerFailedRequestIsAnError: a request no account could answer,
// and a stream the client left, count as errors with no tokens; only
// what the upstream accepted is charged.
func TestLedgerFailedRequestIsAnError(t *testing.T) {
	e := startE2E(t, true)
	for _, em := range emails {
		e.st.Sim.Drain(em, cloudcode.FamilyClaudeGPT)
		e.sync(em)
	}
	before := totals(e.st.Quota)
	if resp, body := e.generate("claude-sonnet-4-6", "s"); resp.StatusCode != 429 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	after := totals(e.st.Quota)
	if after.Errors-before.Errors != 1 || after.Requests != before.Requests || after.Charged != before.Charged || after.Tokens != before.Tokens {
		t.Errorf("a refused request moved the ledger from %+v to %+v; want one error, nothing charged", before, after)
	}
	// A stream the upstream breaks after its first events was charged,
	// and is an error: its partial usage is not counted as tokens.
	for _, em := range emails {
		e.st.Sim.CutStreams(em, 2)
	}
	before = totals(e.st.Quota)
	resp, _ := e.post("/v1internal:streamGenerateContent?alt=sse", `{"model":"gemini-3-flash","project":"p","request":{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}}`, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200 and then a broken stream", resp.StatusCode)
	}
	after = totals(e.st.Quota)
	if after.Errors-before.Errors != 1 || after.Charged-before.Charged != 1 || after.Requests != before.Requests || after.Tokens != before.Tokens {
		t.Errorf("a broken stream moved the ledger from %+v to %+v; want one charged error, no tokens", before, after)
	}
}

// quotaReads counts the quota-reading calls the simulator got for an
// account.
func (e *e2e) quotaReads(email string) int {
	n := 0
	for _, rpc := range []string{"retrieveUserQuota", "retrieveUserQuotaSummary", "fetchAvailableModels"} {
		n += e.st.Sim.Requests(email, rpc)
	}
	return n
}

// TestE2ERecheckFiresFromTheEstimate (#14.3), the issue's own case: a
// conversation on an account synced at 0.30 (6 requests left, far above
// the low zone). The figure the engine synced does not move until the
// next sync, but the estimate falls with each request: within fewLeft
// requests of empty the account is read again before each request, and
// when it is spent the conversation moves before the request, with no
// upstream 429. Before the estimate the re-check never fired here: every
// account went 6 successes, a 429, a resync.
func TestE2ERecheckFiresFromTheEstimate(t *testing.T) {
	e := startWith(t, func(o *proxytest.Options) {
		o.Proxy.PreRequestCheck = true
		// Buckets of 20 requests (the prior's guess), 100 a week.
		o.Sim.Capacity = func(_ cloudcode.Tier, _ cloudcode.Family, w cloudcode.Window) int {
			if w == cloudcode.WindowWeekly {
				return 100
			}
			return 20
		}
	})
	a := emails[0]
	e.st.Sim.SetRemaining(a, cloudcode.FamilyGemini, cloudcode.Window5h, 0.30)
	for _, em := range emails[1:] {
		e.st.Sim.SetRemaining(em, cloudcode.FamilyGemini, cloudcode.Window5h, 0.20)
	}
	r0 := e.quotaReads(a)
	for _, em := range emails {
		e.sync(em)
	}
	perSync := e.quotaReads(a) - r0 // the calls one sync makes
	if perSync <= 0 {
		t.Fatalf("a sync made %d quota-reading calls", perSync)
	}
	var readsBefore []int // reads of a made for each request
	for i := range 7 {
		r0 := e.quotaReads(a)
		resp, body := e.generate("gemini-3-flash", "conv")
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: status %d: %s", i+1, resp.StatusCode, body)
		}
		got := resp.Header.Get("X-Quotatui-Account")
		readsBefore = append(readsBefore, (e.quotaReads(a)-r0)/perSync)
		if want := a; i == 6 {
			if got == a {
				t.Errorf("request 7 went to %s, spent by then; want another account", a)
			}
		} else if got != want {
			t.Errorf("request %d went to %s, want %s (6 left)", i+1, got, want)
		}
	}
	// Syncs of a before each request. 6 left: requests 1–3 find 6, 5, 4
	// (no sync); 4–6 find 3, 2, 1 (synced first); request 7 finds 0 by
	// the estimate, syncs, moves.
	want := []int{0, 0, 0, 1, 1, 1, 1}
	for i := range want {
		if readsBefore[i] != want[i] {
			t.Errorf("quota reads before each request: %v, want %v", readsBefore, want)
			break
		}
	}
	if n := e.st.Proxy.Stats().Upstream429s; n != 0 {
		t.Errorf("%d upstream 429s, want 0", n)
	}
	if n := e.gens(a); n != 6 {
		t.Errorf("%d generate calls reached %s with 6 units, want 6", n, a)
	}
}

// TestChargeCountedWhenAccepted: a generation counts against the
// account's estimate the moment the upstream accepts it, not when its
// answer ends: a sync read while a stream is still running already shows
// it, and the estimate must not take it off that figure again.
func TestChargeCountedWhenAccepted(t *testing.T) {
	e := startE2E(t, true)
	for _, em := range emails {
		e.st.Sim.SetHangAfterHeaders(em, true)
	}
	requests := func() int64 {
		var n int64
		for _, st := range e.st.Quota.GetAllQuotas() {
			n += st.Families[0].Requests + st.Families[1].Requests
		}
		return n
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.st.URL+"/v1internal:streamGenerateContent?alt=sse",
		strings.NewReader(`{"model":"gemini-3-flash","project":"p","request":{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}}`))
	req.Header.Set("Content-Type", "application/json")
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := e.client.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for requests() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the accepted request is not counted while its answer is pending (%d counted)", requests())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	// The client left: the request is recorded as a charged error, and
	// not counted a second time.
	deadline = time.Now().Add(10 * time.Second)
	for totals(e.st.Quota).Errors != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the abandoned request was never recorded")
		}
		time.Sleep(time.Millisecond)
	}
	if n := requests(); n != 1 {
		t.Errorf("%d requests counted against the estimates, want 1", n)
	}
	if got := totals(e.st.Quota); got.Charged != 1 {
		t.Errorf("ledger %+v, want 1 charged", got)
	}
}
