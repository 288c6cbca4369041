package cloudcode_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
)

const testToken = "ya29.secret-access-token"

// seen is one request a fake host received.
type seen struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   string
}

// fakeHost is an httptest server standing in for one v1internal host.
type fakeHost struct {
	srv *httptest.Server

	mu   sync.Mutex
	reqs []seen
}

// newHost starts a fake host whose answers come from h; every request is
// recorded before h runs.
func newHost(t *testing.T, h http.HandlerFunc) *fakeHost {
	t.Helper()
	fh := &fakeHost{}
	fh.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fh.mu.Lock()
		fh.reqs = append(fh.reqs, seen{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(b)})
		fh.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(fh.srv.Close)
	return fh
}

// base is the host's v1internal base URL.
func (h *fakeHost) base() string { return h.srv.URL + "/v1internal" }

func (h *fakeHost) requests() []seen {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]seen(nil), h.reqs...)
}

// answer returns a handler that always writes status and body.
func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// newClient returns a client over the given hosts with its own transport,
// closed at the end of the test so no connection outlives it.
func newClient(t *testing.T, clk clock.Clock, bases ...string) *cloudcode.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return cloudcode.New(cloudcode.Config{BaseURLs: bases, UserAgent: "quotatui-test/1.0", HTTPClient: &http.Client{Transport: tr}, Clock: clk})
}

func TestClientTypedCallsSendWhatTheUpstreamExpects(t *testing.T) {
	host := newHost(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, ":loadCodeAssist"):
			w.Write(sample(t, "loadcodeassist/pro.json"))
		case strings.HasSuffix(r.URL.Path, ":fetchAvailableModels"):
			w.Write(sample(t, "models/normal.json"))
		case strings.HasSuffix(r.URL.Path, ":retrieveUserQuotaSummary"):
			w.Write(sample(t, "summary/wrapped.json"))
		default:
			http.NotFound(w, r)
		}
	})
	c := newClient(t, nil, host.base())
	ctx := context.Background()

	sub, err := c.LoadCodeAssist(ctx, testToken)
	if err != nil || sub.ProjectID != "some-project-12345" || sub.Tier != cloudcode.TierPro {
		t.Fatalf("LoadCodeAssist = %+v, %v", sub, err)
	}
	cat, err := c.FetchAvailableModels(ctx, testToken, "proj-1")
	if err != nil || len(cat.Models) != 4 {
		t.Fatalf("FetchAvailableModels = %+v, %v", cat, err)
	}
	sum, err := c.RetrieveUserQuotaSummary(ctx, testToken, "proj-1")
	if err != nil || len(sum.Buckets) != 4 {
		t.Fatalf("RetrieveUserQuotaSummary = %+v, %v", sum, err)
	}

	wantBodies := []struct{ path, body string }{
		{"/v1internal:loadCodeAssist", `{"metadata":{"ideType":"ANTIGRAVITY"}}`},
		{"/v1internal:fetchAvailableModels", `{"project":"proj-1"}`},
		{"/v1internal:retrieveUserQuotaSummary", `{"project":"proj-1"}`},
	}
	reqs := host.requests()
	if len(reqs) != len(wantBodies) {
		t.Fatalf("host saw %d requests, want %d", len(reqs), len(wantBodies))
	}
	for i, want := range wantBodies {
		got := reqs[i]
		if got.Method != http.MethodPost || got.Path != want.path || got.Body != want.body {
			t.Errorf("request %d = %s %s %s, want POST %s %s", i, got.Method, got.Path, got.Body, want.path, want.body)
		}
		for k, v := range map[string]string{
			"Authorization": "Bearer " + testToken,
			"Content-Type":  "application/json",
			"User-Agent":    "quotatui-test/1.0",
		} {
			if g := got.Header.Get(k); g != v {
				t.Errorf("request %d %s = %q, want %q", i, k, g, v)
			}
		}
	}
}

