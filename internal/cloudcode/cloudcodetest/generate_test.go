package cloudcodetest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// answer is the part of a Gemini response the tests read.
type answer struct {
	Candidates []struct {
		Content struct {
			Role  string `json:"role"`
			Parts []struct {
				Text string `json:"text"`
			} `json:"parts"`
		} `json:"content"`
		FinishReason string `json:"finishReason"`
	} `json:"candidates"`
	UsageMetadata *struct {
		PromptTokenCount     int `json:"promptTokenCount"`
		CandidatesTokenCount int `json:"candidatesTokenCount"`
		TotalTokenCount      int `json:"totalTokenCount"`
	} `json:"usageMetadata"`
	ModelVersion string `json:"modelVersion"`
}

func TestGenerateContentAnswer(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "gen@example.com", TierID: "g1-pro-tier"})
	resp, err := s.client.Do(context.Background(), cloudcode.Request{RPC: "generateContent", Body: genBody(acct.Project, "claude-opus-4-6-thinking"), AccessToken: acct.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var wrapped struct {
		Response answer `json:"response"`
		TraceID  string `json:"traceId"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&wrapped); err != nil {
		t.Fatal(err)
	}
	a := wrapped.Response
	if len(a.Candidates) != 1 || a.Candidates[0].FinishReason != "STOP" || a.Candidates[0].Content.Role != "model" ||
		a.Candidates[0].Content.Parts[0].Text == "" || a.ModelVersion != "claude-opus-4-6-thinking" || wrapped.TraceID == "" {
		t.Errorf("answer = %+v", wrapped)
	}
	if u := a.UsageMetadata; u == nil || u.PromptTokenCount <= 0 || u.TotalTokenCount < u.PromptTokenCount+u.CandidatesTokenCount {
		t.Errorf("usage = %+v", a.UsageMetadata)
	}
	if got := s.srv.Remaining(acct.Email, cloudcode.FamilyClaudeGPT, cloudcode.Window5h); got != 0.99 {
		t.Errorf("5h after one call = %v, want 99/100", got)
	}
	if got := s.srv.Remaining(acct.Email, cloudcode.FamilyClaudeGPT, cloudcode.WindowWeekly); got != 0.998 {
		t.Errorf("weekly after one call = %v, want 499/500", got)
	}
	if got := s.srv.Requests("Gen@Example.com", "generateContent"); got != 1 {
		t.Errorf("Requests (email in another case) = %d, want 1", got)
	}
}

func TestGenerateRequestErrors(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "bad@example.com", TierID: "g1-pro-tier"})
	tests := []struct {
		name   string
		body   string
		status int
		gstat  string
	}{
		{"malformed JSON", `{"model":`, http.StatusBadRequest, "INVALID_ARGUMENT"},
		{"missing model", `{"project":"` + acct.Project + `","request":{}}`, http.StatusBadRequest, "INVALID_ARGUMENT"},
		{"unknown model", `{"project":"` + acct.Project + `","model":"gemini-9-ultra","request":{}}`, http.StatusNotFound, "NOT_FOUND"},
		{"internal model", `{"project":"` + acct.Project + `","model":"chat_20706","request":{}}`, http.StatusNotFound, "NOT_FOUND"},
		{"other project", `{"project":"not-mine","model":"gemini-3-flash","request":{}}`, http.StatusForbidden, "PERMISSION_DENIED"},
		{"no project", `{"model":"gemini-3-flash","request":{}}`, http.StatusForbidden, "PERMISSION_DENIED"},
		{"no token", "", http.StatusUnauthorized, "UNAUTHENTICATED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := acct.AccessToken
			if tt.body == "" {
				token, tt.body = "", string(genBody(acct.Project, "gemini-3-flash"))
			}
			status, body := s.raw(t, http.MethodPost, "generateContent", token, []byte(tt.body))
			var env struct {
				Error struct {
					Code   int    `json:"code"`
					Status string `json:"status"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &env); err != nil || status != tt.status || env.Error.Code != tt.status || env.Error.Status != tt.gstat {
				t.Errorf("got %d %s, want %d %s", status, body, tt.status, tt.gstat)
			}
		})
	}
	if got := s.srv.Remaining(acct.Email, cloudcode.FamilyGemini, cloudcode.Window5h); got != 1 {
		t.Errorf("refused calls drained the bucket to %v", got)
	}
	// Deprecated ids still generate, with a "models/" prefix too.
	for _, model := range []string{"gemini-2.5-pro", "models/claude-sonnet-4-5"} {
		if _, err := s.generate(context.Background(), acct.AccessToken, acct.Project, model); err != nil {
			t.Errorf("%s: %v", model, err)
		}
	}
}

