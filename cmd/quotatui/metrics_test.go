package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// serveRun is `quotatui serve` running in-process until stop is called.
type serveRun struct {
	url    string
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan int
}

var proxyOn = regexp.MustCompile(`proxy on (http://\S+?);`)

// startServe runs `quotatui serve args...` in a goroutine and waits until
// it says where the proxy listens. The test's cleanup stops it.
func startServe(t *testing.T, args ...string) *serveRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &serveRun{stderr: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() {
		s.done <- run(ctx, append([]string{"serve"}, args...), &cli{stdin: strings.NewReader(""), stdout: io.Discard, stderr: s.stderr, getenv: testEnv(t)})
	}()
	t.Cleanup(func() { s.stop(t) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := proxyOn.FindStringSubmatch(s.stderr.String()); m != nil {
			s.url = m[1]
			return s
		}
		select {
		case code := <-s.done:
			s.done <- code // for stop
			t.Fatalf("serve exited %d before listening: %s", code, s.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not say where it listens within 30s: %s", s.stderr.String())
		}
	}
}

// stop cancels serve and returns its exit status; it fails the test when
// serve does not return promptly. Calling it twice is harmless.
func (s *serveRun) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.done:
		s.done <- code
		return code
	case <-time.After(15 * time.Second):
		t.Fatalf("serve did not return within 15s of its context ending; stderr: %s", s.stderr.String())
		return -1
	}
}

func post(t *testing.T, c *http.Client, url, key, session, body string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-goog-api-key", key)
	req.Header.Set("x-session-id", session)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Logf("POST %s: %d %s", url, resp.StatusCode, b)
	}
	return resp.StatusCode
}

func scrape(t *testing.T, c *http.Client, url, key string) (int, map[string]*dto.MetricFamily) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse as Prometheus text: %v\n%s", err, body)
	}
	return resp.StatusCode, fams
}

// sample returns the value of the series name{labels...}, and whether it
// exists.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// sum adds every series of a counter family.
func sum(fams map[string]*dto.MetricFamily, name string) float64 {
	total := 0.0
	for _, m := range fams[name].GetMetric() {
		total += m.GetCounter().GetValue()
	}
	return total
}