func TestClientDefaults(t *testing.T) {
	c := cloudcode.New(cloudcode.Config{})
	if got := c.BaseURLs(); len(got) != 2 || got[0] != cloudcode.DefaultBaseURLs[0] || !strings.Contains(got[0], "daily") {
		t.Errorf("BaseURLs = %v, want daily first then prod", got)
	}
	host := newHost(t, answer(200, `{}`))
	c = cloudcode.New(cloudcode.Config{BaseURLs: []string{host.base() + "/"}})
	resp, err := c.Do(context.Background(), cloudcode.Request{RPC: "countTokens", Body: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := host.requests()[0]
	if got.Header.Get("User-Agent") != cloudcode.DefaultUserAgent {
		t.Errorf("User-Agent = %q, want the default", got.Header.Get("User-Agent"))
	}
	if got.Path != "/v1internal:countTokens" {
		t.Errorf("path = %q: a trailing slash on the base URL must not leak into the path", got.Path)
	}
}

func TestDoHostFallback(t *testing.T) {
	quota := string(sample(t, "errors/quota_exhausted.json"))
	tests := []struct {
		name         string
		first        http.HandlerFunc
		wantFallback bool
		wantErr      any // pointer to the typed error wanted when there is no fallback
	}{
		{"404", answer(404, `{"error":{"code":404}}`), true, nil},
		{"408", answer(408, ``), true, nil},
		{"500", answer(500, `{"error":{"code":500,"status":"INTERNAL"}}`), true, nil},
		{"502 html", answer(502, string(sample(t, "errors/bad_gateway.html"))), true, nil},
		{"503 capacity", answer(503, string(sample(t, "errors/capacity_503.json"))), true, nil},
		{"429 quota", answer(429, quota), false, new(*cloudcode.QuotaExhaustedError)},
		{"429 bare", answer(429, string(sample(t, "errors/bare_429.json"))), false, new(*cloudcode.RateLimitedError)},
		{"401", answer(401, string(sample(t, "errors/unauthenticated.json"))), false, new(*cloudcode.UnauthorizedError)},
		{"403", answer(403, string(sample(t, "errors/service_disabled.json"))), false, new(*cloudcode.ForbiddenError)},
		{"400", answer(400, `{"error":{"code":400}}`), false, new(*cloudcode.UnknownError)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := newHost(t, tt.first)
			second := newHost(t, answer(200, `{"response":{"ok":true}}`))
			c := newClient(t, nil, first.base(), second.base())
			body := []byte(`{"model":"gemini-3-flash"}`)
			resp, err := c.Do(context.Background(), cloudcode.Request{RPC: "generateContent", Body: body, AccessToken: testToken})
			if tt.wantFallback {
				if err != nil {
					t.Fatalf("Do = %v, want success from the second host", err)
				}
				resp.Body.Close()
				reqs := second.requests()
				if len(reqs) != 1 || reqs[0].Body != string(body) {
					t.Fatalf("second host saw %+v, want the same body once", reqs)
				}
				return
			}
			if resp != nil {
				t.Fatalf("Do returned a response for status %s", tt.name)
			}
			if !errors.As(err, tt.wantErr) {
				t.Fatalf("Do err = %v (%T), want %T", err, err, tt.wantErr)
			}
			if n := len(second.requests()); n != 0 {
				t.Fatalf("second host called %d times after %s, want 0", n, tt.name)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Fatalf("error %q leaks the token", err)
			}
		})
	}
}

// deadBase returns a base URL on a loopback port nothing listens on.
func deadBase(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/v1internal"
}

func TestDoNetworkErrorFallsBack(t *testing.T) {
	good := newHost(t, answer(200, `{}`))
	c := newClient(t, nil, deadBase(t), good.base())
	resp, err := c.Do(context.Background(), cloudcode.Request{RPC: "countTokens", Body: []byte(`{}`), AccessToken: testToken})
	if err != nil {
		t.Fatalf("Do = %v, want the second host's answer", err)
	}
	resp.Body.Close()
	if len(good.requests()) != 1 {
		t.Fatal("second host not called after a network error")
	}
}

func TestDoAllHostsFail(t *testing.T) {
	t.Run("last host's verdict", func(t *testing.T) {
		first := newHost(t, answer(503, ``))
		second := newHost(t, answer(404, `{"error":{"code":404,"message":"no such method"}}`))
		c := newClient(t, nil, first.base(), second.base())
		_, err := c.Do(context.Background(), cloudcode.Request{RPC: "nope", AccessToken: testToken})
		var nf *cloudcode.NotFoundError
		if !errors.As(err, &nf) || nf.Message != "no such method" {
			t.Fatalf("err = %v (%T), want the second host's NotFoundError", err, err)
		}
	})
	t.Run("network error is transient", func(t *testing.T) {
		c := newClient(t, nil, deadBase(t))
		_, err := c.Do(context.Background(), cloudcode.Request{RPC: "countTokens", AccessToken: testToken})
		var te *cloudcode.TransientError
		if !errors.As(err, &te) || te.Status != 0 || te.Err == nil {
			t.Fatalf("err = %v (%T), want a network TransientError", err, err)
		}
		if strings.Contains(err.Error(), testToken) {
			t.Fatalf("error %q leaks the token", err)
		}
	})
}

func TestDoClassifiesWithTheClientsClock(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 27, 16, 0, 0, 0, time.UTC))
	host := newHost(t, answer(429, string(sample(t, "errors/individual_quota.json"))))
	c := newClient(t, clk, host.base())
	_, err := c.Do(context.Background(), cloudcode.Request{RPC: "generateContent", Body: []byte(`{}`), AccessToken: testToken})
	var qe *cloudcode.QuotaExhaustedError
	if !errors.As(err, &qe) {
		t.Fatalf("err = %v (%T), want QuotaExhaustedError", err, err)
	}
	if want := clk.Now().Add(9*time.Hour + 22*time.Minute + 20*time.Second); !qe.ResetAt.Equal(want) {
		t.Errorf("ResetAt = %v, want %v", qe.ResetAt, want)
	}
}

