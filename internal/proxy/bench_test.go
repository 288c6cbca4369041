package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// BenchmarkHandlerGenerate measures the proxy's own work per request
// (routing, body rewrite, answer validation, writing) over fakes, without
// the network: a small one-shot call, the same in a session, a Gemini CLI
// turn of about 40 KB (system prompt, tools, history) and a streamed
// answer of eight events.
func BenchmarkHandlerGenerate(b *testing.B) {
	small := genBody("gemini-3-flash", "hello")
	for _, bc := range []struct {
		name, session, body string
		stream              bool
	}{
		{name: "one-shot", body: small},
		{name: "session", session: "conv-1", body: small},
		{name: "cli-turn", body: cliTurnBody(40 << 10)},
		{name: "stream", session: "conv-1", body: small, stream: true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			q := newFakeQuota(nil, 4)
			up := &fakeUpstream{fn: func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
				if bc.stream {
					return sseAnswer(8), nil
				}
				return jsonResponse(200, okAnswer), nil
			}}
			srv, err := New(q, &fakeTokens{}, up, NewOptions())
			if err != nil {
				b.Fatal(err)
			}
			q.clk = srv.clk
			path := "/v1internal:generateContent"
			if bc.stream {
				path = "/v1internal:streamGenerateContent?alt=sse"
			}
			b.SetBytes(int64(len(bc.body)))
			b.ReportAllocs()
			for b.Loop() {
				up.calls = up.calls[:0]
				req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(bc.body))
				req.Host = "127.0.0.1:8045"
				req.Header.Set("Content-Type", "application/json")
				if bc.session != "" {
					req.Header.Set("x-session-id", bc.session)
				}
				w := httptest.NewRecorder()
				srv.Handler().ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

// sseAnswer is a streamed generation answer of n events, as the upstream
// sends it.
func sseAnswer(n int) *http.Response {
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "data: {\"response\":{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"part %d of the answer, a sentence or so long\"}]}}],\"usageMetadata\":{\"promptTokenCount\":12,\"candidatesTokenCount\":%d}},\"traceId\":\"t1\"}\r\n\r\n", i, i+1)
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
		Body: io.NopCloser(strings.NewReader(sb.String()))}
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
