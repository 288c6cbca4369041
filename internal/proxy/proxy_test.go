package proxy

import (
	"context"
	"encoding/json"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// classified builds the typed error the real client returns for body.
func classified(status int, body string) error {
	return cloudcode.Classify(status, http.Header{}, []byte(body), t0)
}

const (
	quotaBody = `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"You have exhausted your capacity on this model. Your quota will reset after 2h10m0s.",
 "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"QUOTA_EXHAUSTED","domain":"cloudcode-pa.googleapis.com",
   "metadata":{"model":"gemini-3-flash","quotaResetDelay":"2h10m0s","quotaResetTimeStamp":"2026-11-27T19:00:00Z"}}]}}`
	rateBody = `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"Rate limited.",
 "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED","domain":"cloudcode-pa.googleapis.com"},
  {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"%s"}]}}`
	bareBody     = `{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}`
	capacityBody = `{"error":{"code":503,"status":"UNAVAILABLE","message":"No capacity available for model gemini-3-flash on the server",
 "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"MODEL_CAPACITY_EXHAUSTED","domain":"cloudcode-pa.googleapis.com"},
  {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"40s"}]}}`
	unauthBody     = `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`
	validationBody = `{"error":{"code":403,"status":"PERMISSION_DENIED","message":"To continue, verify your account at https://accounts.google.com/verify",
 "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"VALIDATION_REQUIRED","domain":"cloudcode-pa.googleapis.com","metadata":{"validation_link":"https://accounts.google.com/verify"}}]}}`
	forbiddenBody = `{"error":{"code":403,"status":"PERMISSION_DENIED","message":"Cloud AI Companion API has not been used",
 "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"SERVICE_DISABLED","domain":"googleapis.com"}]}}`
	invalidBody = `{"error":{"code":400,"message":"Request contains an invalid argument.","status":"INVALID_ARGUMENT"}}`
)

// TestReactivePath checks that each upstream error kind on the first
// account leads to its action, and what the client finally sees.
func TestReactivePath(t *testing.T) {
	tests := []struct {
		name       string
		first      func() (*http.Response, error) // account 1's first answer
		wantStatus int
		wantAcct   string   // X-Quotatui-Account
		wantCalls  []int64  // accounts called, in order
		wantLog    []string // quota calls, in order (successes and marks)
		wantInval  []int64
		reactive   uint64
	}{
		{
			name:       "quota exhausted marks until the server's reset, resyncs and moves on",
			first:      func() (*http.Response, error) { return nil, classified(429, quotaBody) },
			wantStatus: 200, wantAcct: "acct2", wantCalls: []int64{1, 2},
			wantLog:  []string{"exhausted 1 gemini until 2026-11-27T19:00:00Z", "resync 1", "success 2 gemini"},
			reactive: 1,
		},
		{
			name: "short rate limit is waited out once on the same account",
			first: func() (*http.Response, error) {
				return nil, classified(429, strings.Replace(rateBody, "%s", "0.02s", 1))
			},
			wantStatus: 200, wantAcct: "acct1", wantCalls: []int64{1, 1},
			wantLog: []string{"success 1 gemini"},
		},
		{
			name:       "long rate limit cools the account down for the delay and moves on",
			first:      func() (*http.Response, error) { return nil, classified(429, strings.Replace(rateBody, "%s", "30s", 1)) },
			wantStatus: 200, wantAcct: "acct2", wantCalls: []int64{1, 2},
			wantLog:  []string{"cooldown 1 gemini for 30s", "success 2 gemini"},
			reactive: 1,
		},
		{
			name:       "bare 429 is a short cooldown and a resync, never an exhaustion mark",
			first:      func() (*http.Response, error) { return nil, classified(429, bareBody) },
			wantStatus: 200, wantAcct: "acct2", wantCalls: []int64{1, 2},
			wantLog:  []string{"cooldown 1 gemini for 250ms", "resync 1", "success 2 gemini"},
			reactive: 1,
		},
		{
			name:       "capacity moves on without touching quota",
			first:      func() (*http.Response, error) { return nil, classified(503, capacityBody) },
			wantStatus: 200, wantAcct: "acct2", wantCalls: []int64{1, 2},
			wantLog:  []string{"success 2 gemini"},
			reactive: 1,
		},
		{
			name:       "unauthorized refreshes once and retries the same account",
			first:      func() (*http.Response, error) { return nil, classified(401, unauthBody) },
			wantStatus: 200, wantAcct: "acct1", wantCalls: []int64{1, 1},
			wantLog: []string{"success 1 gemini"}, wantInval: []int64{1},
		},
		{
			name:       "validation required marks the account and moves on",
			first:      func() (*http.Response, error) { return nil, classified(403, validationBody) },
			wantStatus: 200, wantAcct: "acct2", wantCalls: []int64{1, 2},
			wantLog:  []string{"state 1 validation_required https://accounts.google.com/verify", "success 2 gemini"},
			reactive: 1,
		},
		{
			name:       "forbidden marks the account and moves on",
			first:      func() (*http.Response, error) { return nil, classified(403, forbiddenBody) },
			wantStatus: 200, wantAcct: "acct2", wantCalls: []int64{1, 2},
			wantLog:  []string{"state 1 forbidden ", "success 2 gemini"},
			reactive: 1,
		},
		{
			name:       "a 200 error page is never passed on as success",
			first:      func() (*http.Response, error) { return jsonResponse(200, "<html>Service error</html>"), nil },
			wantStatus: 200, wantAcct: "acct2", wantCalls: []int64{1, 2},
			wantLog:  []string{"success 2 gemini"},
			reactive: 1,
		},
		{
			name:       "the client's own bad request is relayed, not retried",
			first:      func() (*http.Response, error) { return nil, classified(400, invalidBody) },
			wantStatus: 400, wantCalls: []int64{1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var once sync.Once
			h := newHarness(t, 3, NewOptions(), func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
				if accountOf(r) == 1 {
					var resp *http.Response
					var err error
					first := false
					once.Do(func() { resp, err = tt.first(); first = true })
					if first {
						return resp, err
					}
				}
				return jsonResponse(200, okAnswer), nil
			})
			resp, body := h.post("/v1internal:generateContent", genBody("gemini-3-flash", "hi"))
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.wantStatus, body)
			}
			if got := resp.Header.Get("X-Quotatui-Account"); got != tt.wantAcct {
				t.Errorf("X-Quotatui-Account = %q, want %q", got, tt.wantAcct)
			}
			var calls []int64
			for _, c := range h.up.Calls() {
				calls = append(calls, accountOf(c))
			}
			if !slices.Equal(calls, tt.wantCalls) {
				t.Errorf("upstream calls went to %v, want %v", calls, tt.wantCalls)
			}
			if got := h.q.Log(); !slices.Equal(got, tt.wantLog) {
				t.Errorf("quota calls = %q, want %q", got, tt.wantLog)
			}
			if !slices.Equal(h.tokens.inv, tt.wantInval) {
				t.Errorf("invalidated %v, want %v", h.tokens.inv, tt.wantInval)
			}
			if got := h.srv.Stats().ReactiveSwitches; got != tt.reactive {
				t.Errorf("reactive switches = %d, want %d", got, tt.reactive)
			}
			if tt.wantStatus == 200 && !strings.Contains(body, `"response"`) {
				t.Errorf("Code Assist answer should pass through wrapped, got %s", body)
			}
		})
	}
}

