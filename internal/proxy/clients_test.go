package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
)

// The requests below are the ones real clients sent to the proxy, as
// captured by scripts/clients/capture.mjs: Gemini CLI 0.61.0 with
// CODE_ASSIST_ENDPOINT set to the proxy, and @google/genai 2.32.0 and
// 3.3.0 with their base URL set to it.

// cliProject is the project Gemini CLI got from loadCodeAssist (the
// simulator sends it as an object, as Google does for some accounts); it
// belongs to whichever account answered that call, not to the one the
// proxy picks next.
const cliProject = `{"id":"margaret-23463","name":"margaret-23463"}`

// TestGeminiCLIRequests replays Gemini CLI's calls and checks that each
// reaches the upstream with the chosen account's token and that every
// project field the CLI filled in names that account's project.
func TestGeminiCLIRequests(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		// fields holds the project fields expected upstream, as paths
		// into the body ("metadata.duetProject").
		fields []string
	}{
		{"loadCodeAssist at start", "POST", "/v1internal:loadCodeAssist",
			`{"metadata":{"ideType":"IDE_UNSPECIFIED","platform":"PLATFORM_UNSPECIFIED","pluginType":"GEMINI"}}`, nil},
		{"loadCodeAssist with GOOGLE_CLOUD_PROJECT", "POST", "/v1internal:loadCodeAssist",
			`{"cloudaicompanionProject":"my-own-project","metadata":{"ideType":"IDE_UNSPECIFIED","platform":"PLATFORM_UNSPECIFIED","pluginType":"GEMINI","duetProject":"my-own-project"}}`,
			[]string{"cloudaicompanionProject", "metadata.duetProject"}},
		{"loadCodeAssist health check for credits", "POST", "/v1internal:loadCodeAssist",
			`{"cloudaicompanionProject":` + cliProject + `,"metadata":{"ideType":"IDE_UNSPECIFIED","platform":"PLATFORM_UNSPECIFIED","pluginType":"GEMINI","duetProject":` + cliProject + `},"mode":"HEALTH_CHECK"}`,
			[]string{"cloudaicompanionProject", "metadata.duetProject"}},
		{"onboardUser", "POST", "/v1internal:onboardUser",
			`{"tierId":"standard-tier","cloudaicompanionProject":"my-own-project","metadata":{"ideType":"IDE_UNSPECIFIED","platform":"PLATFORM_UNSPECIFIED","pluginType":"GEMINI","duetProject":"my-own-project"}}`,
			[]string{"cloudaicompanionProject", "metadata.duetProject"}},
		{"retrieveUserQuota", "POST", "/v1internal:retrieveUserQuota", `{"project":` + cliProject + `}`, []string{"project"}},
		{"listExperiments", "POST", "/v1internal:listExperiments",
			`{"project":` + cliProject + `,"metadata":{"ideName":"IDE_UNSPECIFIED","pluginType":"GEMINI","ideVersion":"0.61.0","platform":"LINUX_AMD64","updateChannel":"stable","duetProject":` + cliProject + `}}`,
			[]string{"project", "metadata.duetProject"}},
		{"recordCodeAssistMetrics", "POST", "/v1internal:recordCodeAssistMetrics",
			`{"project":` + cliProject + `,"metadata":{"ideName":"IDE_UNSPECIFIED","pluginType":"GEMINI"},"metrics":[{"conversationOffered":{"citationCount":"0"},"timestamp":"2026-11-27T16:47:47.149Z"}]}`,
			[]string{"project"}},
		{"setCodeAssistGlobalUserSetting", "POST", "/v1internal:setCodeAssistGlobalUserSetting",
			`{"cloudaicompanionProject":"my-own-project","freeTierDataCollectionOptin":false}`, []string{"cloudaicompanionProject"}},
		{"getCodeAssistGlobalUserSetting", "GET", "/v1internal:getCodeAssistGlobalUserSetting", "", nil},
		{"countTokens", "POST", "/v1internal:countTokens",
			`{"request":{"model":"models/gemini-2.5-pro","contents":[{"role":"user","parts":[{"text":"hi"}]}]}}`, nil},
		{"generateContent (the model router's classifier)", "POST", "/v1internal:generateContent",
			`{"model":"gemini-3.1-flash-lite","project":` + cliProject + `,"user_prompt_id":"c42bf913","request":{"contents":[{"role":"user","parts":[{"text":"<session_context>"}]}],"systemInstruction":{"role":"user","parts":[{"text":"route"}]},"generationConfig":{"temperature":1,"topP":0.95,"topK":64,"responseMimeType":"application/json","responseJsonSchema":{"type":"OBJECT"}},"session_id":"c42bf913"}}`,
			[]string{"project"}},
		{"streamGenerateContent", "POST", "/v1internal:streamGenerateContent?alt=sse",
			`{"model":"gemini-2.5-pro","project":` + cliProject + `,"user_prompt_id":"c42bf913","request":{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"tools":[{"functionDeclarations":[{"name":"ls"}]}],"generationConfig":{"thinkingConfig":{"includeThoughts":true,"thinkingBudget":8192}},"session_id":"c42bf913"}}`,
			[]string{"project"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, 2, NewOptions(), func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
				if r.RPC == "streamGenerateContent" {
					return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
						Body: io.NopCloser(strings.NewReader("data: " + okAnswer + "\r\n\r\n"))}, nil
				}
				return jsonResponse(200, `{"ok":true}`), nil
			})
			// Gemini CLI's headers; its bearer token is the client's own.
			resp, body := h.do(tt.method, tt.path, tt.body,
				"Authorization", "Bearer dummy-token",
				"Content-Type", "application/json",
				"User-Agent", "GeminiCLI-tui/0.61.0/gemini-2.5-pro (linux; x64; terminal) google-api-nodejs-client/10.9.0",
				"X-Goog-Api-Client", "gl-node/20.20.2",
				"Accept-Encoding", "gzip, deflate, br")
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			calls := h.up.Calls()
			if len(calls) != 1 {
				t.Fatalf("%d upstream calls, want 1", len(calls))
			}
			up := calls[0]
			id := accountOf(up)
			if id == 0 {
				t.Fatalf("upstream token %q is not an account's", up.AccessToken)
			}
			if up.HTTPMethod != tt.method {
				t.Errorf("upstream method %s, want %s", up.HTTPMethod, tt.method)
			}
			for _, bad := range []string{"margaret-23463", "my-own-project"} {
				if strings.Contains(string(up.Body), bad) {
					t.Errorf("upstream body still names the client's project %s: %s", bad, up.Body)
				}
			}
			want := fmt.Sprintf("proj-%d", id)
			for _, f := range tt.fields {
				if got := stringAt(t, up.Body, f); got != want {
					t.Errorf("upstream %s = %q, want the account's %q (body %s)", f, got, want, up.Body)
				}
			}
		})
	}
}