func TestUnauthorized(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{AccessTokenTTL: 30 * time.Minute})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "auth@example.com", TierID: "g1-pro-tier"})
	other := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "other@example.com", TierID: "g1-pro-tier"})
	ctx := context.Background()

	if _, err := s.client.LoadCodeAssist(ctx, "ya29.made-up"); err == nil {
		t.Error("unknown token accepted")
	} else {
		asErr[*cloudcode.UnauthorizedError](t, err)
	}

	s.srv.ExpireAccessTokens(acct.Email)
	_, err := s.client.FetchAvailableModels(ctx, acct.AccessToken, acct.Project)
	asErr[*cloudcode.UnauthorizedError](t, err)
	if _, err := s.client.FetchAvailableModels(ctx, other.AccessToken, other.Project); err != nil {
		t.Errorf("expiring one account's tokens broke another's: %v", err)
	}
	fresh := s.srv.AccessToken(acct.Email)
	if _, err := s.generate(ctx, fresh, acct.Project, "gemini-3-flash"); err != nil {
		t.Errorf("fresh token: %v", err)
	}

	// Tokens expire after the TTL on the sim clock.
	s.clk.Advance(30*time.Minute - time.Second)
	if _, err := s.generate(ctx, fresh, acct.Project, "gemini-3-flash"); err != nil {
		t.Errorf("token just before expiry: %v", err)
	}
	s.clk.Advance(time.Second)
	_, err = s.generate(ctx, fresh, acct.Project, "gemini-3-flash")
	asErr[*cloudcode.UnauthorizedError](t, err)
	if got := s.srv.Remaining(acct.Email, cloudcode.FamilyGemini, cloudcode.Window5h); got != 0.98 {
		t.Errorf("5h = %v, want 0.98: only the two accepted calls cost quota", got)
	}
}

func TestValidationAndForbidden(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "flag@example.com", TierID: "g1-ultra-tier"})
	ctx := context.Background()
	const link = "https://accounts.google.com/signin/continue?sarp=1&scc=1"
	s.srv.FlagValidation(acct.Email, link)

	sub, err := s.client.LoadCodeAssist(ctx, acct.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if !sub.ValidationRequired || sub.ValidationURL != link || sub.Tier != cloudcode.TierUltra {
		t.Errorf("subscription = %+v, want validation required at %s", sub, link)
	}
	_, err = s.generate(ctx, acct.AccessToken, acct.Project, "gemini-3-flash")
	if ve := asErr[*cloudcode.ValidationRequiredError](t, err); ve.URL != link || ve.Message != "To continue, verify your account at "+link {
		t.Errorf("validation error = %+v", ve)
	}
	_, err = s.client.FetchAvailableModels(ctx, acct.AccessToken, acct.Project)
	asErr[*cloudcode.ValidationRequiredError](t, err)

	s.srv.Unflag(acct.Email)
	if _, err := s.generate(ctx, acct.AccessToken, acct.Project, "gemini-3-flash"); err != nil {
		t.Errorf("after Unflag: %v", err)
	}
	s.srv.Forbid(acct.Email, "SERVICE_DISABLED")
	_, err = s.generate(ctx, acct.AccessToken, acct.Project, "gemini-3-flash")
	if fe := asErr[*cloudcode.ForbiddenError](t, err); fe.Reason != "SERVICE_DISABLED" {
		t.Errorf("forbidden reason %q, want SERVICE_DISABLED", fe.Reason)
	}
	s.srv.Forbid(acct.Email, "")
	_, err = s.client.LoadCodeAssist(ctx, acct.AccessToken)
	if fe := asErr[*cloudcode.ForbiddenError](t, err); fe.Reason != "PERMISSION_DENIED" {
		t.Errorf("forbidden reason %q, want PERMISSION_DENIED", fe.Reason)
	}
}

