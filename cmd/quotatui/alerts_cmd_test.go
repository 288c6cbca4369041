package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/alert"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// alertHook is a webhook receiver that keeps the alerts it is sent.
type alertHook struct {
	*httptest.Server
	mu  sync.Mutex
	got []alert.Event
}

func newAlertHook(t *testing.T) *alertHook {
	h := &alertHook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var e alert.Event
		if err := json.Unmarshal(body, &e); err != nil {
			t.Errorf("webhook body is not an alert: %v: %s", err, body)
		}
		h.mu.Lock()
		h.got = append(h.got, e)
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *alertHook) alerts() []alert.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]alert.Event(nil), h.got...)
}

func TestAlertsTestCommand(t *testing.T) {
	h := newAlertHook(t)
	r := runCLI(t, testEnv(t, "QUOTATUI_ALERTS_WEBHOOK_URL="+h.URL+"/topic"), "", "alerts", "test")
	if r.code != 0 {
		t.Fatalf("alerts test exited %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if want := "webhook " + strings.TrimPrefix(h.URL, "http://") + "  ok ("; !strings.HasPrefix(r.stdout, want) {
		t.Errorf("stdout %q, want %q…", r.stdout, want)
	}
	if got := h.alerts(); len(got) != 1 || got[0].Kind != alert.KindTest || !got[0].Sample {
		t.Errorf("webhook got %+v, want one sample alert", got)
	}

	r = runCLI(t, testEnv(t), "", "alerts", "test")
	if r.code != 1 || !strings.Contains(r.stderr, "no alert sink is configured") {
		t.Errorf("nothing configured: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runCLI(t, testEnv(t, "QUOTATUI_ALERTS_WEBHOOK_FORMAT=discord"), "", "alerts", "test")
	if r.code != 1 || !strings.Contains(r.stderr, `alerts.webhook.format = "discord"`) {
		t.Errorf("bad format: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runCLI(t, testEnv(t), "", "alerts"); r.code != 2 || !strings.Contains(r.stderr, "name a command: test") {
		t.Errorf("bare alerts: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runCLI(t, testEnv(t), "", "alerts", "send"); r.code != 2 || !strings.Contains(r.stderr, `unknown command "send"`) {
		t.Errorf("alerts send: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestServeSendsAlerts(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "quotatui.db")
	srv, _ := seedSim(t, dbPath,
		cloudcodetest.AccountSpec{Email: "ada@example.com", TierID: "g1-pro-tier"},
		cloudcodetest.AccountSpec{Email: "grace@example.com", TierID: "g1-ultra-tier"},
	)
	srv.SetRemaining("ada@example.com", cloudcode.FamilyGemini, cloudcode.Window5h, 0)
	h := newAlertHook(t)
	s := startServe(t, append(simFlags(srv, dbPath), "--proxy-listen", "127.0.0.1:0",
		"--alerts-webhook-url", h.URL, "--alerts-webhook-events", "exhausted,pool_exhausted")...)
	deadline := time.Now().Add(30 * time.Second)
	for len(h.alerts()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no alert within 30s; serve said: %s", s.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	e := h.alerts()[0]
	if e.Kind != alert.KindExhausted || e.Account == nil || e.Account.Email != "ada@example.com" || e.Family != "gemini" {
		t.Errorf("alert %+v", e)
	}
	if code := s.stop(t); code != 0 {
		t.Errorf("serve exited %d: %s", code, s.stderr.String())
	}
	for _, want := range []string{"alerts: sink configured", "msg=alert kind=exhausted"} {
		if !strings.Contains(s.stderr.String(), want) {
			t.Errorf("serve's log lacks %q:\n%s", want, s.stderr.String())
		}
	}
	if len(h.alerts()) != 1 {
		t.Errorf("alerts %+v, want only ada's exhausted gemini (grace has quota, so the pool is fine)", h.alerts())
	}
}
