package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/config"
)

// TestFailingSinksBlockNothing runs the engine with three webhooks: one
// that never answers, one that answers 500 until it recovers, and one that
// works. The monitor's syncs finish, the working hook gets every alert at
// once, the failing one gets them after its retries, and the hanging one
// holds only its own queue.
func TestFailingSinksBlockNothing(t *testing.T) {
	const n = 12
	specs := proAccounts(n)
	w := newWorld(t, worldOptions{}, specs...)

	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hanging.Close()
	defer close(release) // before Close: let the hung handlers return
	failing := newHookServer(t, http.StatusInternalServerError)
	working := newHookServer(t, 0)

	hook := func(url string, c *http.Client) Sink {
		wh, err := NewWebhook(WebhookOptions{URL: url, Client: c, Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		return wh
	}
	lows := mustFilter(t, "low")
	var log logBuffer
	s := w.run([]Route{
		{Sink: hook(hanging.URL, hanging.Client()), Filter: lows},
		{Sink: hook(failing.URL, failing.Client()), Filter: lows},
		{Sink: hook(working.URL, working.Client()), Filter: lows},
	}, Options{RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond, Logger: log.logger()})

	for _, sp := range specs {
		w.sim.SetRemaining(sp.Email, gemini, w5h, 0.05)
	}
	for range 3 {
		if r := w.syncAll(); len(r.Errors) != 0 || r.OK != n {
			t.Fatalf("sync %+v", r)
		}
	}
	waitFor(t, "the working hook to get every alert", func() bool { return len(working.requests()) == n })
	for _, r := range working.requests() {
		var e Event
		if err := json.Unmarshal(r.body, &e); err != nil || e.Kind != KindLow {
			t.Errorf("working hook got %s (%v)", r.body, err)
		}
	}

	// The failing hook is being retried; it comes back and catches up on
	// what its queue holds.
	waitFor(t, "retries of the failing hook", func() bool { return len(failing.requests()) >= 3 })
	failing.setStatus(http.StatusOK)
	waitFor(t, "the failing hook to deliver its queue", func() bool { return s.Stats()[1].Pending == 0 })
	if fs := s.Stats()[1]; fs.Sent != n || fs.Dropped != 0 {
		t.Errorf("failing hook stats %+v, want every alert delivered after the retries", fs)
	}

	// The hanging hook holds one alert in flight and the rest in its
	// queue; nothing else waited for it.
	if hs := s.Stats()[0]; hs.Sent != 0 || hs.Pending != n {
		t.Errorf("hanging hook stats %+v, want all %d pending", hs, n)
	}
	out := log.String()
	for _, want := range []string{
		`level=WARN msg="alerts: delivery failed, retrying with backoff" sink="webhook ` + strings.TrimPrefix(failing.URL, "http://"),
		"500 Internal Server Error",
		`level=INFO msg="alerts: sink delivers again"`,
		`level=INFO msg=alert kind=low`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestServiceStopsWithAHungSink(t *testing.T) {
	// Run returns when its context ends even while a sink is stuck in a
	// send, and a never-run service can be closed: goleak (TestMain)
	// checks that nothing is left behind.
	w := newWorld(t, worldOptions{}, pro(ada))
	hang := &hangingSink{started: make(chan struct{})}
	s := New(w.q, []Route{{Sink: hang, Filter: AllKinds}}, Options{Logger: quiet, Clock: w.clk, ScanEvery: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	w.sim.SetRemaining(ada, gemini, w5h, 0.05)
	w.syncAll()
	<-hang.started
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err == nil {
		t.Error("a second Run was accepted")
	}

	never := New(w.q, nil, Options{Logger: quiet})
	never.Close()
	never.Close()
}

func TestFromConfig(t *testing.T) {
	routes, err := FromConfig(config.Default().Alerts, nil)
	if err != nil || len(routes) != 0 {
		t.Fatalf("default config: %d routes, %v; want none", len(routes), err)
	}

	c := config.Default().Alerts
	c.Desktop.Enabled = true
	c.Desktop.Events = []string{"exhausted", "pool_exhausted"}
	c.Webhook.URL = "https://ntfy.example/topic"
	c.Webhook.Format = "ntfy"
	c.Command.Run = "true"
	c.Command.Events = []string{"needs_login"}
	routes, err = FromConfig(c, &fakeNotifier{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range routes {
		got = append(got, r.Sink.Name()+" "+r.Filter.String())
	}
	want := []string{"desktop exhausted,pool_exhausted", "webhook ntfy.example all", "command needs_login"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("routes %q, want %q", got, want)
	}

	c.Webhook.URL = "hooks.example/s3cret"
	c.Command.Events = []string{"sometimes"}
	_, err = FromConfig(c, &fakeNotifier{})
	if err == nil || !strings.Contains(err.Error(), "alerts.webhook: ") || !strings.Contains(err.Error(), `alerts.command.events: unknown alert kind "sometimes"`) {
		t.Errorf("bad config: %v, want both problems named by setting", err)
	}
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the webhook URL: %v", err)
	}
}

func TestRunTest(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the command sink's test command is a shell line")
	}
	hook := newHookServer(t, 0)
	out := filepath.Join(t.TempDir(), "alert.json")
	c := config.Default().Alerts
	c.Webhook.URL = hook.URL + "/topic"
	c.Command.Run = "cat > " + out
	c.Webhook.Events = []string{"pool_exhausted"} // the test alert goes to every sink whatever its filter

	addr := ""
	if _, err := exec.LookPath("dbus-daemon"); err == nil {
		// The desktop sink through the real session-bus lookup.
		addr = startBus(t)
		_ = serveNotifications(t, addr)
		t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
		c.Desktop.Enabled = true
	}

	var b bytes.Buffer
	if err := RunTest(context.Background(), &b, c, t0); err != nil {
		t.Fatalf("RunTest: %v\n%s", err, b.String())
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	wantSinks := []string{"webhook " + strings.TrimPrefix(hook.URL, "http://"), "command"}
	if addr != "" {
		wantSinks = append([]string{"desktop"}, wantSinks...)
	}
	if len(lines) != len(wantSinks) {
		t.Fatalf("output:\n%s\nwant a line for each of %v", b.String(), wantSinks)
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, wantSinks[i]+" ") || !strings.Contains(l, " ok (") {
			t.Errorf("line %q, want %s ok", l, wantSinks[i])
		}
	}
	var sample Event
	if data, err := os.ReadFile(out); err != nil || json.Unmarshal(data, &sample) != nil || !sample.Sample || sample.Kind != KindTest {
		t.Errorf("the command got %+v (%v)", sample, err)
	}
	if reqs := hook.requests(); len(reqs) != 1 {
		t.Errorf("the webhook got %d requests, want 1", len(reqs))
	}

	// A failing sink fails the run and says why; the others still run.
	hook.setStatus(http.StatusUnauthorized)
	b.Reset()
	err := RunTest(context.Background(), &b, c, t0)
	if err == nil || !strings.Contains(err.Error(), "1 of") {
		t.Errorf("RunTest with a failing hook: %v", err)
	}
	if !strings.Contains(b.String(), "FAILED after") || !strings.Contains(b.String(), "401 Unauthorized") ||
		!strings.Contains(b.String(), "command ") || strings.Count(b.String(), " ok (") != len(wantSinks)-1 {
		t.Errorf("output:\n%s", b.String())
	}

	if err := RunTest(context.Background(), &b, config.Default().Alerts, t0); !errors.Is(err, ErrNoSinks) {
		t.Errorf("no sinks: %v, want ErrNoSinks", err)
	}
}
