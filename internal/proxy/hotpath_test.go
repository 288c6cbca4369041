package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// TestPassthroughFirstRoutesAsTheMux checks that passthroughFirst sends
// every request where the mux alone would: the same handler with the same
// path, or the same redirect, 404 or 405. Paths the mux would clean,
// escaped paths, CONNECT and the other routes are among them.
func TestPassthroughFirstRoutesAsTheMux(t *testing.T) {
	mux := http.NewServeMux()
	named := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Handler", name)
			w.Header().Set("X-Path", r.URL.Path)
			w.Header().Set("X-Pattern", r.Pattern)
			w.WriteHeader(http.StatusTeapot)
		}
	}
	mux.HandleFunc("GET /healthz", named("health"))
	mux.HandleFunc("GET /v1beta/models", named("list"))
	mux.HandleFunc("POST /v1beta/models/{call}", named("gemini"))
	mux.HandleFunc("POST /v1/messages", named("messages"))
	mux.HandleFunc("GET /v1/models/{model}", named("model"))
	other := named("other")
	mux.HandleFunc("/", other)
	fast := passthroughFirst(mux, other)

	paths := []string{
		"/v1internal:generateContent", "/v1internal:streamGenerateContent?alt=sse", "/v1internal:loadCodeAssist?key=k",
		"/v1internal/operations/op-1", "/v1internal/operations/", "/v1internal/operations/a/b",
		"/v1internal:generateContent/", "/v1internal:generateContent/../healthz", "/v1internal:x/./y", "//v1internal:generateContent",
		"/v1internal/operations/..", "/v1internal/operations/op%2F1", "/v1internal%3AgenerateContent", "/v1internal:gen%20erate",
		"/v1internal", "/v1internal/", "/v1internalx", "/healthz", "/v1beta/models", "/v1beta/models/gemini-3-flash:generateContent",
		"/v1/messages", "/v1/models/x", "/nowhere",
	}
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodConnect} {
		for _, p := range paths {
			u, err := url.Parse("http://127.0.0.1:8045" + p)
			if err != nil {
				t.Fatal(err)
			}
			want, got := httptest.NewRecorder(), httptest.NewRecorder()
			mux.ServeHTTP(want, &http.Request{Method: method, URL: u, Host: u.Host, RequestURI: u.RequestURI(), Header: http.Header{}})
			fast.ServeHTTP(got, &http.Request{Method: method, URL: u, Host: u.Host, RequestURI: u.RequestURI(), Header: http.Header{}})
			if got.Code != want.Code || got.Body.String() != want.Body.String() {
				t.Errorf("%s %s: got %d %q, the mux %d %q", method, p, got.Code, got.Body, want.Code, want.Body)
			}
			for _, h := range []string{"X-Handler", "X-Path", "X-Pattern", "Location", "Allow"} {
				if got.Header().Get(h) != want.Header().Get(h) {
					t.Errorf("%s %s: %s %q, the mux's %q", method, p, h, got.Header().Get(h), want.Header().Get(h))
				}
			}
		}
	}
}

// TestAccountHeaderIsShared checks what sharing X-Quotatui-Account's
// value across answers relies on: one value per label, and adding to an
// answer's header (Header.Add) changes a copy, never the shared value.
func TestAccountHeaderIsShared(t *testing.T) {
	srv, err := New(newFakeQuota(nil, 1), &fakeTokens{}, &fakeUpstream{}, NewOptions())
	if err != nil {
		t.Fatal(err)
	}
	a, b := srv.accountHeader("a@example.com"), srv.accountHeader("b@example.com")
	if len(a) != 1 || a[0] != "a@example.com" || len(b) != 1 || b[0] != "b@example.com" {
		t.Fatalf("got %q and %q", a, b)
	}
	h := http.Header{}
	h["X-Quotatui-Account"] = srv.accountHeader("a@example.com")
	h.Add("X-Quotatui-Account", "more")
	if again := srv.accountHeader("a@example.com"); len(again) != 1 || again[0] != "a@example.com" || cap(again) != 1 {
		t.Errorf("after Add the shared value is %q (cap %d)", again, cap(again))
	}
}