func TestRateLimit(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{RPM: 2})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "rpm@example.com", TierID: "g1-pro-tier"})
	ctx := context.Background()
	call := func() error {
		_, err := s.generate(ctx, acct.AccessToken, acct.Project, "gemini-3-flash")
		return err
	}
	if err := call(); err != nil {
		t.Fatal(err)
	}
	s.clk.Advance(58*time.Second + 645153272*time.Nanosecond)
	if err := call(); err != nil {
		t.Fatal(err)
	}
	rl := asErr[*cloudcode.RateLimitedError](t, call())
	if rl.Bare || rl.RetryDelay != 1354846728*time.Nanosecond {
		t.Errorf("rate limit = %+v, want a detailed one with retry 1.354846728s", rl)
	}
	// countTokens is not a generate call: no RPM, no quota.
	resp, err := s.client.Do(ctx, cloudcode.Request{RPC: "countTokens", Body: []byte(`{"request":{"contents":[{"parts":[{"text":"abcdefgh"}]}]}}`), AccessToken: acct.AccessToken})
	if err != nil {
		t.Fatalf("countTokens under the RPM limit: %v", err)
	}
	var ct struct{ TotalTokens int }
	err = json.NewDecoder(resp.Body).Decode(&ct)
	resp.Body.Close()
	if err != nil || ct.TotalTokens != 3 {
		t.Errorf("countTokens = %+v, %v; want 3", ct, err)
	}

	s.clk.Advance(rl.RetryDelay)
	if err := call(); err != nil {
		t.Errorf("after the retry delay: %v", err)
	}
	if got := s.srv.Remaining(acct.Email, cloudcode.FamilyGemini, cloudcode.Window5h); got != 0.97 {
		t.Errorf("5h = %v, want 0.97: rate-limited calls cost nothing", got)
	}
}

func TestFaults(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{Seed: 7})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "faults@example.com", TierID: "g1-ultra-tier"})
	ctx := context.Background()
	call := func() error {
		_, err := s.generate(ctx, acct.AccessToken, acct.Project, "claude-sonnet-4-6-thinking")
		return err
	}

	s.srv.SetFaults(cloudcodetest.Faults{BareRate: 1})
	if rl := asErr[*cloudcode.RateLimitedError](t, call()); !rl.Bare {
		t.Errorf("bare 429 classified as detailed: %+v", rl)
	}
	s.srv.SetFaults(cloudcodetest.Faults{CapacityRate: 1})
	if ce := asErr[*cloudcode.CapacityExhaustedError](t, call()); ce.RetryDelay != 40*time.Second {
		t.Errorf("capacity error = %+v, want retry 40s", ce)
	}
	// A 503 is a host fault: the client tried prod too.
	if got := s.srv.Requests(acct.Email, "generateContent"); got != 3 {
		t.Errorf("requests = %d, want 3", got)
	}
	s.srv.SetFaults(cloudcodetest.Faults{Capacity429Rate: 1})
	if ce := asErr[*cloudcode.CapacityExhaustedError](t, call()); ce.Status != http.StatusTooManyRequests {
		t.Errorf("capacity error = %+v, want it sent as 429", ce)
	}
	if got := s.srv.Requests(acct.Email, "generateContent"); got != 4 {
		t.Errorf("requests = %d, want 4: a 429 is not retried on the next host", got)
	}
	if got := s.srv.Remaining(acct.Email, cloudcode.FamilyClaudeGPT, cloudcode.Window5h); got != 1 {
		t.Errorf("faulted calls drained the bucket to %v", got)
	}

	s.srv.SetFaults(cloudcodetest.Faults{BareRate: 0.2, CapacityRate: 0.2})
	var ok, bare, capacity int
	for range 200 {
		err := call()
		var rl *cloudcode.RateLimitedError
		var ce *cloudcode.CapacityExhaustedError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &rl):
			bare++
		case errors.As(err, &ce):
			capacity++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	// Capacity faults are retried on prod, so they reach the client at
	// about 0.2*0.2; bare 429s are not retried.
	if ok < 100 || bare < 20 || capacity == 0 || capacity > 30 {
		t.Errorf("ok %d, bare %d, capacity %d out of 200: rates not applied", ok, bare, capacity)
	}
	if got, want := s.srv.Remaining(acct.Email, cloudcode.FamilyClaudeGPT, cloudcode.Window5h), float64(400-ok)/400; got != want {
		t.Errorf("5h = %v, want %v: exactly the successful calls cost quota", got, want)
	}
	s.srv.SetFaults(cloudcodetest.Faults{})
	if err := call(); err != nil {
		t.Errorf("faults off: %v", err)
	}
}