// TestUpstreamRequestSwapsTokenAndProject checks the passthrough keeps
// unknown fields and replaces only the project and the bearer token.
func TestUpstreamRequestSwapsTokenAndProject(t *testing.T) {
	h := newHarness(t, 2, NewOptions(), func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		return jsonResponse(200, okAnswer), nil
	})
	body := `{"model":"claude-sonnet-4-6","project":"client-project","userPromptId":"u-1","extra":{"a":[1,2]},"request":{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}}`
	resp, out := h.post("/v1internal:generateContent?key=nope", body, "Authorization", "Bearer client-token")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	calls := h.up.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d upstream calls, want 1", len(calls))
	}
	c := calls[0]
	if c.RPC != "generateContent" || c.AccessToken != "tok-1-0" {
		t.Errorf("upstream call %s with token %q, want generateContent with tok-1-0", c.RPC, c.AccessToken)
	}
	if c.Query.Has("key") {
		t.Errorf("the local API key query parameter was forwarded: %v", c.Query)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(c.Body, &env); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"project": `"proj-1"`, "userPromptId": `"u-1"`, "extra": `{"a":[1,2]}`, "model": `"claude-sonnet-4-6"`}
	for k, v := range want {
		if string(env[k]) != v {
			t.Errorf("upstream body %s = %s, want %s", k, env[k], v)
		}
	}
}