// TestSessionKeyBytes checks that the key the proxy builds on the stack is
// the key the Bindings interface is given (session, NUL, family), for a
// key that fits the stack buffer and one that does not, and that an
// existing binding updated in place moves.
func TestSessionKeyBytes(t *testing.T) {
	now := t0
	s := newSessions(time.Hour)
	for _, session := range []string{"conv-1", strings.Repeat("long-session-", 20), "h:0011aabb", "ünï"} {
		for i, f := range []cloudcode.Family{cloudcode.FamilyGemini, cloudcode.FamilyClaudeGPT} {
			var kb [128]byte
			key := appendSessionKey(kb[:0], session, f)
			if string(key) != session+"\x00"+f.String() {
				t.Fatalf("key %q", key)
			}
			s.bindBytes(key, int64(10+i), now)
			if got := s.bound(session+"\x00"+f.String(), now); got != int64(10+i) {
				t.Errorf("%q %s: bound %d, want %d", session, f, got, 10+i)
			}
			s.bindBytes(key, int64(20+i), now.Add(time.Minute))
			if got := s.boundBytes(key, now.Add(time.Minute)); got != int64(20+i) {
				t.Errorf("%q %s: after a move bound %d, want %d", session, f, got, 20+i)
			}
		}
	}
	if n := s.active(now.Add(time.Minute)); n != 8 {
		t.Errorf("%d conversations active, want 8", n)
	}
	if len(appendSessionKey(nil, "", cloudcode.FamilyGemini)) != 0 {
		t.Error("no session has a key")
	}
}

// TestStatusWritersAreNotShared checks that a pooled statusWriter starts
// clean: a generation (family and status counted), then calls that set
// no family or a status of their own, counted as their own.
func TestStatusWritersAreNotShared(t *testing.T) {
	h := newHarness(t, 2, NewOptions(), func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		return jsonResponse(200, okAnswer), nil
	})
	for range 3 {
		if resp, body := h.post("/v1internal:generateContent", genBody("gemini-3-flash", "hi")); resp.StatusCode != 200 {
			t.Fatalf("generate: %d %s", resp.StatusCode, body)
		}
		if resp, body := h.post("/v1internal:loadCodeAssist", `{}`); resp.StatusCode != 200 {
			t.Fatalf("loadCodeAssist: %d %s", resp.StatusCode, body)
		}
		if resp, _ := h.post("/nowhere", `{}`); resp.StatusCode != 404 {
			t.Fatalf("/nowhere: %d", resp.StatusCode)
		}
	}
	st := h.srv.Stats()
	if got := st.RequestsByFamily; len(got) != 1 || got[cloudcode.FamilyGemini.String()] != 3 {
		t.Errorf("by family %v, want 3 Gemini requests only", got)
	}
	if got := st.RequestsByStatus; len(got) != 2 || got[200] != 6 || got[404] != 3 {
		t.Errorf("by status %v, want 6 × 200 and 3 × 404", got)
	}
}

// TestSharedQueryStaysAsIs checks the query shared by streamed calls
// (sseQuery): every call's upstream query is its own, and none changes
// the shared value.
func TestSharedQueryStaysAsIs(t *testing.T) {
	h := newHarness(t, 2, NewOptions(), func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		return sseBody(`{"response":{"candidates":[]}}`), nil
	})
	for _, tt := range []struct{ query, want string }{
		{"?alt=sse", "alt=sse"},
		{"", "alt=sse"},
		{"?alt=sse&key=local-key", "alt=sse"},
		{"?foo=1", "alt=sse&foo=1"},
		{"?alt=json", "alt=sse"},
		{"?alt=sse", "alt=sse"},
	} {
		n := len(h.up.Calls())
		if resp, body := h.post("/v1internal:streamGenerateContent"+tt.query, genBody("gemini-3-flash", "hi")); resp.StatusCode != 200 {
			t.Fatalf("%q: %d %s", tt.query, resp.StatusCode, body)
		}
		calls := h.up.Calls()
		if got := calls[n].Query.Encode(); len(calls) != n+1 || got != tt.want {
			t.Errorf("%q: upstream query %q, want %q", tt.query, got, tt.want)
		}
	}
	if got := sseQuery.Encode(); got != "alt=sse" {
		t.Errorf("the shared query is now %q", got)
	}
}
