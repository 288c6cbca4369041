package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
)

// BenchmarkHandlerGenerate measures the proxy's own work per request
// (routing, body rewrite, answer validation, writing) over fakes, without
// the network: a small one-shot call, the same in a session, a Gemini CLI
// turn of about 40 KB (system prompt, tools, history), a streamed answer
// of eight events, and a small one-shot call of the Gemini API. What the harness itself costs per request (the
// request and its context, the writer, the upstream's answer, the fakes'
// calls) is BenchmarkHandlerHarness: the proxy's own share is the
// difference.
func BenchmarkHandlerGenerate(b *testing.B) {
	for _, bc := range benchCases() {
		b.Run(bc.name, func(b *testing.B) {
			h := newBenchHarness(b, bc)
			b.SetBytes(int64(len(bc.body)))
			b.ReportAllocs()
			for b.Loop() {
				h.serve(b)
			}
		})
	}
}

// BenchmarkHandlerHarness does, per iteration, exactly the harness's part
// of an iteration of BenchmarkHandlerGenerate, without the proxy: the
// request and its context, the writer's reset, the upstream's answer and
// the calls to the fake engine and token source that one request of that
// case makes, recorded through the proxy itself before the loop.
func BenchmarkHandlerHarness(b *testing.B) {
	for _, bc := range benchCases() {
		b.Run(bc.name, func(b *testing.B) {
			h := newBenchHarness(b, bc)
			trace := h.trace(b)
			b.Logf("the fakes' calls per request: %v", trace)
			b.ReportAllocs()
			for b.Loop() {
				h.harnessOnly(trace)
			}
		})
	}
}

type benchCase struct {
	name, session, body string
	stream              bool
	path                string // default the Code Assist passthrough's
}

func benchCases() []benchCase {
	small := genBody("gemini-3-flash", "hello")
	return []benchCase{
		{name: "one-shot", body: small},
		{name: "session", session: "conv-1", body: small},
		{name: "cli-turn", body: cliTurnBody(40 << 10)},
		{name: "stream", session: "conv-1", body: small, stream: true},
		{name: "gemini-api", body: `{"contents":[{"role":"user","parts":[{"text":"hello"}]}]}`,
			path: "/v1beta/models/gemini-3-flash:generateContent"},
	}
}

// benchHarness serves one case's request over and over as net/http would
// hand it to the proxy: a new *http.Request with its own cancellable
// context per request (net/http's per-request allocations, kept as the
// harness's), a ResponseWriter that supports what net/http's does (read
// deadlines, flushing; reset between requests rather than allocated,
// where httptest.ResponseRecorder made errors for the deadlines the proxy
// sets and copied its headers), and fakes that answer without allocating
// (benchQuota, benchTokens, benchUpstream), so that what is measured
// beyond BenchmarkHandlerHarness is the proxy's.
type benchHarness struct {
	handler http.Handler
	q       *benchQuota
	tokens  *benchTokens
	up      *benchUpstream
	tmpl    *http.Request
	text    string
	body    benchBody
	w       benchWriter
}

func newBenchHarness(b *testing.B, bc benchCase) *benchHarness {
	fq := newFakeQuota(clock.Real{}, 4)
	q := newBenchQuota(fq, "gemini-3-flash")
	answer := okAnswer
	if bc.stream {
		answer = sseText(8)
	}
	h := &benchHarness{q: q, tokens: newBenchTokens(4), up: newBenchUpstream(answer, bc.stream), text: bc.body}
	srv, err := New(q, h.tokens, h.up, NewOptions())
	if err != nil {
		b.Fatal(err)
	}
	h.handler = srv.Handler()
	path := "/v1internal:generateContent"
	if bc.stream {
		path = "/v1internal:streamGenerateContent?alt=sse"
	}
	if bc.path != "" {
		path = bc.path
	}
	h.tmpl = httptest.NewRequest(http.MethodPost, path, nil)
	h.tmpl.Host = "127.0.0.1:8045"
	h.tmpl.Header.Set("Content-Type", "application/json")
	if bc.session != "" {
		h.tmpl.Header.Set("x-session-id", bc.session)
	}
	h.tmpl.ContentLength = int64(len(bc.body))
	h.tmpl.Body = &h.body
	h.w.h = http.Header{}
	for range 3 { // warm: the session bound, the pools filled
		h.serve(b)
	}
	return h
}

// request is what net/http hands a handler: a request of its own with a
// context that is cancelled when the request ends.
func (h *benchHarness) request() (*http.Request, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	h.body.Reset(h.text)
	h.w.reset()
	return h.tmpl.WithContext(ctx), cancel
}

func (h *benchHarness) serve(b *testing.B) {
	req, cancel := h.request()
	h.handler.ServeHTTP(&h.w, req)
	cancel()
	if h.w.status != http.StatusOK || h.w.n == 0 {
		b.Fatalf("status %d, %d bytes", h.w.status, h.w.n)
	}
}