// TestNonGenerationPassthrough forwards any v1internal method, GET included.
func TestNonGenerationPassthrough(t *testing.T) {
	h := newHarness(t, 2, NewOptions(), func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		return jsonResponse(200, `{"ok":true}`), nil
	})
	resp, _ := h.post("/v1internal:listExperiments", `{"project":"theirs","metadata":{"ideType":"X"}}`)
	if resp.StatusCode != 200 {
		t.Fatalf("listExperiments: status %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, h.ts.URL+"/v1internal:getCodeAssistGlobalUserSetting", nil)
	r2, err := h.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 200 {
		t.Fatalf("GET setting: status %d", r2.StatusCode)
	}
	calls := h.up.Calls()
	if len(calls) != 2 || calls[1].HTTPMethod != http.MethodGet || calls[1].RPC != "getCodeAssistGlobalUserSetting" {
		t.Fatalf("calls = %+v", calls)
	}
	if !strings.Contains(string(calls[0].Body), `"project":"proj-1"`) || !strings.Contains(string(calls[0].Body), `"ideType":"X"`) {
		t.Errorf("listExperiments body = %s, want project swapped and metadata kept", calls[0].Body)
	}
}

// TestSessionStaysUntilExhausted: a session keeps its account while it has
// quota (even in the low zone) and moves before the request once it is
// exhausted: no upstream call reaches the spent account.
func TestSessionStaysUntilExhausted(t *testing.T) {
	opt := NewOptions()
	opt.PreRequestCheck = false
	h := newHarness(t, 3, opt, func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		return jsonResponse(200, okAnswer), nil
	})
	send := func() string {
		resp, body := h.post("/v1internal:generateContent", genBody("claude-sonnet-4-6", "hi"), "x-session-id", "conv-1")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		return resp.Header.Get("X-Quotatui-Account")
	}
	if got := send(); got != "acct1" {
		t.Fatalf("first request on %s, want acct1", got)
	}
	// Account 2 now has more quota: a sticky session must not follow it.
	h.q.set(1, cloudcode.FamilyClaudeGPT, 0.05)
	h.q.set(2, cloudcode.FamilyClaudeGPT, 1)
	if got := send(); got != "acct1" {
		t.Fatalf("low-quota request on %s, want acct1 (sticky)", got)
	}
	h.q.set(1, cloudcode.FamilyClaudeGPT, 0)
	if got := send(); got == "acct1" {
		t.Fatal("the session stayed on the exhausted account")
	}
	calls := h.up.Calls()
	if accountOf(calls[2]) == 1 {
		t.Error("the request after exhaustion went to the exhausted account first")
	}
	st := h.srv.Stats()
	if st.ProactiveSwitches != 1 || st.ReactiveSwitches != 0 {
		t.Errorf("switches proactive=%d reactive=%d, want 1 and 0", st.ProactiveSwitches, st.ReactiveSwitches)
	}
	evs := h.q.Events()
	if len(evs) != 1 || evs[0].Kind != quota.EventSwitch {
		t.Errorf("events = %+v, want one switch", evs)
	}
	// Another conversation (another first message) is independent.
	resp, _ := h.post("/v1internal:generateContent", genBody("gemini-3-flash", "other"))
	if resp.Header.Get("X-Quotatui-Account") != "acct1" {
		t.Errorf("a new Gemini conversation went to %s, want acct1 (Gemini untouched)", resp.Header.Get("X-Quotatui-Account"))
	}
}