// sseEvent is one event read from a stream and when it arrived.
type sseEvent struct {
	answer answer
	at     time.Time
}

func readSSE(t *testing.T, sc *bufio.Scanner) []sseEvent {
	t.Helper()
	var events []sseEvent
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("unexpected SSE line %q", line)
		}
		var a answer
		if err := json.Unmarshal(cloudcode.UnwrapResponse([]byte(data)), &a); err != nil {
			t.Fatalf("event %q: %v", data, err)
		}
		events = append(events, sseEvent{a, time.Now()})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return events
}

func TestStreamGenerateContent(t *testing.T) {
	const chunks, interval = 5, 20 * time.Millisecond
	s := newSim(t, cloudcodetest.Options{StreamChunks: chunks, StreamInterval: interval})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "stream@example.com", TierID: "g1-pro-tier"})
	began := time.Now()
	resp, err := s.client.Do(context.Background(), cloudcode.Request{RPC: "streamGenerateContent", Query: url.Values{"alt": {"sse"}},
		Body: genBody(acct.Project, "gemini-3-pro-high"), AccessToken: acct.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	events := readSSE(t, bufio.NewScanner(resp.Body))
	if len(events) != chunks {
		t.Fatalf("%d events, want %d", len(events), chunks)
	}
	// Google sends usageMetadata on every event (the candidates count
	// growing) and the finish reason only on the last.
	prev := 0
	for i, e := range events {
		last := i == chunks-1
		u := e.answer.UsageMetadata
		if u == nil || u.PromptTokenCount <= 0 || u.CandidatesTokenCount <= prev || (e.answer.Candidates[0].FinishReason == "STOP") != last {
			t.Errorf("event %d: usage %v finish %q; want growing usage on every event and STOP only on the last", i, u, e.answer.Candidates[0].FinishReason)
		}
		if u != nil {
			prev = u.CandidatesTokenCount
		}
	}
	// Events arrive over time, not in one write: the stream took at least
	// the intervals between them, and the first came before the last was sent.
	if took := events[chunks-1].at.Sub(began); took < (chunks-1)*interval {
		t.Errorf("stream took %s, want at least %s", took, (chunks-1)*interval)
	}
	if gap := events[chunks-1].at.Sub(events[0].at); gap < (chunks-2)*interval {
		t.Errorf("first and last event %s apart: not flushed one by one", gap)
	}
	if got := s.srv.Remaining(acct.Email, cloudcode.FamilyGemini, cloudcode.Window5h); got != 0.99 {
		t.Errorf("a stream cost %v of the bucket, want one unit", 1-got)
	}
}

func TestStreamStopsWhenClientLeaves(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{StreamChunks: 3, StreamInterval: time.Hour})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "leaver@example.com", TierID: "g1-pro-tier"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := s.client.Do(ctx, cloudcode.Request{RPC: "streamGenerateContent", Query: url.Values{"alt": {"sse"}},
		Body: genBody(acct.Project, "gemini-3-flash"), AccessToken: acct.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "data: ") {
		t.Fatalf("first event %q, %v", line, err)
	}
	if s.srv.InFlight() != 1 {
		t.Fatalf("InFlight = %d during the stream", s.srv.InFlight())
	}
	cancel()
	waitFor(t, "the stream handler to stop", func() bool { return s.srv.InFlight() == 0 })
}

func TestHangAndLatency(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	hung := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "hung@example.com", TierID: "g1-pro-tier"})
	fine := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "fine@example.com", TierID: "g1-pro-tier"})
	s.srv.SetHang(hung.Email, true)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := s.client.FetchAvailableModels(ctx, hung.AccessToken, hung.Project)
		errc <- err
	}()
	waitFor(t, "the hung call to arrive", func() bool { return s.srv.InFlight() == 1 })
	// Another account is not held up by the hung one.
	if _, err := s.client.FetchAvailableModels(context.Background(), fine.AccessToken, fine.Project); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("hung call ended with %v, want context.Canceled", err)
	}
	waitFor(t, "the hung handler to return", func() bool { return s.srv.InFlight() == 0 })

	// SetHang(false) releases a waiting call, which then succeeds.
	go func() {
		_, err := s.client.LoadCodeAssist(context.Background(), hung.AccessToken)
		errc <- err
	}()
	waitFor(t, "the second hung call", func() bool { return s.srv.InFlight() == 1 })
	s.srv.SetHang(hung.Email, false)
	if err := <-errc; err != nil {
		t.Errorf("released call: %v", err)
	}

	const latency = 30 * time.Millisecond
	s.srv.SetLatency(latency)
	began := time.Now()
	if _, err := s.client.LoadCodeAssist(context.Background(), fine.AccessToken); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took < latency {
		t.Errorf("call took %s with %s latency", took, latency)
	}
}