// trace serves one request and returns the calls it made to the fake
// engine and token source, in order.
func (h *benchHarness) trace(b *testing.B) []string {
	var calls []string
	h.q.rec, h.tokens.rec = &calls, &calls
	h.serve(b)
	h.q.rec, h.tokens.rec = nil, nil
	return calls
}

// harnessOnly is the harness's part of serve: the request, the writer, the
// fakes' calls as the proxy made them (trace) and the upstream's answer,
// read and closed.
func (h *benchHarness) harnessOnly(trace []string) {
	req, cancel := h.request()
	ctx := req.Context()
	for _, c := range trace {
		switch c {
		case "CheckQuota":
			_, _ = h.q.CheckQuota(ctx, 1, "gemini-3-flash")
		case "CheckQuotaFresh":
			_, _ = h.q.CheckQuotaFresh(ctx, 1, "gemini-3-flash")
		case "Rank":
			_ = h.q.Rank("gemini-3-flash")
		case "Best":
			_, _ = h.q.Best("gemini-3-flash")
		case "Account":
			_, _ = h.q.Account(1)
		case "GetAllQuotas":
			_ = h.q.GetAllQuotas()
		case "Health":
			_ = h.q.Health()
		case "RecordSuccess":
			h.q.RecordSuccess(1, cloudcode.FamilyGemini, time.Time{})
		case "Record":
			h.q.Record(quota.Spend{})
		case "Touch":
			h.q.Touch(1, time.Time{})
		case "Token":
			_, _ = h.tokens.Token(ctx, 1)
		default:
			panic("the harness does not replay " + c)
		}
	}
	resp, _ := h.up.Do(ctx, cloudcode.Request{})
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	cancel()
}

// benchBody is a client's body, reset onto the same text per request.
type benchBody struct{ strings.Reader }

func (*benchBody) Close() error { return nil }

// benchWriter is a ResponseWriter that does what net/http's does for the
// proxy (headers, status, body, flushing, deadlines), counting what is
// written instead of keeping it.
type benchWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *benchWriter) reset() {
	clear(w.h)
	w.status, w.n = 0, 0
}

func (w *benchWriter) Header() http.Header { return w.h }

func (w *benchWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *benchWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(p)
	return len(p), nil
}

func (w *benchWriter) FlushError() error                { return nil }
func (w *benchWriter) SetReadDeadline(time.Time) error  { return nil }
func (w *benchWriter) SetWriteDeadline(time.Time) error { return nil }

// benchQuota answers as fakeQuota did when it was made (its statuses and
// rankings, through the engine's own predicate), without allocating: the
// real engine's costs are its own benchmarks'. GetAllQuotas returns a
// copy, since a caller may change it.
type benchQuota struct {
	all  []quota.Status
	rank []quota.Candidate
	rec  *[]string
}

func newBenchQuota(fq *fakeQuota, model string) *benchQuota {
	return &benchQuota{all: fq.GetAllQuotas(), rank: fq.Rank(model)}
}

func (q *benchQuota) note(name string) {
	if q.rec != nil {
		*q.rec = append(*q.rec, name)
	}
}

func (q *benchQuota) status(id int64) *quota.Status {
	for i := range q.all {
		if q.all[i].AccountID == id {
			return &q.all[i]
		}
	}
	return nil
}

func (q *benchQuota) CheckQuota(_ context.Context, id int64, model string) (quota.Check, error) {
	q.note("CheckQuota")
	return q.status(id).Check(model, time.Now()), nil
}

func (q *benchQuota) CheckQuotaFresh(_ context.Context, id int64, model string) (quota.Check, error) {
	q.note("CheckQuotaFresh")
	return q.status(id).Check(model, time.Now()), nil
}

func (q *benchQuota) Rank(string) []quota.Candidate {
	q.note("Rank")
	return q.rank
}

func (q *benchQuota) Best(string) (quota.Candidate, bool) {
	q.note("Best")
	return q.rank[0], true
}

func (q *benchQuota) Account(id int64) (quota.Status, bool) {
	q.note("Account")
	return *q.status(id), true
}

func (q *benchQuota) GetAllQuotas() []quota.Status {
	q.note("GetAllQuotas")
	return slices.Clone(q.all)
}

func (q *benchQuota) ModelListed(id string) (known, listed bool) {
	q.note("ModelListed")
	return listedIn(q.all, id)
}

func (q *benchQuota) Apply(context.Context, int64, cloudcode.Family, quota.Verdict, time.Time) error {
	panic("the benchmark's upstream does not fail")
}

func (q *benchQuota) Health() quota.Health {
	q.note("Health")
	return quota.Health{}
}