// TestSessionKey derives the key from the header, sessionId (or Gemini
// CLI's session_id), or a hash of the first user message and model family.
func TestSessionKey(t *testing.T) {
	a := SessionFromBody(json.RawMessage(`{"contents":[{"role":"user","parts":[{"text":"hello"}]},{"role":"model","parts":[{"text":"x"}]}]}`), "gemini-3-flash")
	b := SessionFromBody(json.RawMessage(`{"contents":[{"role":"user","parts":[{"text":"hello"}]},{"role":"model","parts":[{"text":"y"}]},{"role":"user","parts":[{"text":"more"}]}]}`), "gemini-3-pro-high")
	c := SessionFromBody(json.RawMessage(`{"contents":[{"role":"user","parts":[{"text":"hello"}]}]}`), "claude-sonnet-4-6")
	d := SessionFromBody(json.RawMessage(`{"sessionId":"s-9","contents":[{"role":"user","parts":[{"text":"hello"}]}]}`), "gemini-3-flash")
	if a == "" || a != b {
		t.Errorf("same first message and family gave %q and %q, want one key", a, b)
	}
	if a == c {
		t.Error("different families share a session key")
	}
	if d != "s-9" {
		t.Errorf("sessionId = %q, want s-9", d)
	}
	// Gemini CLI 0.61 sends session_id next to a generated first message
	// that is the same for every conversation in one folder.
	cli := func(id string) string {
		return SessionFromBody(json.RawMessage(`{"contents":[{"role":"user","parts":[{"text":"<session_context>\nThis is the Gemini CLI."}]}],"session_id":"`+id+`"}`), "gemini-2.5-pro")
	}
	if e, f := cli("c42bf913"), cli("7d1e0a22"); e != "c42bf913" || f != "7d1e0a22" {
		t.Errorf("session_id gave %q and %q, want each conversation's own id", e, f)
	}
	if SessionFromBody(json.RawMessage(`{"contents":[]}`), "gemini-3-flash") != "" {
		t.Error("a body with no message should give no session")
	}
}

// TestSessionIdleExpiry: a binding unused for longer than the idle time is
// forgotten, so the next request is routed afresh, not counted as a switch.
func TestSessionIdleExpiry(t *testing.T) {
	opt := NewOptions()
	opt.SessionIdle = time.Hour
	h := newHarness(t, 2, opt, func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		return jsonResponse(200, okAnswer), nil
	})
	h.post("/v1internal:generateContent", genBody("gemini-3-flash", "a"), "x-session-id", "s")
	if n := h.srv.Stats().ActiveSessions; n != 1 {
		t.Fatalf("active sessions = %d, want 1", n)
	}
	h.clk.Advance(61 * time.Minute)
	if n := h.srv.Stats().ActiveSessions; n != 0 {
		t.Fatalf("active sessions after idle = %d, want 0", n)
	}
	h.q.set(1, cloudcode.FamilyGemini, 0)
	h.post("/v1internal:generateContent", genBody("gemini-3-flash", "a"), "x-session-id", "s")
	if got := h.srv.Stats().ProactiveSwitches; got != 0 {
		t.Errorf("proactive switches = %d after expiry, want 0", got)
	}
}

// TestPreRequestCheck: with the check on, an account in the low zone is
// synced before each request, and found spent it is skipped without an
// upstream 429; with the check off the stale figure is trusted.
func TestPreRequestCheck(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(map[bool]string{true: "on", false: "off"}[on], func(t *testing.T) {
			opt := NewOptions()
			opt.PreRequestCheck = on
			h := newHarness(t, 2, opt, func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
				return jsonResponse(200, okAnswer), nil
			})
			h.q.set(1, cloudcode.FamilyGemini, 0.05)
			h.q.onSync = func(id int64) { h.q.set(id, cloudcode.FamilyGemini, 0) } // the truth: spent
			resp, _ := h.post("/v1internal:generateContent", genBody("gemini-3-flash", "hi"))
			got := resp.Header.Get("X-Quotatui-Account")
			syncs := h.q.Syncs(1)
			if on && (got != "acct2" || syncs != 1) {
				t.Errorf("check on: served by %s after %d syncs, want acct2 after 1", got, syncs)
			}
			if !on && (got != "acct1" || syncs != 0) {
				t.Errorf("check off: served by %s after %d syncs, want acct1 after 0", got, syncs)
			}
		})
	}
}