// Close must release a hung handler instead of waiting for it.
func TestCloseReleasesHungCalls(t *testing.T) {
	srv := cloudcodetest.NewServer(cloudcodetest.Options{})
	acct := srv.AddAccount(cloudcodetest.AccountSpec{Email: "stuck@example.com"})
	srv.SetHang(acct.Email, true)
	client := cloudcode.New(cloudcode.Config{BaseURLs: srv.BaseURLs(), HTTPClient: srv.Client()})
	errc := make(chan error, 1)
	go func() {
		_, err := client.LoadCodeAssist(context.Background(), acct.AccessToken)
		errc <- err
	}()
	waitFor(t, "the hung call", func() bool { return srv.InFlight() == 1 })
	srv.Close()
	if err := <-errc; err == nil {
		t.Error("hung call succeeded after Close")
	}
}

// The Code Assist methods Gemini CLI calls besides quotatui's own answer
// plausibly, proto3-encoded.
func TestCodeAssistMethods(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "cli@example.com", TierID: "g1-pro-tier"})
	s.srv.SetRemaining(acct.Email, cloudcode.FamilyClaudeGPT, cloudcode.Window5h, 0.5)
	tests := []struct {
		method, rpc, body string
		want              func(t *testing.T, m map[string]json.RawMessage)
	}{
		{http.MethodPost, "listExperiments", `{"project":"` + acct.Project + `"}`, func(t *testing.T, m map[string]json.RawMessage) {
			if m["experimentIds"] == nil || m["flags"] == nil {
				t.Errorf("no experiments: %v", m)
			}
		}},
		{http.MethodPost, "retrieveUserQuota", `{"project":"` + acct.Project + `"}`, func(t *testing.T, m map[string]json.RawMessage) {
			var b []struct {
				ModelID           string   `json:"modelId"`
				RemainingFraction *float64 `json:"remainingFraction"`
				TokenType         string   `json:"tokenType"`
			}
			if err := json.Unmarshal(m["buckets"], &b); err != nil || len(b) == 0 {
				t.Fatalf("buckets %s: %v", m["buckets"], err)
			}
			for _, x := range b {
				if x.ModelID == "claude-sonnet-4-6" && (x.RemainingFraction == nil || *x.RemainingFraction != 0.5 || x.TokenType != "REQUESTS") {
					t.Errorf("claude bucket %+v, want 0.5 of REQUESTS", x)
				}
			}
		}},
		{http.MethodPost, "fetchAdminControls", `{"project":"` + acct.Project + `"}`, nil},
		{http.MethodPost, "recordCodeAssistMetrics", `{"project":"` + acct.Project + `","metrics":[]}`, nil},
		{http.MethodPost, "onboardUser", `{"tierId":"standard-tier"}`, func(t *testing.T, m map[string]json.RawMessage) {
			if string(m["done"]) != "true" || m["response"] == nil {
				t.Errorf("onboardUser of an onboarded account: %v, want done with the project", m)
			}
		}},
		{http.MethodGet, "getCodeAssistGlobalUserSetting", "", func(t *testing.T, m map[string]json.RawMessage) {
			if m["cloudaicompanionProject"] == nil {
				t.Errorf("no project: %v", m)
			}
		}},
		{http.MethodPost, "setCodeAssistGlobalUserSetting", `{"freeTierDataCollectionOptin":true}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.rpc, func(t *testing.T) {
			resp, err := s.client.Do(context.Background(), cloudcode.Request{HTTPMethod: tt.method, RPC: tt.rpc, Body: []byte(tt.body), AccessToken: acct.AccessToken})
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var m map[string]json.RawMessage
			if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
				t.Fatal(err)
			}
			if tt.want != nil {
				tt.want(t, m)
			}
			_, err = s.client.Do(context.Background(), cloudcode.Request{HTTPMethod: tt.method, RPC: tt.rpc, Body: []byte(tt.body), AccessToken: "ya29.nobody"})
			asErr[*cloudcode.UnauthorizedError](t, err)
			if got := s.srv.Requests(acct.Email, tt.rpc); got != 1 {
				t.Errorf("Requests = %d, want 1", got)
			}
			if got := s.srv.TotalRequests(tt.rpc); got != 2 {
				t.Errorf("TotalRequests = %d, want 2", got)
			}
		})
	}
}

// Google answers a method it does not have with 404, whoever asks and
// before looking at the token; so does the simulator (it used to answer
// 200 {}, and a passthrough test could pass against a method that does not
// exist).
func TestUnknownMethodIsNotFound(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "cli@example.com", TierID: "g1-pro-tier"})
	for _, tt := range []struct{ method, rpc, token string }{
		{http.MethodPost, "noSuchMethod", acct.AccessToken},
		{http.MethodPost, "noSuchMethod", ""},
		{http.MethodGet, "listExperiments", acct.AccessToken}, // a known method with the wrong HTTP method
		{http.MethodPost, "getCodeAssistGlobalUserSetting", acct.AccessToken},
	} {
		status, body := s.raw(t, tt.method, tt.rpc, tt.token, []byte(`{}`))
		if status != http.StatusNotFound {
			t.Errorf("%s %s: %d %s, want 404", tt.method, tt.rpc, status, body)
		}
		if err := cloudcode.Classify(status, nil, body, start); err == nil {
			t.Errorf("%s %s: body %s does not classify as an error", tt.method, tt.rpc, body)
		}
	}
}

// Onboarding a new account is a long-running operation: onboardUser
// answers not done with an operation name, which Gemini CLI polls with
// GET v1internal/operations/<name> until it is done and names the project.
func TestOnboardingOperation(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "new@example.com"})
	other := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "other@example.com"})
	s.srv.SetOnboarded(acct.Email, false)
	_, body := s.raw(t, http.MethodPost, "onboardUser", acct.AccessToken, []byte(`{"tierId":"free-tier"}`))
	type operation struct {
		Name     string          `json:"name"`
		Done     bool            `json:"done"`
		Response json.RawMessage `json:"response"`
	}
	var op operation
	if err := json.Unmarshal(body, &op); err != nil || op.Done || !strings.HasPrefix(op.Name, "operations/") {
		t.Fatalf("onboardUser = %s (%v), want a pending operation", body, err)
	}
	if strings.Contains(string(body), "done") {
		t.Errorf("onboardUser = %s: proto3 leaves a false done out", body)
	}
	get := func(token string) (int, operation) {
		t.Helper()
		resp, err := s.client.Do(context.Background(), cloudcode.Request{HTTPMethod: http.MethodGet, Path: op.Name, AccessToken: token})
		var nf *cloudcode.NotFoundError
		if errors.As(err, &nf) {
			return http.StatusNotFound, operation{}
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got operation
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, got
	}
	// As Google does, an operation is found only by the account that started it.
	if st, _ := get(other.AccessToken); st != http.StatusNotFound {
		t.Errorf("another account's GET: %d, want 404", st)
	}
	if st, got := get(acct.AccessToken); st != http.StatusOK || got.Done {
		t.Errorf("first poll: %d %+v, want still running", st, got)
	}
	if st, got := get(acct.AccessToken); st != http.StatusOK || !got.Done || !strings.Contains(string(got.Response), acct.Project) {
		t.Fatalf("second poll: %d %+v, want done with the project", st, got)
	}
	if got := s.srv.Requests(acct.Email, "operations"); got != 2 {
		t.Errorf("Requests(operations) = %d, want 2", got)
	}
	if _, err := s.client.Do(context.Background(), cloudcode.Request{Path: op.Name, AccessToken: acct.AccessToken}); !errors.As(err, new(*cloudcode.NotFoundError)) {
		t.Errorf("POST to the operation: %v, want 404", err)
	}
	sub, err := s.client.LoadCodeAssist(context.Background(), acct.AccessToken)
	if err != nil || sub.ProjectID != acct.Project {
		t.Errorf("after onboarding: %+v (%v), want the project", sub, err)
	}
}

// Without alt=sse the service answers the whole stream as one JSON array.
func TestStreamWithoutSSEIsAnArray(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{StreamChunks: 3})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "array@example.com", TierID: "g1-pro-tier"})
	status, body := s.raw(t, http.MethodPost, "streamGenerateContent", acct.AccessToken, genBody(acct.Project, "gemini-3-flash"))
	var chunks []struct {
		Response answer `json:"response"`
	}
	if err := json.Unmarshal(body, &chunks); status != http.StatusOK || err != nil || len(chunks) != 3 {
		t.Fatalf("got %d %s (%v), want an array of 3", status, body, err)
	}
	if chunks[0].Response.UsageMetadata == nil || chunks[2].Response.UsageMetadata == nil || chunks[2].Response.Candidates[0].FinishReason != "STOP" {
		t.Errorf("usage must be in every chunk, the finish reason in the last")
	}
}

// The same seed gives the same faults, so a failing run can be replayed.
func TestFaultsAreSeeded(t *testing.T) {
	run := func(seed int64) string {
		s := newSim(t, cloudcodetest.Options{Seed: seed})
		acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "seed@example.com", TierID: "g1-ultra-tier"})
		s.srv.SetFaults(cloudcodetest.Faults{BareRate: 0.5})
		var out strings.Builder
		for range 40 {
			status, _ := s.raw(t, http.MethodPost, "generateContent", acct.AccessToken, genBody(acct.Project, "gemini-3-flash"))
			if status == http.StatusOK {
				out.WriteByte('.')
			} else {
				out.WriteByte('x')
			}
		}
		return out.String()
	}
	a, b, c := run(1), run(1), run(2)
	if a != b {
		t.Errorf("seed 1 gave %s then %s", a, b)
	}
	if a == c {
		t.Errorf("seeds 1 and 2 gave the same sequence %s", a)
	}
	if !strings.Contains(a, "x") || !strings.Contains(a, ".") {
		t.Errorf("rate 0.5 gave %s", a)
	}
}

// The 401's ErrorInfo says why, as Google's does.
func TestUnauthorizedReasons(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "why@example.com"})
	expired := s.srv.AccessToken(acct.Email)
	s.srv.ExpireAccessTokens(acct.Email)
	tests := []struct{ name, token, reason string }{
		{"missing", "", "CREDENTIALS_MISSING"},
		{"unknown", "ya29.never-issued", "ACCESS_TOKEN_TYPE_UNSUPPORTED"},
		{"expired", expired, "ACCESS_TOKEN_EXPIRED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := s.raw(t, http.MethodPost, "loadCodeAssist", tt.token, []byte(`{}`))
			if status != http.StatusUnauthorized || !strings.Contains(string(body), `"status":"UNAUTHENTICATED"`) ||
				!strings.Contains(string(body), `"reason":"`+tt.reason+`"`) {
				t.Errorf("got %d %s, want 401 with reason %s", status, body, tt.reason)
			}
		})
	}
}