func TestServeMetrics(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "quotatui.db")
	srv, _ := seedSim(t, dbPath,
		cloudcodetest.AccountSpec{Email: "ada@example.com", TierID: "g1-pro-tier"},
		cloudcodetest.AccountSpec{Email: "grace@example.com", TierID: "g1-ultra-tier"},
	)
	srv.SetRemaining("ada@example.com", cloudcode.FamilyClaudeGPT, cloudcode.WindowWeekly, 0.5)
	const key = "metrics-test-key"
	s := startServe(t, append(simFlags(srv, dbPath), "--proxy-listen", "127.0.0.1:0", "--proxy-api-key", key)...)

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	// Before any request, wait for the monitor's first sync (it runs at
	// start) to be counted, so routing works from known tiers and figures.
	waitMetrics(t, c, s.url, key, "a first sync counted and timed", func(fams map[string]*dto.MetricFamily) bool {
		runs, _ := sample(fams, "quotatui_syncs_total")
		timed, _ := sample(fams, "quotatui_sync_duration_seconds", "result", "ok")
		return runs >= 1 && timed >= 1
	})

	const body = `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`
	gen := s.url + "/v1beta/models/gemini-3-flash:generateContent"
	for i := 0; i < 3; i++ {
		if code := post(t, c, gen, key, "conv-1", body); code != http.StatusOK {
			t.Fatalf("request %d through the proxy: status %d", i, code)
		}
	}
	// The conversation keeps one account: grace, since ULTRA ranks first.
	// Emptying her Gemini pool makes the next request move to ada.
	if n := srv.Requests("grace@example.com", "generateContent"); n != 3 {
		t.Fatalf("grace served %d of conv-1's 3 requests; want all (ULTRA ranks first, and a session keeps its account)", n)
	}
	srv.Drain("grace@example.com", cloudcode.FamilyGemini)
	if code := post(t, c, gen, key, "conv-1", body); code != http.StatusOK {
		t.Fatalf("request after the drain: status %d; want 200 from the other account", code)
	}
	if n := srv.Requests("ada@example.com", "generateContent"); n != 1 {
		t.Errorf("ada served %d requests after grace ran out; want 1", n)
	}

	if code, _ := scrape(t, c, s.url, ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the API key: status %d; want 401", code)
	}
	_, fams := scrape(t, c, s.url, key)

	tests := []struct {
		name   string
		labels []string
		check  func(v float64) bool
		want   string
	}{
		{"quotatui_remaining_fraction", []string{"account", "ada", "family", "claude-gpt", "window", "weekly"}, eq(0.5), "0.5 (set in the simulator)"},
		{"quotatui_remaining_fraction", []string{"account", "ada", "family", "claude-gpt", "window", "effective"}, eq(0.5), "0.5 (the weekly bottleneck)"},
		{"quotatui_remaining_fraction", []string{"account", "grace", "family", "claude-gpt", "window", "5h"}, eq(1), "1"},
		{"quotatui_proxy_requests_total", []string{"status", "200"}, eq(4), "4"},
		{"quotatui_syncs_total", nil, func(v float64) bool { return v >= 1 }, ">= 1"},
		{"quotatui_sync_duration_seconds", []string{"result", "ok"}, func(v float64) bool { return v >= 1 }, ">= 1 observation"},
		{"quotatui_last_sync_duration_seconds", nil, func(v float64) bool { return v > 0 && v < 30 }, "between 0 and 30 s"},
		{"quotatui_upstream_latency_seconds", nil, func(v float64) bool { return v >= 4 }, ">= 4 observations"},
		{"quotatui_proxy_switches_total", []string{"kind", "proactive"}, func(v float64) bool { return v >= 0 }, "present"},
		{"quotatui_proxy_switches_total", []string{"kind", "reactive"}, func(v float64) bool { return v >= 0 }, "present"},
	}
	for _, tt := range tests {
		v, ok := sample(fams, tt.name, tt.labels...)
		if !ok {
			t.Errorf("%s%v missing from /metrics", tt.name, tt.labels)
			continue
		}
		if !tt.check(v) {
			t.Errorf("%s%v = %v; want %s", tt.name, tt.labels, v, tt.want)
		}
	}
	if n := sum(fams, "quotatui_proxy_switches_total"); n != 1 {
		t.Errorf("quotatui_proxy_switches_total adds up to %v; want 1 (conv-1 moved from grace to ada)", n)
	}
	for name, f := range fams {
		if strings.Contains(f.String(), key) {
			t.Errorf("%s carries the API key", name)
		}
	}

	if code := s.stop(t); code != 0 {
		t.Errorf("serve exited %d after its context ended; want 0 (a clean stop); stderr: %s", code, s.stderr.String())
	}
	if _, err := c.Get(s.url + "/metrics"); err == nil {
		t.Errorf("the proxy still answers after serve returned")
	}
}

// waitMetrics scrapes every 50 ms until ok accepts the metrics, failing
// the test after 20 s.
func waitMetrics(t *testing.T, c *http.Client, url, key, what string, ok func(map[string]*dto.MetricFamily) bool) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, fams := scrape(t, c, url, key)
		if code != http.StatusOK {
			t.Fatalf("/metrics with the API key: status %d", code)
		}
		if ok(fams) {
			return fams
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20s, /metrics still does not show %s", what)
		}
		time.Sleep(50 * time.Millisecond) // polling an HTTP endpoint with a deadline
	}
}

func eq(want float64) func(float64) bool {
	return func(v float64) bool { return v > want-1e-9 && v < want+1e-9 }
}

func TestServeRefusesOpenListenWithoutKey(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "quotatui.db")
	r := runCLI(t, testEnv(t), "", "serve", "--db", dbPath, "--proxy-listen", "0.0.0.0:0")
	if r.code == 0 {
		t.Fatal("serve started on 0.0.0.0 without an API key")
	}
	for _, w := range []string{"proxy.api_key", "0.0.0.0", "loopback"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("the refusal does not say %q: %s", w, r.stderr)
		}
	}
}