func (q *benchQuota) RecordSuccess(int64, cloudcode.Family, time.Time) { q.note("RecordSuccess") }
func (q *benchQuota) Record(quota.Spend)                               { q.note("Record") }
func (q *benchQuota) Touch(int64, time.Time)                           { q.note("Touch") }
func (q *benchQuota) ResyncSoon(int64)                                 { q.note("ResyncSoon") }
func (q *benchQuota) Publish(quota.Event)                              { q.note("Publish") }

// benchTokens hands out a fixed token per account.
type benchTokens struct {
	toks []string
	rec  *[]string
}

func newBenchTokens(n int) *benchTokens {
	t := &benchTokens{}
	for i := range n + 1 {
		t.toks = append(t.toks, fmt.Sprintf("tok-%d-0", i))
	}
	return t
}

func (t *benchTokens) Token(_ context.Context, id int64) (string, error) {
	if t.rec != nil {
		*t.rec = append(*t.rec, "Token")
	}
	return t.toks[id], nil
}

func (t *benchTokens) Invalidate(int64) {}

// benchUpstream answers every call with the same answer, its body reset
// per call. Like net/http's transport it watches the call's context.
type benchUpstream struct {
	text string
	body benchBody
	resp http.Response
}

func newBenchUpstream(text string, stream bool) *benchUpstream {
	u := &benchUpstream{text: text}
	ct := "application/json"
	if stream {
		ct = "text/event-stream"
	}
	u.resp = http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {ct}}, Body: &u.body, ContentLength: -1}
	return u
}

func (u *benchUpstream) Do(ctx context.Context, _ cloudcode.Request) (*http.Response, error) {
	_ = ctx.Done() // the transport selects on it while the call runs
	u.body.Reset(u.text)
	return &u.resp, nil
}

// sseText is a streamed generation answer of n events, as the upstream
// sends it.
func sseText(n int) string {
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "data: {\"response\":{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"part %d of the answer, a sentence or so long\"}]}}],\"usageMetadata\":{\"promptTokenCount\":12,\"candidatesTokenCount\":%d}},\"traceId\":\"t1\"}\r\n\r\n", i, i+1)
	}
	return sb.String()
}

// cliTurnBody is a Gemini CLI generateContent call of about size bytes: a
// system prompt, a dozen tools, a history of turns with a tool call, and
// every place the CLI names its project.
func cliTurnBody(size int) string {
	type part = map[string]any
	var contents []map[string]any
	for i := 0; i < 6; i++ {
		contents = append(contents,
			map[string]any{"role": "user", "parts": []part{{"text": fmt.Sprintf("turn %d: please look at internal/proxy/forward.go and tell me what the loop does", i)}}},
			map[string]any{"role": "model", "parts": []part{{"functionCall": map[string]any{"name": "read_file", "args": map[string]any{"path": "internal/proxy/forward.go"}}}}},
			map[string]any{"role": "user", "parts": []part{{"functionResponse": map[string]any{"name": "read_file", "response": map[string]any{"output": strings.Repeat("func (s *Server) forward(w http.ResponseWriter) {}\n", 20)}}}}},
		)
	}
	var tools []map[string]any
	for i := 0; i < 12; i++ {
		tools = append(tools, map[string]any{"name": fmt.Sprintf("tool_%d", i), "description": "Reads, writes or searches files in the workspace; returns what it found.",
			"parameters": map[string]any{"type": "OBJECT", "properties": map[string]any{"path": map[string]any{"type": "STRING", "description": "a path"}, "limit": map[string]any{"type": "INTEGER"}}, "required": []string{"path"}}})
	}
	req := map[string]any{
		"contents":          contents,
		"systemInstruction": map[string]any{"role": "user", "parts": []part{{"text": ""}}},
		"tools":             []map[string]any{{"functionDeclarations": tools}},
		"generationConfig":  map[string]any{"temperature": 0, "topP": 1, "thinkingConfig": map[string]any{"includeThoughts": true, "thinkingBudget": 8192}},
		"session_id":        "5b7c1c3e-cli-session",
	}
	base, _ := json.Marshal(map[string]any{"model": "gemini-3-flash", "project": "client-project", "user_prompt_id": "5b7c1c3e########1",
		"request": req, "metadata": map[string]any{"duetProject": "client-project", "pluginType": "GEMINI"}})
	pad := max(size-len(base), 0)
	req["systemInstruction"] = map[string]any{"role": "user", "parts": []part{{"text": strings.Repeat("You are an interactive CLI agent. ", pad/34+1)}}}
	b, _ := json.Marshal(map[string]any{"model": "gemini-3-flash", "project": "client-project", "user_prompt_id": "5b7c1c3e########1",
		"request": req, "metadata": map[string]any{"duetProject": "client-project", "pluginType": "GEMINI"}})
	return string(b)
}