// stringAt returns the string at a dotted path of a JSON body.
func stringAt(t *testing.T, body []byte, path string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("upstream body is not JSON: %v", err)
	}
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[k]
	}
	s, _ := v.(string)
	return s
}

// TestGenAISDKRequests replays @google/genai's calls, both the v1beta
// paths of 2.x and the v1 paths 3.x uses by default, with the proxy's API
// key sent as x-goog-api-key.
func TestGenAISDKRequests(t *testing.T) {
	const sse = "data: " + okAnswer + "\r\n\r\n" +
		`data: {"response":{"candidates":[{"content":{"role":"model","parts":[{"text":" there"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"totalTokenCount":5}}}` + "\r\n\r\n"
	rich := `{"contents":[{"parts":[{"text":"What is the weather in Paris?"}],"role":"user"},{"parts":[{"text":"Let me check."}],"role":"model"},{"parts":[{"text":"Answer in one word."}],"role":"user"}],` +
		`"systemInstruction":{"parts":[{"text":"You are terse."}],"role":"user"},` +
		`"tools":[{"functionDeclarations":[{"name":"get_weather","description":"Weather for a city","parameters":{"type":"OBJECT","properties":{"city":{"type":"STRING"}},"required":["city"]}}]}],` +
		`"generationConfig":{"temperature":0.2,"maxOutputTokens":256,"thinkingConfig":{"thinkingBudget":128,"includeThoughts":true}}}`
	for _, ver := range []struct{ sdk, api string }{{"2.32.0", "v1beta"}, {"3.3.0", "v1"}} {
		tests := []struct {
			name, method, path, body string
			wantRPC                  string // "" when nothing goes upstream
			wantInBody               string // in the client's answer
		}{
			{"generateContent", "POST", "/models/gemini-3-flash:generateContent", `{"contents":[{"parts":[{"text":"Say hi"}],"role":"user"}]}`, "generateContent", `"text":"hello"`},
			{"generateContent claude", "POST", "/models/claude-sonnet-4-6-thinking:generateContent", `{"contents":[{"parts":[{"text":"Say hi"}],"role":"user"}]}`, "generateContent", `"text":"hello"`},
			{"generateContent with config, tools, history", "POST", "/models/gemini-3-flash:generateContent", rich, "generateContent", `"text":"hello"`},
			{"chat turn with empty generationConfig", "POST", "/models/gemini-3-flash:generateContent", `{"contents":[{"parts":[{"text":"Remember 7."}],"role":"user"}],"generationConfig":{}}`, "generateContent", `"text":"hello"`},
			{"generateContentStream", "POST", "/models/gemini-3-flash:streamGenerateContent?alt=sse", `{"contents":[{"parts":[{"text":"Write"}],"role":"user"}]}`, "streamGenerateContent", `"totalTokenCount":5`},
			{"countTokens", "POST", "/models/gemini-3-flash:countTokens", `{"contents":[{"parts":[{"text":"How many?"}],"role":"user"}]}`, "countTokens", `"totalTokens":7`},
			{"models.list", "GET", "/models", "", "", `"models/gemini-3-flash"`},
			{"models.get", "GET", "/models/gemini-3-flash", "", "", `"name":"models/gemini-3-flash"`},
		}
		for _, tt := range tests {
			t.Run(ver.sdk+"/"+tt.name, func(t *testing.T) {
				opt := NewOptions()
				opt.APIKey = "local-key-0123456789"
				h := newHarness(t, 2, opt, func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
					switch r.RPC {
					case "streamGenerateContent":
						return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
							Body: io.NopCloser(strings.NewReader(sse))}, nil
					case "countTokens":
						return jsonResponse(200, `{"totalTokens":7}`), nil
					}
					return jsonResponse(200, okAnswer), nil
				})
				ua := "google-genai-sdk/" + ver.sdk + " gl-node/v20.20.2"
				resp, got := h.do(tt.method, "/"+ver.api+tt.path, tt.body,
					"User-Agent", ua, "X-Goog-Api-Client", ua, "Content-Type", "application/json",
					"X-Goog-Api-Key", "local-key-0123456789", "Accept", "*/*")
				if resp.StatusCode != 200 {
					t.Fatalf("status %d: %s", resp.StatusCode, got)
				}
				if !strings.Contains(got, tt.wantInBody) {
					t.Errorf("answer %s lacks %s", got, tt.wantInBody)
				}
				if strings.Contains(got, `"response"`) {
					t.Errorf("answer %s still wrapped in response", got)
				}
				calls := h.up.Calls()
				if tt.wantRPC == "" {
					if len(calls) != 0 {
						t.Errorf("%d upstream calls, want none", len(calls))
					}
					return
				}
				if len(calls) != 1 || calls[0].RPC != tt.wantRPC {
					t.Fatalf("upstream calls %+v, want one %s", calls, tt.wantRPC)
				}
				if strings.Contains(string(calls[0].Body), "local-key-0123456789") || calls[0].Header.Get("X-Goog-Api-Key") != "" {
					t.Error("the local API key went upstream")
				}
			})
		}
	}
}

