package alert

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// captured is one request a test webhook received.
type captured struct {
	method string
	path   string
	header http.Header
	body   []byte
}

// hookServer is an httptest server that records requests and answers
// with status (200 when zero).
type hookServer struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []captured
	status int
}

func newHookServer(t *testing.T, status int) *hookServer {
	h := &hookServer{status: status}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.reqs = append(h.reqs, captured{r.Method, r.URL.Path, r.Header.Clone(), body})
		st := h.status
		h.mu.Unlock()
		if st == 0 {
			st = http.StatusOK
		}
		w.WriteHeader(st)
		io.WriteString(w, "answer from the hook")
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) requests() []captured {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]captured(nil), h.reqs...)
}

func (h *hookServer) setStatus(s int) {
	h.mu.Lock()
	h.status = s
	h.mu.Unlock()
}

func newTestWebhook(t *testing.T, h *hookServer, path, format, token string) *Webhook {
	t.Helper()
	wh, err := NewWebhook(WebhookOptions{URL: h.URL + path, Format: format, Token: token, Client: h.Client(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return wh
}

func TestWebhookJSON(t *testing.T) {
	h := newHookServer(t, 0)
	wh := newTestWebhook(t, h, "/hooks/s3cret", "", "tok-1")
	e := Sample(t0)
	if err := wh.Send(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	reqs := h.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.method != http.MethodPost || r.path != "/hooks/s3cret" {
		t.Errorf("request %s %s, want POST /hooks/s3cret", r.method, r.path)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if a := r.header.Get("Authorization"); a != "Bearer tok-1" {
		t.Errorf("Authorization %q, want the token as a bearer", a)
	}
	var got Event
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatalf("body is not an Event: %v\n%s", err, r.body)
	}
	want, _ := json.Marshal(e)
	again, _ := json.Marshal(got)
	if string(want) != string(again) {
		t.Errorf("body\n got %s\nwant %s", again, want)
	}
	if wh.Name() != "webhook "+strings.TrimPrefix(h.URL, "http://") {
		t.Errorf("Name() = %q, want the host only", wh.Name())
	}
}

func TestWebhookNtfy(t *testing.T) {
	h := newHookServer(t, 0)
	wh := newTestWebhook(t, h, "/quota-topic", "ntfy", "")
	e := newEvent(KindVerification, t0, "Zoë needs a browser verification", "Google wants zoe@example.com verified.")
	e.URL = "https://accounts.example/verify?x=1"
	if err := wh.Send(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	r := h.requests()[0]
	if string(r.body) != e.Message {
		t.Errorf("ntfy body %q, want the message as text", r.body)
	}
	title, err := new(mime.WordDecoder).DecodeHeader(r.header.Get("Title"))
	if err != nil || title != e.Title {
		t.Errorf("Title header %q decodes to %q (%v), want %q", r.header.Get("Title"), title, err, e.Title)
	}
	for k, v := range map[string]string{
		"Priority": "default", "Tags": "warning,quotatui,verification_required",
		"Click": e.URL, "Content-Type": "text/plain; charset=utf-8", "Authorization": "",
	} {
		if got := r.header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}

	// Critical alerts are high priority with a siren.
	if err := wh.Send(context.Background(), newEvent(KindPoolExhausted, t0, "t", "m")); err != nil {
		t.Fatal(err)
	}
	r = h.requests()[1]
	if r.header.Get("Priority") != "high" || !strings.HasPrefix(r.header.Get("Tags"), "rotating_light,") {
		t.Errorf("critical alert: Priority %q Tags %q", r.header.Get("Priority"), r.header.Get("Tags"))
	}
}

func TestWebhookSlack(t *testing.T) {
	h := newHookServer(t, 0)
	wh := newTestWebhook(t, h, "/services/T0/B0/s3cret", "slack", "")
	e := newEvent(KindExhausted, t0, "a<b>&c: gemini exhausted", "gemini exhausted (5h window), resets in 4h")
	e.URL = "https://x.example/?a=1&b=2"
	if err := wh.Send(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	if err := json.Unmarshal(h.requests()[0].body, &body); err != nil {
		t.Fatal(err)
	}
	want := "*a&lt;b&gt;&amp;c: gemini exhausted*\ngemini exhausted (5h window), resets in 4h\n<https://x.example/?a=1&amp;b=2|open>"
	if len(body) != 1 || body["text"] != want {
		t.Errorf("slack body %q, want only text %q", body, want)
	}
}

func TestWebhookErrors(t *testing.T) {
	tests := []struct {
		status    int
		permanent bool
	}{
		{http.StatusInternalServerError, false},
		{http.StatusServiceUnavailable, false},
		{http.StatusTooManyRequests, false},
		{http.StatusRequestTimeout, false},
		{http.StatusBadRequest, true},
		{http.StatusUnauthorized, true},
		{http.StatusNotFound, true},
		{http.StatusFound, true},
	}
	for _, tt := range tests {
		h := newHookServer(t, tt.status)
		wh := newTestWebhook(t, h, "/hooks/s3cret", "", "")
		err := wh.Send(context.Background(), Sample(t0))
		if err == nil {
			t.Errorf("status %d: no error", tt.status)
			continue
		}
		if IsPermanent(err) != tt.permanent {
			t.Errorf("status %d: permanent = %v, want %v (%v)", tt.status, IsPermanent(err), tt.permanent, err)
		}
		if !strings.Contains(err.Error(), http.StatusText(tt.status)) {
			t.Errorf("status %d: error %q does not say what the hook answered", tt.status, err)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("status %d: error %q shows the URL's path", tt.status, err)
		}
		if n := len(h.requests()); n != 1 {
			t.Errorf("status %d: %d requests, want 1 (redirects are not followed)", tt.status, n)
		}
	}
}

func TestWebhookHangingTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	wh, err := NewWebhook(WebhookOptions{URL: srv.URL + "/k3y", Timeout: 50 * time.Millisecond, Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	err = wh.Send(context.Background(), Sample(t0))
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "no answer within 50ms") {
		t.Errorf("hanging hook: %v, want a retryable timeout", err)
	}
	if strings.Contains(err.Error(), "k3y") {
		t.Errorf("error %q shows the URL's path", err)
	}
}

func TestWebhookDownIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/s3cret"
	srv.Close() // nothing listens there now
	wh, err := NewWebhook(WebhookOptions{URL: url, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = wh.Send(context.Background(), Sample(t0))
	if err == nil || IsPermanent(err) {
		t.Errorf("refused connection: %v, want a retryable error", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q shows the URL's path", err)
	}
}

func TestNewWebhookRejects(t *testing.T) {
	for _, o := range []WebhookOptions{
		{URL: "hooks.example/s3cret"},
		{URL: "ftp://hooks.example/s3cret"},
		{URL: "https://hooks.example/x", Format: "discord"},
	} {
		_, err := NewWebhook(o)
		if err == nil {
			t.Errorf("NewWebhook(%+v) accepted it", o)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error %q shows the URL", err)
		}
	}
}
