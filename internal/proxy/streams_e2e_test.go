package proxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/proxy/proxytest"
	"github.com/quotatui/quotatui/internal/quota"
)

// stream posts a streaming call and reads the answer to its end, returning
// the body and the read error (nil only for a body that ended cleanly).
func (e *e2e) stream(path, body string) (*http.Response, []byte, error) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.st.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// settle waits until the proxy has finished every request, so its counters
// are final.
func (e *e2e) settle() {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.st.Proxy.Stats().InFlight != 0 {
		if time.Now().After(deadline) {
			e.t.Fatal("requests still in flight")
		}
		time.Sleep(time.Millisecond)
	}
}

const (
	geminiBody = `{"contents":[{"role":"user","parts":[{"text":"stream please"}]}]}`
	assistBody = `{"model":"gemini-3-flash","project":"mine","request":{"contents":[{"role":"user","parts":[{"text":"stream please"}]}]}}`
)

// TestCutStreamLooksBroken (issue 11.7): a stream the upstream cuts after
// 2 of 6 events reaches the client as broken in every form (an error event
// where the Gemini API has them, then no end of body; a JSON array left
// open), and is counted as an upstream break, not a 200.
func TestCutStreamLooksBroken(t *testing.T) {
	tests := []struct {
		name, path, body string
		array            bool // the client asked for one JSON array
		errorEvent       bool
	}{
		{"Code Assist SSE", "/v1internal:streamGenerateContent?alt=sse", assistBody, false, false},
		{"Code Assist array", "/v1internal:streamGenerateContent", assistBody, true, false},
		{"Gemini API SSE", "/v1beta/models/gemini-3-flash:streamGenerateContent?alt=sse", geminiBody, false, true},
		{"Gemini API array", "/v1beta/models/gemini-3-flash:streamGenerateContent", geminiBody, true, false},
		// The translated routes: their API's error event, then the abort.
		{"Anthropic Messages", "/v1/messages", `{"model":"claude-sonnet-4-6","max_tokens":1000,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, false, true},
		{"OpenAI Chat Completions", "/v1/chat/completions", `{"model":"gemini-3-flash","stream":true,"messages":[{"role":"user","content":"hi"}]}`, false, true},
		{"OpenAI Responses", "/v1/responses", `{"model":"gemini-3-flash","stream":true,"input":"hi"}`, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startWith(t, func(o *proxytest.Options) { o.Sim.StreamChunks = 6 })
			for _, em := range emails {
				e.st.Sim.CutStreams(em, 2)
			}
			resp, body, err := e.stream(tt.path, tt.body)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("reading the cut stream: err = %v, want an unexpected end (no terminator)", err)
			}
			if !bytes.Contains(body, []byte("part 2 of 6")) || bytes.Contains(body, []byte("part 3 of 6")) {
				t.Errorf("want the 2 chunks sent to reach the client, and no more: %q", body)
			}
			if tt.array && (json.Valid(body) || bytes.HasSuffix(bytes.TrimSpace(body), []byte("]"))) {
				t.Errorf("the array was closed: %q", body)
			}
			if bytes.Contains(body, []byte("[DONE]")) || bytes.Contains(body, []byte("message_stop")) || bytes.Contains(body, []byte("response.completed")) {
				t.Errorf("the cut stream ends as if complete: %q", body)
			}
			if got := bytes.Contains(body, []byte(`"error"`)); got != tt.errorEvent {
				t.Errorf("error event sent: %v, want %v: %q", got, tt.errorEvent, body)
			}
			e.settle()
			st := e.st.Proxy.Stats()
			if st.UpstreamBreaks != 1 || st.RequestsByStatus[502] != 1 || st.RequestsByStatus[200] != 0 {
				t.Errorf("UpstreamBreaks %d, by status %v; want one break counted as 502", st.UpstreamBreaks, st.RequestsByStatus)
			}
			if n := e.st.Sim.TotalRequests("streamGenerateContent"); n != 1 {
				t.Errorf("%d upstream calls, want 1 (bytes reached the client: no retry)", n)
			}
		})
	}
}

// TestClientCancelIsCounted (issue 11.7): a client that leaves mid-stream
// is counted as a client cancel (499), not a 200, and its upstream call ends.
func TestClientCancelIsCounted(t *testing.T) {
	e := startWith(t, nil)
	for _, em := range emails {
		e.st.Sim.StallStreams(em, 1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.st.URL+"/v1beta/models/gemini-3-flash:streamGenerateContent?alt=sse", strings.NewReader(geminiBody))
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := resp.Body.Read(make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	e.settle()
	st := e.st.Proxy.Stats()
	if st.ClientCancels != 1 || st.RequestsByStatus[499] != 1 || st.RequestsByStatus[200] != 0 || st.UpstreamBreaks != 0 {
		t.Errorf("ClientCancels %d, UpstreamBreaks %d, by status %v; want one 499", st.ClientCancels, st.UpstreamBreaks, st.RequestsByStatus)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.st.Sim.InFlight() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the upstream call did not end after the client left")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLargeEvents (issue 11.8): stream events of several MiB pass whole,
// first and later ones alike; an event over the proxy's limit is answered
// 502 after one upstream call, never retried on every account.
func TestLargeEvents(t *testing.T) {
	const size = 3 << 20
	e := startWith(t, func(o *proxytest.Options) { o.Sim.StreamChunks = 3 })
	e.st.Sim.SetStreamFaults(cloudcodetest.StreamFaults{EventBytes: size})
	bodies := map[string]string{
		"/v1beta/models/gemini-3-flash:streamGenerateContent?alt=sse": geminiBody,
		"/v1internal:streamGenerateContent?alt=sse":                   assistBody,
		"/v1/messages": `{"model":"claude-sonnet-4-6","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
	}
	for path, body := range bodies {
		resp, b, err := e.stream(path, body)
		if resp.StatusCode != 200 || err != nil {
			t.Fatalf("%s: status %d, err %v", path, resp.StatusCode, err)
		}
		events := 0
		for _, line := range bytes.Split(b, []byte("\n")) {
			// (The Messages stream has small events around the three
			// text deltas.)
			if bytes.HasPrefix(line, []byte("data: ")) && len(line) >= size {
				events++
			}
		}
		if events != 3 {
			t.Errorf("%s: %d events, want 3", path, events)
		}
	}

	small := startWith(t, func(o *proxytest.Options) {
		o.Sim.StreamChunks = 3
		o.Proxy.MaxEventBytes = 1 << 20
	})
	small.st.Sim.SetStreamFaults(cloudcodetest.StreamFaults{EventBytes: 2 << 20})
	resp, b, _ := small.stream("/v1beta/models/gemini-3-flash:streamGenerateContent?alt=sse", geminiBody)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(b), "larger than the proxy's limit") {
		t.Errorf("over the limit: %d %s, want 502 naming the limit", resp.StatusCode, b)
	}
	if n := small.st.Sim.TotalRequests("streamGenerateContent"); n != 1 {
		t.Errorf("over the limit: %d upstream calls, want 1", n)
	}
	resp, b, _ = small.stream("/v1/messages", `{"model":"claude-sonnet-4-6","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(b), `"type":"api_error"`) || !strings.Contains(string(b), "larger than the proxy's limit") {
		t.Errorf("Messages over the limit: %d %s, want 502 in Anthropic's shape naming the limit", resp.StatusCode, b)
	}
}

// TestHungAccountCostsOneTimeout (issue 11.2): with the top account hung
// (before its headers, or after them), the first new conversation waits
// out the first-byte timeout once and is served by another account; the
// hung account is cooled down and the next fourteen conversations never
// reach it, also once its cooldown is over: it ranks last until it answers
// again.
func TestHungAccountCostsOneTimeout(t *testing.T) {
	tests := []struct {
		name     string
		hang     func(sim *cloudcodetest.Server, email string)
		stream   bool
		messages bool // through /v1/messages, as Claude Code
	}{
		{"hung before the headers", func(sim *cloudcodetest.Server, email string) { sim.SetHang(email, true) }, false, false},
		{"hung after the headers", func(sim *cloudcodetest.Server, email string) { sim.SetHangAfterHeaders(email, true) }, false, false},
		{"stream hung after the headers", func(sim *cloudcodetest.Server, email string) { sim.SetHangAfterHeaders(email, true) }, true, false},
		{"Messages stream hung after the headers", func(sim *cloudcodetest.Server, email string) { sim.SetHangAfterHeaders(email, true) }, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startWith(t, func(o *proxytest.Options) { o.Proxy.FirstByteTimeout = 200 * time.Millisecond })
			model := "gemini-3-flash"
			if tt.messages {
				model = "claude-sonnet-4-6"
			}
			top := e.st.Quota.Rank(model)[0].Label
			tt.hang(e.st.Sim, top)
			rpc := "generateContent"
			if tt.stream {
				rpc = "streamGenerateContent"
			}
			for i := range 15 {
				if i == 10 {
					// The cooldown is over; the account still let its
					// last call time out and has not answered since.
					e.clk.Advance(time.Hour)
				}
				var (
					resp *http.Response
					body string
				)
				if tt.stream {
					var b []byte
					var err error
					path, body := "/v1beta/models/gemini-3-flash:streamGenerateContent?alt=sse",
						fmt.Sprintf(`{"contents":[{"role":"user","parts":[{"text":"conversation %d"}]}]}`, i)
					if tt.messages {
						path, body = "/v1/messages", fmt.Sprintf(`{"model":%q,"max_tokens":100,"stream":true,"messages":[{"role":"user","content":"conversation %d"}]}`, model, i)
					}
					resp, b, err = e.stream(path, body)
					if err != nil {
						t.Fatalf("conversation %d: %v", i, err)
					}
					body = string(b)
				} else {
					resp, body = e.generate("gemini-3-flash", fmt.Sprint("conversation ", i))
				}
				if resp.StatusCode != 200 || resp.Header.Get("X-Quotatui-Account") == top {
					t.Fatalf("conversation %d: %d on %q: %s", i, resp.StatusCode, resp.Header.Get("X-Quotatui-Account"), body)
				}
			}
			if n := e.st.Sim.Requests(top, rpc); n != 1 {
				t.Errorf("the hung account got %d calls, want 1 (the first conversation's)", n)
			}
		})
	}
}

// TestStalledStreamEnds (issue 11.2): a stream silent for longer than the
// idle timeout after its first event ends as broken; its account cools down.
func TestStalledStreamEnds(t *testing.T) {
	e := startWith(t, func(o *proxytest.Options) {
		o.Proxy.StreamIdleTimeout = 200 * time.Millisecond
		o.Sim.StreamChunks = 4
	})
	top := e.st.Quota.Rank("gemini-3-flash")[0].Label
	e.st.Sim.StallStreams(top, 1)
	resp, body, err := e.stream("/v1beta/models/gemini-3-flash:streamGenerateContent?alt=sse", geminiBody)
	if resp.StatusCode != 200 || err == nil || bytes.Count(body, []byte("Simulated answer")) != 1 {
		t.Fatalf("status %d, err %v, body %q; want one event and a broken stream", resp.StatusCode, err, body)
	}
	if !bytes.Contains(body, []byte("no stream event within")) {
		t.Errorf("the error event does not say the stream stalled: %q", body)
	}
	e.settle()
	if st := e.st.Proxy.Stats(); st.UpstreamBreaks != 1 {
		t.Errorf("UpstreamBreaks = %d, want 1", st.UpstreamBreaks)
	}
	st, _ := e.st.Quota.Account(e.id(top))
	if st.Marks[0].Kind != quota.CooldownMark {
		t.Errorf("mark %+v, want a cooldown", st.Marks[0])
	}
	_ = cloudcode.FamilyGemini
}

// TestRateLimitBursts (issue 11.3): a 429 without details cools its account
// down briefly, longer at each repeat, and a success starts over. When every
// usable account is only cooling down, the request waits for the first to
// come back instead of failing; when it cannot wait long enough, the client
// is told it is rate-limited, with the wait, not that the pool is out of
// quota.
func TestRateLimitBursts(t *testing.T) {
	marks := &markLog{}
	e := startWith(t, func(o *proxytest.Options) {
		o.Clock = clock.Real{}
		o.Accounts = o.Accounts[:1]
		o.Proxy.CooldownFirst = 100 * time.Millisecond
		o.WrapQuota = func(q proxy.Quota) proxy.Quota { marks.Quota = q; return marks }
	})
	a := emails[0]
	e.st.Sim.BareBurst(a, 2)
	start := time.Now()
	resp, body := e.generate("gemini-3-flash", "one")
	if resp.StatusCode != 200 {
		t.Fatalf("burst of 2: %d %s, want 200 after waiting", resp.StatusCode, body)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("served after %s, before the two cooldowns (100 ms, then 200 ms) had passed", took)
	}
	e.st.Sim.BareBurst(a, 1)
	if resp, body := e.generate("gemini-3-flash", "two"); resp.StatusCode != 200 {
		t.Fatalf("burst of 1: %d %s", resp.StatusCode, body)
	}
	// Two refusals in a row: 100 ms then 200 ms; the success in between
	// starts the next burst over at 100 ms.
	if got, want := marks.String(), "[100ms 200ms 100ms]"; got != want {
		t.Errorf("cooldowns set: %s, want %s", got, want)
	}
	if n := e.st.Sim.Requests(a, "generateContent"); n != 5 {
		t.Errorf("%d generate calls, want 5", n)
	}

	// Too long to wait: a 429 that says rate-limited.
	short := startWith(t, func(o *proxytest.Options) {
		o.Proxy.MaxWait = time.Millisecond
	})
	for _, em := range emails {
		short.st.Sim.BareBurst(em, 100)
	}
	resp, body = short.generate("gemini-3-flash", "three")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" || !strings.Contains(body, "rate-limited") || strings.Contains(body, "out of quota") {
		t.Errorf("every account rate-limited: %d Retry-After %q: %s; want 429 rate-limited, retry in 1s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if n := short.st.Sim.TotalRequests("generateContent"); n != len(emails) {
		t.Errorf("%d generate calls, want %d (each account once)", n, len(emails))
	}
}

// markLog records the cooldowns the proxy sets.
type markLog struct {
	proxy.Quota
	mu    sync.Mutex
	marks []time.Duration
}

func (m *markLog) Apply(ctx context.Context, id int64, f cloudcode.Family, v quota.Verdict, receivedAt time.Time) error {
	if v.Effect == quota.EffectCooldown {
		m.mu.Lock()
		m.marks = append(m.marks, time.Until(v.Until).Round(50*time.Millisecond))
		m.mu.Unlock()
	}
	return m.Quota.Apply(ctx, id, f, v, receivedAt)
}

func (m *markLog) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fmt.Sprint(m.marks)
}