// TestRecordSuccessGetsRequestStart: the proxy reports the time the request
// went out, so a success cannot clear a mark set while it was in flight.
func TestRecordSuccessGetsRequestStart(t *testing.T) {
	var h *harness
	h = newHarness(t, 2, NewOptions(), func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		h.clk.Advance(time.Minute) // the call takes a minute of engine time
		return jsonResponse(200, okAnswer), nil
	})
	start := h.clk.Now()
	h.post("/v1internal:generateContent", genBody("gemini-3-flash", "hi"))
	if len(h.q.starts) != 1 || !h.q.starts[0].Equal(start) {
		t.Fatalf("RecordSuccess startedAt = %v, want the request start %v", h.q.starts, start)
	}
}

// TestAllExhausted: the client gets Google's 429 with the earliest reset
// and Retry-After, and no upstream call is made.
func TestAllExhausted(t *testing.T) {
	h := newHarness(t, 4, NewOptions(), func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		t.Error("upstream called while every account is spent")
		return jsonResponse(200, okAnswer), nil
	})
	for i := int64(1); i <= 4; i++ {
		h.q.set(i, cloudcode.FamilyClaudeGPT, 0)
		h.q.acct(i).reset = t0.Add(time.Duration(i+1) * time.Hour) // account 1 resets first
	}
	h.q.acct(1).reset = t0.Add(2*time.Hour + 10*time.Minute)
	resp, body := h.post("/v1internal:generateContent", genBody("claude-sonnet-4-6", "hi"))
	if resp.StatusCode != 429 {
		t.Fatalf("status %d, want 429", resp.StatusCode)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "7800" {
		t.Errorf("Retry-After = %q, want 7800", ra)
	}
	var e cloudcode.ErrorEnvelope
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("not Google's envelope: %s", body)
	}
	want := "all 4 accounts are out of quota for Claude and GPT models; the earliest resets at 19:00:00Z (in 2h10m)"
	if e.Error.Code != 429 || e.Error.Status != "RESOURCE_EXHAUSTED" || e.Error.Message != want {
		t.Errorf("error = %+v, want 429 RESOURCE_EXHAUSTED %q", e.Error, want)
	}
	if got := h.srv.Stats().Client429s; got != 1 {
		t.Errorf("Client429s = %d, want 1", got)
	}
}

// TestAttemptsBounded: attempts stop at RetryAttempts even with more
// accounts, and the client gets an answer saying what happened. Short-lived
// refusals (bare 429s) do not use up attempts: every account is tried once,
// and with no time left to wait for one, the client is told it is
// rate-limited, not out of quota.
func TestAttemptsBounded(t *testing.T) {
	opt := NewOptions()
	opt.RetryAttempts = 2
	opt.MaxWait = time.Millisecond
	bare := false
	h := newHarness(t, 4, opt, func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		if bare {
			return nil, classified(429, bareBody)
		}
		return nil, classified(503, capacityBody)
	})
	resp, body := h.post("/v1internal:generateContent", genBody("gemini-3-flash", "hi"))
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if n := len(h.up.Calls()); n != 2 {
		t.Errorf("%d upstream calls, want 2", n)
	}

	bare = true
	resp, body = h.post("/v1internal:generateContent", genBody("gemini-3-flash", "hi again"))
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" || !strings.Contains(body, "rate-limited") || strings.Contains(body, "out of quota") {
		t.Fatalf("status %d Retry-After %q: %s; want a 429 that says rate-limited, retry in 1s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if n := len(h.up.Calls()); n != 2+4 {
		t.Errorf("%d upstream calls for the bare 429s, want 4 (every account once)", n-2)
	}
	if got := h.srv.Stats().Upstream429s; got != 4 {
		t.Errorf("Upstream429s = %d, want 4", got)
	}
}