func TestTypedCallsRejectNonJSONSuccess(t *testing.T) {
	host := newHost(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusOK)
		w.Write(sample(t, "errors/bad_gateway.html"))
	})
	c := newClient(t, nil, host.base())
	ctx := context.Background()
	calls := map[string]func() error{
		"loadCodeAssist":           func() error { _, err := c.LoadCodeAssist(ctx, testToken); return err },
		"fetchAvailableModels":     func() error { _, err := c.FetchAvailableModels(ctx, testToken, "p"); return err },
		"retrieveUserQuotaSummary": func() error { _, err := c.RetrieveUserQuotaSummary(ctx, testToken, "p"); return err },
	}
	for method, call := range calls {
		err := call()
		var me *cloudcode.MalformedResponseError
		if !errors.As(err, &me) || me.Status != 200 || me.Method != method || !strings.Contains(me.Problem, "HTML") {
			t.Errorf("%s: err = %v (%T), want MalformedResponseError naming the method and HTML", method, err, err)
		}
	}
}

func TestTypedCallWrongFieldType(t *testing.T) {
	host := newHost(t, answer(200, `{"models":{"gemini-3-flash":{"quotaInfo":{"remainingFraction":[1]}}}}`))
	c := newClient(t, nil, host.base())
	// One bad entry is skipped and reported, naming the field and its type.
	cat, err := c.FetchAvailableModels(context.Background(), testToken, "p")
	if err != nil || len(cat.Models) != 0 || len(cat.Problems) != 1 || !strings.Contains(cat.Problems[0], "remainingFraction: want number, got array") {
		t.Fatalf("catalog %+v, err %v; want the entry skipped with the field and its type named", cat, err)
	}
}

func TestDoLeavesStreamOpen(t *testing.T) {
	release := make(chan struct{})
	host := newHost(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"response\":{\"n\":1}}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "data: {\"response\":{\"n\":2}}\n\n")
	})
	c := newClient(t, nil, host.base())
	resp, err := c.Do(context.Background(), cloudcode.Request{
		RPC: "streamGenerateContent", Query: url.Values{"alt": {"sse"}}, Body: []byte(`{}`), AccessToken: testToken,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if q := host.requests()[0].RawQuery; q != "alt=sse" {
		t.Errorf("query = %q, want alt=sse", q)
	}
	rd := bufio.NewReader(resp.Body)
	line, err := rd.ReadString('\n')
	if err != nil || line != "data: {\"response\":{\"n\":1}}\n" {
		t.Fatalf("first event = %q, %v", line, err)
	}
	// Only now may the server send the second event: if Do had buffered
	// the body, it would never have returned.
	close(release)
	rest, err := io.ReadAll(rd)
	if err != nil || !strings.Contains(string(rest), `"n":2`) {
		t.Fatalf("rest = %q, %v", rest, err)
	}
}

func TestDoRespectsCancellation(t *testing.T) {
	arrived := make(chan struct{})
	hung := newHost(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	})
	second := newHost(t, answer(200, `{}`))
	c := newClient(t, nil, hung.base(), second.base())
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	_, err := c.Do(ctx, cloudcode.Request{RPC: "generateContent", Body: []byte(`{}`), AccessToken: testToken})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := len(second.requests()); n != 0 {
		t.Fatalf("second host called %d times after cancellation", n)
	}
}

func TestDoHeaders(t *testing.T) {
	host := newHost(t, answer(200, `{}`))
	c := newClient(t, nil, host.base())
	resp, err := c.Do(context.Background(), cloudcode.Request{
		HTTPMethod: http.MethodGet, RPC: "getCodeAssistGlobalUserSetting", AccessToken: testToken, Body: []byte{},
		Header: http.Header{"Authorization": {"Bearer client-token"}, "User-Agent": {"GeminiCLI/1.0"}, "X-Goog-Api-Client": {"gl-node/22"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := host.requests()[0]
	if got.Method != http.MethodGet || got.Header.Get("Authorization") != "Bearer "+testToken {
		t.Errorf("got %s with Authorization %q; the account's token must replace the client's", got.Method, got.Header.Get("Authorization"))
	}
	if got.Header.Get("User-Agent") != "GeminiCLI/1.0" || got.Header.Get("X-Goog-Api-Client") != "gl-node/22" {
		t.Errorf("forwarded headers lost: %v", got.Header)
	}
	if got.Header.Get("Content-Type") != "" {
		t.Errorf("Content-Type %q set on a request without a body", got.Header.Get("Content-Type"))
	}
}