// TestClientErrorDetails: when the proxy itself answers 429 or 503, it
// says how long to wait in Google's details (ErrorInfo reason and
// RetryInfo), which Gemini CLI reads instead of Retry-After. Without them
// the CLI 0.61 took the pool-spent 429 for a blip and retried ten times
// over 3m40s. Each answer must also classify, by quotatui's own reading
// of Google's errors, as the same kind of error.
func TestClientErrorDetails(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(h *harness)
		answer     func() (*http.Response, error)
		wantStatus int
		wantReason string
		wantDelay  string
		wantReset  string // quotaResetTimeStamp, when the wait is final
		wantKind   string // how cloudcode.Classify reads the answer
	}{
		{
			name: "pool spent until a far reset: final",
			setup: func(h *harness) {
				for i := int64(1); i <= 2; i++ {
					h.q.set(i, cloudcode.FamilyGemini, 0)
				}
			},
			wantStatus: 429, wantReason: "QUOTA_EXHAUSTED", wantDelay: "7800s", wantReset: "2026-11-27T19:00:00Z",
			wantKind: "quota until 2026-11-27T19:00:00Z",
		},
		{
			name: "pool spent until a reset in 45 s: wait it out",
			setup: func(h *harness) {
				for i := int64(1); i <= 2; i++ {
					h.q.set(i, cloudcode.FamilyGemini, 0)
					h.q.acct(i).reset = t0.Add(45 * time.Second)
				}
			},
			wantStatus: 429, wantReason: "RATE_LIMIT_EXCEEDED", wantDelay: "45s",
			wantKind: "rate limited for 45s",
		},
		{
			name:       "every account answered a bare 429: short wait",
			answer:     func() (*http.Response, error) { return nil, classified(429, bareBody) },
			wantStatus: 429, wantReason: "RATE_LIMIT_EXCEEDED", wantDelay: "1s",
			wantKind: "rate limited for 1s",
		},
		{
			name:       "Google out of capacity on every account",
			answer:     func() (*http.Response, error) { return nil, classified(503, capacityBody) },
			wantStatus: 503, wantReason: "MODEL_CAPACITY_EXHAUSTED", wantDelay: "40s",
			wantKind: "capacity for 40s",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := NewOptions()
			opt.MaxWait = time.Millisecond // the answer, not the wait, is under test
			h := newHarness(t, 2, opt, func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
				if tt.answer == nil {
					t.Error("upstream called while the pool is spent")
					return jsonResponse(200, okAnswer), nil
				}
				return tt.answer()
			})
			if tt.setup != nil {
				tt.setup(h)
			}
			resp, body := h.post("/v1internal:streamGenerateContent?alt=sse",
				`{"model":"gemini-2.5-pro","project":`+cliProject+`,"user_prompt_id":"p1","request":{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"session_id":"s1"}}`,
				"Authorization", "Bearer dummy-token")
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			var e struct {
				Error struct {
					Details []struct {
						Type       string            `json:"@type"`
						Reason     string            `json:"reason"`
						Domain     string            `json:"domain"`
						Metadata   map[string]string `json:"metadata"`
						RetryDelay string            `json:"retryDelay"`
					} `json:"details"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("not Google's envelope: %s", body)
			}
			var reason, domain, delay, reset string
			for _, d := range e.Error.Details {
				switch d.Type {
				case "type.googleapis.com/google.rpc.ErrorInfo":
					reason, domain, reset = d.Reason, d.Domain, d.Metadata["quotaResetTimeStamp"]
				case "type.googleapis.com/google.rpc.RetryInfo":
					delay = d.RetryDelay
				}
			}
			if reason != tt.wantReason || domain != "cloudcode-pa.googleapis.com" || delay != tt.wantDelay || reset != tt.wantReset {
				t.Errorf("details: reason %q domain %q retryDelay %q reset %q, want %q cloudcode-pa.googleapis.com %q %q\n%s",
					reason, domain, delay, reset, tt.wantReason, tt.wantDelay, tt.wantReset, body)
			}
			if ra := resp.Header.Get("Retry-After"); ra+"s" != tt.wantDelay {
				t.Errorf("Retry-After %q disagrees with retryDelay %q", ra, tt.wantDelay)
			}
			if got := kindOf(cloudcode.Classify(resp.StatusCode, resp.Header, []byte(body), h.clk.Now())); got != tt.wantKind {
				t.Errorf("classified as %s, want %s", got, tt.wantKind)
			}
		})
	}
}

// kindOf names a classified upstream error and its wait, for comparison.
func kindOf(err error) string {
	var (
		qe *cloudcode.QuotaExhaustedError
		rl *cloudcode.RateLimitedError
		ce *cloudcode.CapacityExhaustedError
	)
	switch {
	case errors.As(err, &qe):
		return "quota until " + qe.ResetAt.UTC().Format(time.RFC3339)
	case errors.As(err, &rl):
		return "rate limited for " + rl.RetryDelay.String()
	case errors.As(err, &ce):
		return "capacity for " + ce.RetryDelay.String()
	}
	return fmt.Sprintf("%T %v", err, err)
}

// TestCLIPassthroughKeepsItsAccount: Gemini CLI names, in every call after
// loadCodeAssist, the project that call returned. Calls that spend no
// quota go to the account owning it, so the CLI sees one account's plan
// and quota; calls that name no project, or one no account owns, stay
// with the client's last account.
func TestCLIPassthroughKeepsItsAccount(t *testing.T) {
	h := newHarness(t, 3, NewOptions(), func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		return jsonResponse(200, `{"ok":true}`), nil
	})
	calls := []struct {
		path, body string
		want       int64 // 0: the same account as the call before
	}{
		{"/v1internal:retrieveUserQuota", `{"project":{"id":"proj-2","name":"proj-2"}}`, 2},
		{"/v1internal:listExperiments", `{"project":"proj-3","metadata":{"duetProject":"proj-3"}}`, 3},
		{"/v1internal:loadCodeAssist", `{"cloudaicompanionProject":"proj-2","metadata":{"duetProject":"proj-2"},"mode":"HEALTH_CHECK"}`, 2},
		{"/v1internal:retrieveUserQuota", `{"project":"someone-elses"}`, 0},
		{"/v1internal:recordCodeAssistMetrics", `{"project":"someone-elses","metrics":[]}`, 0},
		{"/v1internal:listExperiments", `{"project":"proj-3"}`, 3},
		{"/v1internal:getCodeAssistGlobalUserSetting", "", 0},
		{"/v1internal:loadCodeAssist", `{"metadata":{"ideType":"IDE_UNSPECIFIED"}}`, 0},
	}
	prev := int64(0)
	for i, c := range calls {
		method := http.MethodPost
		if c.body == "" {
			method = http.MethodGet
		}
		resp, body := h.do(method, c.path, c.body, "Authorization", "Bearer dummy-token")
		if resp.StatusCode != 200 {
			t.Fatalf("call %d: status %d: %s", i, resp.StatusCode, body)
		}
		got := accountOf(h.up.Calls()[i])
		switch {
		case c.want > 0 && got != c.want:
			t.Errorf("call %d %s went to account %d, want %d (its project's owner)", i, c.path, got, c.want)
		case c.want == 0 && got != prev:
			t.Errorf("call %d %s went to account %d, want %d like the call before", i, c.path, got, prev)
		}
		prev = got
	}
	if n := h.srv.Stats().ActiveSessions; n != 0 {
		t.Errorf("ActiveSessions = %d after quota-free calls only, want 0 (no conversation)", n)
	}

	// The project's owner is disabled: the client's last account serves.
	h.post("/v1internal:retrieveUserQuota", `{"project":"proj-2"}`, "Authorization", "Bearer dummy-token")
	h.q.mu.Lock()
	h.q.acct(3).state = quota.StateForbidden
	h.q.mu.Unlock()
	resp, body := h.post("/v1internal:listExperiments", `{"project":"proj-3"}`, "Authorization", "Bearer dummy-token")
	all := h.up.Calls()
	if got := accountOf(all[len(all)-1]); resp.StatusCode != 200 || got != 2 {
		t.Errorf("with its owner forbidden, a call naming proj-3 went to account %d (status %d: %s), want 2, the client's last", got, resp.StatusCode, body)
	}
}