// TestBurstOf429sLeavesOthersUsable: 100 concurrent requests while one
// account answers bare 429s: only that (account, family) cools down, every
// client gets 200.
func TestBurstOf429sLeavesOthersUsable(t *testing.T) {
	h := newHarness(t, 3, NewOptions(), func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		if accountOf(r) == 1 {
			return nil, classified(429, bareBody)
		}
		return jsonResponse(200, okAnswer), nil
	})
	PostBurst(t, h.ts.Client(), h.ts.URL+"/v1internal:generateContent", 100, func(int) string { return genBody("gemini-3-flash", "burst") })
	for _, l := range h.q.Log() {
		if strings.HasPrefix(l, "exhausted") || (strings.HasPrefix(l, "cooldown") && !strings.HasPrefix(l, "cooldown 1 gemini")) {
			t.Errorf("unexpected mark %q", l)
		}
	}
	for _, id := range []int64{2, 3} {
		if c, _ := h.q.CheckQuota(context.Background(), id, "gemini-3-flash"); !c.Usable {
			t.Errorf("account %d unusable after the burst", id)
		}
	}
	if c, _ := h.q.CheckQuota(context.Background(), 1, "claude-sonnet-4-6"); !c.Usable {
		t.Error("account 1's other family was cooled down too")
	}
}

// TestClientErrors: malformed bodies, size limit, unknown routes, pause.
func TestClientErrors(t *testing.T) {
	opt := NewOptions()
	opt.BodyLimit = 1 << 10
	h := newHarness(t, 1, opt, func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		return jsonResponse(200, okAnswer), nil
	})
	tests := []struct {
		name, path, body string
		status           int
		msg              string
	}{
		{"syntax error", "/v1internal:generateContent", `{"model": "gemini-3-flash",}`, 400, "at byte 28"},
		{"not an object", "/v1internal:generateContent", `[1,2]`, 400, "wrong type"},
		{"empty", "/v1beta/models/gemini-3-flash:generateContent", ``, 400, "empty"},
		{"no model", "/v1internal:generateContent", `{"request":{}}`, 400, "no model"},
		{"too large", "/v1internal:generateContent", `{"x":"` + strings.Repeat("a", 2048) + `"}`, 413, "limit of 1024 bytes"},
		{"unknown route", "/v2/whatever", `{}`, 404, "no route"},
		{"unknown Gemini method", "/v1beta/models/gemini-3-flash:embedContent", `{}`, 404, "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := h.post(tt.path, tt.body)
			var e cloudcode.ErrorEnvelope
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("not Google's envelope: %s", body)
			}
			if resp.StatusCode != tt.status || e.Error.Code != tt.status || !strings.Contains(e.Error.Message, tt.msg) {
				t.Errorf("got %d %+v, want %d with %q", resp.StatusCode, e.Error, tt.status, tt.msg)
			}
		})
	}
	h.srv.SetPaused(true)
	resp, body := h.post("/v1internal:generateContent", genBody("gemini-3-flash", "x"))
	if resp.StatusCode != 503 || !strings.Contains(body, "paused in quotatui") {
		t.Errorf("paused: %d %s", resp.StatusCode, body)
	}
	if len(h.up.Calls()) != 0 {
		t.Error("a rejected request reached the upstream")
	}
}

// TestAPIKey accepts every header form and rejects a missing or wrong key.
func TestAPIKey(t *testing.T) {
	opt := NewOptions()
	opt.APIKey = "s3cret-s3cret-s3cret"
	h := newHarness(t, 1, opt, nil)
	tests := []struct {
		name   string
		hdr    []string
		query  string
		status int
	}{
		{"bearer", []string{"Authorization", "Bearer s3cret-s3cret-s3cret"}, "", 200},
		{"x-api-key", []string{"x-api-key", "s3cret-s3cret-s3cret"}, "", 200},
		{"x-goog-api-key", []string{"x-goog-api-key", "s3cret-s3cret-s3cret"}, "", 200},
		{"query", nil, "?key=s3cret-s3cret-s3cret", 200},
		{"missing", nil, "", 401},
		{"wrong", []string{"x-goog-api-key", "s3cre"}, "", 401},
		{"wrong bearer", []string{"Authorization", "Bearer nope"}, "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, h.ts.URL+"/healthz"+tt.query, nil)
			for i := 0; i+1 < len(tt.hdr); i += 2 {
				req.Header.Set(tt.hdr[i], tt.hdr[i+1])
			}
			resp, err := h.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
		})
	}
}

