package proxy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/proxy/proxytest"
	"github.com/quotatui/quotatui/internal/quota"
)

// e2e is the real stack (simulator, store, auth, quota engine, proxy) on
// a fake clock, with every account synced once.
type e2e struct {
	t      *testing.T
	clk    *clock.Fake
	st     *proxytest.Stack
	client *http.Client
}

var emails = []string{"a@example.com", "b@example.com", "c@example.com"}

func startE2E(t *testing.T, preCheck bool) *e2e {
	t.Helper()
	return startE2EWrapped(t, preCheck, nil)
}

func startE2EWrapped(t *testing.T, preCheck bool, wrap func(proxy.Upstream) proxy.Upstream) *e2e {
	t.Helper()
	return startWith(t, func(o *proxytest.Options) {
		o.Proxy.PreRequestCheck = preCheck
		o.WrapUpstream = wrap
	})
}

func (e *e2e) id(email string) int64 { return e.st.IDs[email] }

// sync refreshes one account's figures in the engine.
func (e *e2e) sync(email string) {
	e.t.Helper()
	if err := e.st.Quota.SyncAccount(context.Background(), e.id(email)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *e2e) generate(model, session string) (*http.Response, string) {
	e.t.Helper()
	body := fmt.Sprintf(`{"model":%q,"project":"mine","request":{"contents":[{"role":"user","parts":[{"text":"hello %s"}]}]}}`, model, session)
	req, _ := http.NewRequest(http.MethodPost, e.st.URL+"/v1internal:generateContent", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if session != "" {
		req.Header.Set("x-session-id", session)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (e *e2e) gens(email string) int { return e.st.Sim.Requests(email, "generateContent") }

// TestE2ESessionMovesBeforeTheRequest: a session stays on its account and,
// once the engine knows it is exhausted, moves before the request: the
// spent account sees no further call.
func TestE2ESessionMovesBeforeTheRequest(t *testing.T) {
	e := startE2E(t, true)
	resp, body := e.generate("claude-sonnet-4-6", "s1")
	first := resp.Header.Get("X-Quotatui-Account")
	if resp.StatusCode != 200 || first == "" {
		t.Fatalf("status %d account %q: %s", resp.StatusCode, first, body)
	}
	for range 3 {
		if resp, _ := e.generate("claude-sonnet-4-6", "s1"); resp.Header.Get("X-Quotatui-Account") != first {
			t.Fatalf("the session left %s while it had quota", first)
		}
	}
	e.st.Sim.Drain(first, cloudcode.FamilyClaudeGPT)
	e.sync(first)
	before := e.gens(first)
	resp, body = e.generate("claude-sonnet-4-6", "s1")
	if resp.StatusCode != 200 || resp.Header.Get("X-Quotatui-Account") == first {
		t.Fatalf("after exhaustion: %d on %q: %s", resp.StatusCode, resp.Header.Get("X-Quotatui-Account"), body)
	}
	if n := e.gens(first) - before; n != 0 {
		t.Errorf("the exhausted account got %d more generate calls, want 0", n)
	}
	st := e.st.Proxy.Stats()
	if st.ProactiveSwitches != 1 || st.Upstream429s != 0 {
		t.Errorf("proactive=%d upstream429s=%d, want 1 and 0", st.ProactiveSwitches, st.Upstream429s)
	}
}

// TestE2EReactiveRetryIsInvisible: the engine does not know the account is
// spent; its 429 marks it until the server's reset and the request moves on
// without the client noticing. The mark then keeps every later request away.
func TestE2EReactiveRetryIsInvisible(t *testing.T) {
	e := startE2E(t, false)
	resp, _ := e.generate("gemini-3-flash", "s1")
	first := resp.Header.Get("X-Quotatui-Account")
	e.st.Sim.Drain(first, cloudcode.FamilyGemini) // the cache still says plenty
	resp, body := e.generate("gemini-3-flash", "s1")
	if resp.StatusCode != 200 || resp.Header.Get("X-Quotatui-Account") == first {
		t.Fatalf("status %d on %q: %s", resp.StatusCode, resp.Header.Get("X-Quotatui-Account"), body)
	}
	st, _ := e.st.Quota.Account(e.id(first))
	mk := st.Marks[0]
	if mk.Kind != quota.ExhaustedMark || !mk.Until.Equal(e.st.Sim.ResetTime(first, cloudcode.FamilyGemini, cloudcode.Window5h)) {
		t.Errorf("mark = %+v, want exhausted until the simulator's reset", mk)
	}
	before := e.gens(first)
	for i := range 5 {
		e.generate("gemini-3-flash", fmt.Sprint("other", i))
	}
	if n := e.gens(first) - before; n != 0 {
		t.Errorf("the marked account got %d more calls", n)
	}
	if got := e.st.Proxy.Stats(); got.ReactiveSwitches != 1 || got.Upstream429s != 1 {
		t.Errorf("reactive=%d upstream429s=%d, want 1 and 1", got.ReactiveSwitches, got.Upstream429s)
	}
}

// TestE2EPreRequestCheckAvoidsThe429: an account in the low zone whose
// figure is stale is re-checked before the request and skipped, so the
// upstream never answers 429.
func TestE2EPreRequestCheckAvoidsThe429(t *testing.T) {
	e := startE2E(t, true)
	for _, em := range emails {
		e.st.Sim.SetRemaining(em, cloudcode.FamilyGemini, cloudcode.Window5h, 0.05)
		e.sync(em)
	}
	e.st.Sim.Drain(emails[0], cloudcode.FamilyGemini)
	e.st.Sim.Drain(emails[1], cloudcode.FamilyGemini)
	resp, body := e.generate("gemini-3-flash", "")
	if resp.StatusCode != 200 || resp.Header.Get("X-Quotatui-Account") != emails[2] {
		t.Fatalf("status %d on %q, want 200 on %s: %s", resp.StatusCode, resp.Header.Get("X-Quotatui-Account"), emails[2], body)
	}
	if n := e.st.Sim.TotalRequests("generateContent"); n != 1 {
		t.Errorf("%d generate calls upstream, want 1", n)
	}
	if got := e.st.Proxy.Stats().Upstream429s; got != 0 {
		t.Errorf("Upstream429s = %d, want 0", got)
	}
}

// TestE2EAllExhausted: when every account is spent the client gets Google's
// 429 with the earliest reset and Retry-After, and the upstream sees nothing.
func TestE2EAllExhausted(t *testing.T) {
	e := startE2E(t, true)
	for _, em := range emails {
		e.st.Sim.Drain(em, cloudcode.FamilyClaudeGPT)
		e.sync(em)
	}
	earliest := e.st.Sim.ResetTime(emails[0], cloudcode.FamilyClaudeGPT, cloudcode.Window5h)
	resp, body := e.generate("claude-opus-4-6-thinking", "s")
	if resp.StatusCode != 429 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var env struct {
		Error struct {
			Code    int
			Message string
			Status  string
		}
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatal(err)
	}
	wantAt := earliest.UTC().Format("15:04:05Z")
	if env.Error.Status != "RESOURCE_EXHAUSTED" || !strings.Contains(env.Error.Message, "all 3 accounts are out of quota for Claude and GPT models") || !strings.Contains(env.Error.Message, wantAt) {
		t.Errorf("error = %+v, want the earliest reset %s", env.Error, wantAt)
	}
	if ra := resp.Header.Get("Retry-After"); ra != fmt.Sprint(int(earliest.Sub(e.clk.Now()).Seconds())) {
		t.Errorf("Retry-After = %q, want %v", ra, earliest.Sub(e.clk.Now()).Seconds())
	}
	if n := e.st.Sim.TotalRequests("generateContent"); n != 0 {
		t.Errorf("%d generate calls upstream, want 0", n)
	}
}

// TestE2EBurstLeavesOthersUsable: 100 concurrent requests while the top
// account is spent but still looks full: its 429s mark only that
// (account, family); every client gets 200 and the rest stay usable.
func TestE2EBurstLeavesOthersUsable(t *testing.T) {
	e := startE2E(t, false)
	top := e.st.Quota.Rank("claude-sonnet-4-6")[0].Label
	e.st.Sim.Drain(top, cloudcode.FamilyClaudeGPT)
	proxy.PostBurst(t, e.client, e.st.URL+"/v1internal:generateContent", 100, func(i int) string {
		return fmt.Sprintf(`{"model":"claude-sonnet-4-6","request":{"contents":[{"role":"user","parts":[{"text":"burst %d"}]}]}}`, i)
	})
	for _, c := range e.st.Quota.Rank("claude-sonnet-4-6") {
		// The estimate may call an account spent after the burst (at the
		// prior's cost): that is no mark, and the next sync replaces it.
		usable := c.Check.Usable || c.Check.Reason == quota.ReasonEstimatedEmpty
		if (c.Label == top) == usable {
			t.Errorf("%s usable=%v (%s) after the burst", c.Label, c.Check.Usable, c.Check.Reason)
		}
	}
	if c, _ := e.st.Quota.CheckQuota(context.Background(), e.id(top), "gemini-3-flash"); !c.Usable {
		t.Error("the burst cooled down the spent account's other family")
	}
	t.Logf("upstream 429s from the spent account during a 100-request burst: %d", e.st.Proxy.Stats().Upstream429s)
}

// TestE2EAccountErrors: an expired token is refreshed and retried on the
// same account; an account that needs verification leaves the pool.
func TestE2EAccountErrors(t *testing.T) {
	e := startE2E(t, true)
	resp, _ := e.generate("gemini-3-flash", "s")
	first := resp.Header.Get("X-Quotatui-Account")
	e.st.Sim.ExpireAccessTokens(first)
	resp, body := e.generate("gemini-3-flash", "s")
	if resp.StatusCode != 200 || resp.Header.Get("X-Quotatui-Account") != first {
		t.Fatalf("after token expiry: %d on %q: %s", resp.StatusCode, resp.Header.Get("X-Quotatui-Account"), body)
	}
	e.st.Sim.FlagValidation(first, "https://accounts.google.com/verify")
	resp, body = e.generate("gemini-3-flash", "s")
	if resp.StatusCode != 200 || resp.Header.Get("X-Quotatui-Account") == first {
		t.Fatalf("after validation flag: %d on %q: %s", resp.StatusCode, resp.Header.Get("X-Quotatui-Account"), body)
	}
	st, _ := e.st.Quota.Account(e.id(first))
	if st.State != quota.StateValidationRequired || st.ValidationURL != "https://accounts.google.com/verify" {
		t.Errorf("state %q url %q, want validation_required with the link", st.State, st.ValidationURL)
	}
}

// TestE2EGeminiStream drives the Gemini API stream through the real
// client and simulator.
func TestE2EGeminiStream(t *testing.T) {
	e := startE2E(t, true)
	resp, err := e.client.Post(e.st.URL+"/v1beta/models/gemini-3-flash:streamGenerateContent?alt=sse", "application/json",
		strings.NewReader(`{"contents":[{"role":"user","parts":[{"text":"stream please"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Count(string(b), "data: {\"candidates\"") != cloudcodetest.DefaultStreamChunks {
		t.Fatalf("status %d stream %q, want %d unwrapped events", resp.StatusCode, b, cloudcodetest.DefaultStreamChunks)
	}
}

// upstreamFunc adapts a function to proxy.Upstream.
type upstreamFunc func(ctx context.Context, r cloudcode.Request) (*http.Response, error)

func (f upstreamFunc) Do(ctx context.Context, r cloudcode.Request) (*http.Response, error) {
	return f(ctx, r)
}

// TestE2ELateSuccessKeepsTheMark: a request already in flight when its
// account is marked exhausted finishes with 200 afterwards; that success
// must not clear the newer mark.
func TestE2ELateSuccessKeepsTheMark(t *testing.T) {
	answered, release := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	wrap := func(next proxy.Upstream) proxy.Upstream {
		return upstreamFunc(func(ctx context.Context, r cloudcode.Request) (*http.Response, error) {
			resp, err := next.Do(ctx, r)
			if r.RPC == "generateContent" && first.CompareAndSwap(false, true) {
				close(answered) // the upstream said 200...
				<-release       // ...but the answer reaches the proxy late
			}
			return resp, err
		})
	}
	e := startE2EWrapped(t, false, wrap)
	done := make(chan *http.Response, 1)
	go func() {
		body := `{"model":"gemini-3-flash","request":{"contents":[{"role":"user","parts":[{"text":"hello slow one"}]}]}}`
		req, _ := http.NewRequest(http.MethodPost, e.st.URL+"/v1internal:generateContent", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-session-id", "slow one")
		resp, err := e.client.Do(req)
		if err != nil {
			done <- nil
			return
		}
		resp.Body.Close()
		done <- resp
	}()
	<-answered
	st, _ := e.st.Quota.Account(e.id(emails[0]))
	slow := st.Label
	e.clk.Advance(time.Second)
	e.st.Sim.Drain(slow, cloudcode.FamilyGemini)
	resp, _ := e.generate("gemini-3-flash", "slow one") // same session: same account, gets QUOTA_EXHAUSTED
	if resp.StatusCode != 200 || resp.Header.Get("X-Quotatui-Account") == slow {
		t.Fatalf("second request: %d on %q", resp.StatusCode, resp.Header.Get("X-Quotatui-Account"))
	}
	e.clk.Advance(time.Second) // the late answer arrives after the mark
	close(release)
	if r := <-done; r == nil || r.StatusCode != 200 || r.Header.Get("X-Quotatui-Account") != slow {
		t.Fatalf("slow request: %d on %q, want 200 on %s", r.StatusCode, r.Header.Get("X-Quotatui-Account"), slow)
	}
	c, _ := e.st.Quota.CheckQuota(context.Background(), e.id(slow), "gemini-3-flash")
	if c.Usable || c.Decision != quota.Exhausted {
		t.Errorf("after the late success the account is %+v, want still exhausted", c)
	}
}