// TestRefusesNonLoopbackWithoutKey.
func TestRefusesNonLoopbackWithoutKey(t *testing.T) {
	q, tok, up := newFakeQuota(nil, 0), &fakeTokens{}, &fakeUpstream{}
	tests := []struct {
		listen, key string
		ok          bool
	}{
		{"127.0.0.1:8045", "", true},
		{"localhost:8045", "", true},
		{"[::1]:8045", "", true},
		{"0.0.0.0:8045", "", false},
		{":8045", "", false},
		{"192.168.1.2:8045", "", false},
		{"0.0.0.0:8045", "a-key-of-16-chars", true},
	}
	for _, tt := range tests {
		_, err := New(q, tok, up, Options{Listen: tt.listen, APIKey: tt.key})
		if (err == nil) != tt.ok {
			t.Errorf("New(listen %q, key %q) error = %v, want ok=%v", tt.listen, tt.key, err, tt.ok)
		}
	}
}

// TestHealthAndModels covers /healthz and the Gemini model list.
func TestHealthAndModels(t *testing.T) {
	h := newHarness(t, 2, NewOptions(), nil)
	h.q.acct(2).state = quota.StateForbidden
	req, _ := http.NewRequest(http.MethodGet, h.ts.URL+"/healthz", nil)
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var hz health
	err = json.NewDecoder(resp.Body).Decode(&hz)
	resp.Body.Close()
	if err != nil || !hz.OK || hz.Accounts != 2 || hz.Usable != 1 {
		t.Errorf("healthz = %+v (%v), want ok, 2 accounts, 1 usable", hz, err)
	}
	resp, err = h.ts.Client().Get(h.ts.URL + "/v1beta/models")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Models []geminiModel `json:"models"`
	}
	err = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if err != nil || len(list.Models) != 2 || list.Models[0].Name != "models/claude-sonnet-4-6" || !slices.Contains(list.Models[1].SupportedGenerationMethods, "streamGenerateContent") {
		t.Errorf("models = %+v (%v)", list.Models, err)
	}
}

// TestNoAccountMessage checks the human message forms.
func TestNoAccountMessage(t *testing.T) {
	tests := []struct {
		e    NoAccountError
		want string
	}{
		{NoAccountError{Family: cloudcode.FamilyGemini, Accounts: 0}, "no accounts are configured"},
		{NoAccountError{Family: cloudcode.FamilyGemini, Accounts: 2, Unavailable: true}, "none of the 2 accounts can be used for Gemini Models"},
		{NoAccountError{Family: cloudcode.FamilyGemini, Accounts: 3}, "no reset time is known yet"},
		{NoAccountError{Family: cloudcode.FamilyGemini, Accounts: 3, Now: t0, Reset: t0.Add(4*24*time.Hour + 12*time.Hour + 20*time.Minute)}, "resets at 05:10:00Z (in 4d12h)"},
		{NoAccountError{Family: cloudcode.FamilyGemini, Accounts: 3, Now: t0, Reset: t0.Add(45 * time.Second)}, "(in 45s)"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); !strings.Contains(got, tt.want) {
			t.Errorf("%+v: %q, want it to contain %q", tt.e, got, tt.want)
		}
	}
}

// TestLowZoneOneAtATime: an account in the low zone takes one request at a
// time, so when it runs out only the request in flight gets the 429; a
// one-shot call meanwhile goes to another account instead of queueing.
func TestLowZoneOneAtATime(t *testing.T) {
	opt := NewOptions()
	opt.PreRequestCheck = false
	entered, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	calls1 := 0
	h := newHarness(t, 2, opt, func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		if accountOf(r) != 1 {
			return jsonResponse(200, okAnswer), nil
		}
		mu.Lock()
		calls1++
		first := calls1 == 1
		mu.Unlock()
		if first {
			close(entered)
			<-release
		}
		return nil, classified(429, quotaBody)
	})
	h.q.set(1, cloudcode.FamilyGemini, 0.05)
	statuses := make(chan int, 2)
	send := func(text string) {
		resp, _ := h.post("/v1internal:generateContent", genBody("gemini-3-flash", text))
		statuses <- resp.StatusCode
	}
	go send("a")
	<-entered
	go send("b") // a one-shot call does not queue behind the busy account
	select {
	case s := <-statuses:
		if s != 200 {
			t.Errorf("second client got %d, want 200", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a one-shot call waited for the busy low-zone account")
	}
	close(release)
	if s := <-statuses; s != 200 {
		t.Errorf("first client got %d, want 200 (moved on after the 429)", s)
	}
	if calls1 != 1 {
		t.Errorf("the low-zone account got %d calls, want 1 (one at a time)", calls1)
	}
}

// TestEveryAttemptFails: what the client gets when no attempt succeeds
// says why, in Google's envelope.
func TestEveryAttemptFails(t *testing.T) {
	transient := func() error { return &cloudcode.TransientError{Message: "connection refused"} }
	tests := []struct {
		name       string
		err        func() error
		spent      bool // account 3 is out of Gemini quota
		noTokens   bool
		wantStatus int
		wantMsg    string
		wantRetry  string
	}{
		{"capacity everywhere", func() error { return classified(503, capacityBody) }, false, false, 503, "out of capacity", "40"},
		{"capacity on the accounts left", func() error { return classified(503, capacityBody) }, true, false, 503, "out of capacity", "40"},
		{"host unreachable", transient, false, false, 502, "connection refused", ""},
		{"no access tokens", nil, false, true, 503, "none of the 3 accounts can be used", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, 3, NewOptions(), func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
				return nil, tt.err()
			})
			h.tokens.fail = tt.noTokens
			if tt.spent {
				h.q.set(3, cloudcode.FamilyGemini, 0)
			}
			resp, body := h.post("/v1internal:generateContent", genBody("gemini-3-flash", "x"))
			var e cloudcode.ErrorEnvelope
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("not Google's envelope: %s", body)
			}
			if resp.StatusCode != tt.wantStatus || !strings.Contains(e.Error.Message, tt.wantMsg) || resp.Header.Get("Retry-After") != tt.wantRetry {
				t.Errorf("got %d %q Retry-After %q, want %d with %q and %q", resp.StatusCode, e.Error.Message, resp.Header.Get("Retry-After"), tt.wantStatus, tt.wantMsg, tt.wantRetry)
			}
		})
	}
}

// TestSessionWaitsForItsLowZoneAccount: a conversation on an account in
// the low zone waits for that account's request in flight rather than
// moving (and losing its prompt cache) while the account still has quota.
func TestSessionWaitsForItsLowZoneAccount(t *testing.T) {
	opt := NewOptions()
	opt.PreRequestCheck = false
	entered, release := make(chan struct{}), make(chan struct{})
	var blocked atomic.Bool
	h := newHarness(t, 2, opt, func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		if accountOf(r) == 1 && blocked.CompareAndSwap(false, true) {
			close(entered)
			<-release
		}
		return jsonResponse(200, okAnswer), nil
	})
	h.q.set(1, cloudcode.FamilyGemini, 0.05)
	accounts := make(chan string, 2)
	send := func() {
		resp, _ := h.post("/v1internal:generateContent", genBody("gemini-3-flash", "conv"), "x-session-id", "conv")
		accounts <- resp.Header.Get("X-Quotatui-Account")
	}
	go send()
	<-entered
	go send()
	for deadline := time.Now().Add(10 * time.Second); h.srv.Stats().InFlight < 2 && time.Now().Before(deadline); {
		runtime.Gosched()
	}
	close(release)
	for range 2 {
		if a := <-accounts; a != "acct1" {
			t.Errorf("a request of the conversation went to %q, want acct1", a)
		}
	}
}
