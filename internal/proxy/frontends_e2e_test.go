package proxy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/proxy/proxytest"
)

// post sends a JSON body to the proxy and returns the answer.
func (e *e2e) post(path, body string, hdr map[string]string) (*http.Response, string) {
	e.t.Helper()
	return e.send(http.MethodPost, path, body, pairs(hdr)...)
}

func (e *e2e) get(path string, hdr map[string]string) (*http.Response, string) {
	e.t.Helper()
	return e.send(http.MethodGet, path, "", pairs(hdr)...)
}

// pairs flattens headers into the name, value pairs send takes.
func pairs(hdr map[string]string) []string {
	out := make([]string, 0, 2*len(hdr))
	for k, v := range hdr {
		out = append(out, k, v)
	}
	return out
}

// sse is one server-sent event as the client saw it.
type sse struct {
	name string
	data map[string]any
	raw  string
}

// parseSSE splits a stream body into events ("data: [DONE]" and
// comments included, as raw).
func parseSSE(t *testing.T, body string) []sse {
	t.Helper()
	var out []sse
	for _, block := range strings.Split(strings.TrimSpace(body), "\n\n") {
		var ev sse
		for _, line := range strings.Split(block, "\n") {
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.raw = strings.TrimPrefix(line, "data: ")
				if ev.raw != "[DONE]" {
					if err := json.Unmarshal([]byte(ev.raw), &ev.data); err != nil {
						t.Fatalf("event data is not JSON: %q", ev.raw)
					}
				}
			case strings.HasPrefix(line, ":"):
				ev.name = "comment"
			}
		}
		out = append(out, ev)
	}
	return out
}

// claudeCode mimics Claude Code's headers.
var claudeCode = map[string]string{"anthropic-version": "2023-06-01", "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
	"x-app": "cli", "User-Agent": "claude-cli/2.1.332 (external, sdk-cli)", "X-Claude-Code-Session-Id": "0b6d9c52-4d1e-4a8f-9c3e-2f1a7b6c5d4e"}

// conversation is a Messages history a test grows turn by turn, as a
// client does: every answer's content is replayed verbatim.
type conversation struct {
	model, extra string
	messages     []any
	tools        string
}

func (c *conversation) body(stream bool) string {
	m, _ := json.Marshal(c.messages)
	b := `{"model":"` + c.model + `","max_tokens":16000,"stream":` + strconv.FormatBool(stream) + `,"messages":` + string(m)
	if c.tools != "" {
		b += `,"tools":` + c.tools
	}
	return b + c.extra + `}`
}

// answer is an Anthropic message as the client reads it.
type answer struct {
	Type       string           `json:"type"`
	Model      string           `json:"model"`
	Content    []map[string]any `json:"content"`
	StopReason string           `json:"stop_reason"`
	Usage      struct {
		InputTokens  int `json:"input_tokens"`
		OutputTokens int `json:"output_tokens"`
		CacheRead    int `json:"cache_read_input_tokens"`
	} `json:"usage"`
}

// fromStream assembles a streamed message the way the SDK does, checking
// the event order on the way.
func fromStream(t *testing.T, events []sse) answer {
	t.Helper()
	var a answer
	if len(events) < 3 || events[0].name != "message_start" || events[len(events)-1].name != "message_stop" || events[len(events)-2].name != "message_delta" {
		t.Fatalf("stream does not start with message_start and end with message_delta, message_stop: %v", events)
	}
	open := -1
	for _, ev := range events {
		switch ev.name {
		case "message_start":
			b, _ := json.Marshal(ev.data["message"])
			_ = json.Unmarshal(b, &a)
		case "content_block_start":
			if open != -1 {
				t.Fatalf("block %d started while %d is open", len(a.Content), open)
			}
			open = int(ev.data["index"].(float64))
			if open != len(a.Content) {
				t.Fatalf("index %d, want %d", open, len(a.Content))
			}
			a.Content = append(a.Content, ev.data["content_block"].(map[string]any))
		case "content_block_delta":
			d := ev.data["delta"].(map[string]any)
			b := a.Content[open]
			switch d["type"] {
			case "text_delta":
				b["text"] = b["text"].(string) + d["text"].(string)
			case "thinking_delta":
				b["thinking"] = b["thinking"].(string) + d["thinking"].(string)
			case "signature_delta":
				b["signature"] = d["signature"]
			case "input_json_delta":
				var in map[string]any
				if err := json.Unmarshal([]byte(d["partial_json"].(string)), &in); err != nil {
					t.Fatalf("partial_json %v", d)
				}
				b["input"] = in
			}
		case "content_block_stop":
			open = -1
		case "message_delta":
			a.StopReason = ev.data["delta"].(map[string]any)["stop_reason"].(string)
			b, _ := json.Marshal(ev.data["usage"])
			_ = json.Unmarshal(b, &a.Usage)
		}
	}
	return a
}

// turn sends the conversation, stream or not, and returns the answer.
func (e *e2e) turn(c *conversation, stream bool, hdr map[string]string) (answer, *http.Response) {
	e.t.Helper()
	resp, body := e.post("/v1/messages", c.body(stream), hdr)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("turn %d: %d %s", len(c.messages), resp.StatusCode, body)
	}
	var a answer
	if stream {
		a = fromStream(e.t, parseSSE(e.t, body))
	} else if err := json.Unmarshal([]byte(body), &a); err != nil {
		e.t.Fatal(err)
	}
	return a, resp
}

// reply adds the answer and, for each tool call, a result.
func (c *conversation) reply(a answer, result string) {
	c.messages = append(c.messages, map[string]any{"role": "assistant", "content": a.Content})
	var results []any
	for _, b := range a.Content {
		if b["type"] == "tool_use" {
			results = append(results, map[string]any{"type": "tool_result", "tool_use_id": b["id"], "content": result, "is_error": false,
				"cache_control": map[string]string{"type": "ephemeral"}})
		}
	}
	if len(results) > 0 {
		c.messages = append(c.messages, map[string]any{"role": "user", "content": results})
	}
}

const bashTool = `[{"name":"Bash","description":"Run a command","input_schema":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","additionalProperties":false,"properties":{"command":{"type":"string","maxLength":1000},"timeout":{"type":"number","exclusiveMinimum":0}},"required":["command"]},"cache_control":{"type":"ephemeral"}},{"name":"mcp__very_long_server_name__with_a_tool_name_that_is_far_too_long_for_google","input_schema":{"type":"object"}}]`

// TestE2EMessagesToolLoop: a three-turn tool loop through /v1/messages,
// streamed and not: the simulator (which refuses what Google refuses)
// calls the tool twice and then answers; every turn stays on one account.
func TestE2EMessagesToolLoop(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run("stream="+strconv.FormatBool(stream), func(t *testing.T) {
			e := startE2E(t, true)
			c := &conversation{model: "claude-sonnet-4-5-20250929", tools: bashTool,
				messages: []any{map[string]any{"role": "user", "content": "Run the Bash tool once with the command: echo hi"}}}
			var account string
			for turn := 1; turn <= 3; turn++ {
				a, resp := e.turn(c, stream, claudeCode)
				if account == "" {
					account = resp.Header.Get("X-Quotatui-Account")
				} else if got := resp.Header.Get("X-Quotatui-Account"); got != account {
					t.Errorf("turn %d went to %s, the session is on %s", turn, got, account)
				}
				if a.Model != "claude-sonnet-4-5-20250929" || a.Usage.InputTokens <= 0 || a.Usage.OutputTokens <= 0 {
					t.Errorf("turn %d: model %q usage %+v", turn, a.Model, a.Usage)
				}
				if turn < 3 {
					if a.StopReason != "tool_use" || a.Content[len(a.Content)-1]["name"] != "Bash" {
						t.Fatalf("turn %d: %+v, want a Bash call", turn, a)
					}
					if id := a.Content[len(a.Content)-1]["id"].(string); !strings.HasPrefix(id, "toolu_vrtx_") {
						t.Errorf("tool id %q", id)
					}
					if in := a.Content[len(a.Content)-1]["input"].(map[string]any); in["command"] != "echo hi" {
						t.Errorf("input %v", in)
					}
				} else if a.StopReason != "end_turn" || a.Content[0]["type"] != "text" {
					t.Errorf("turn 3: %+v, want the text answer", a)
				}
				c.reply(a, "hi\n<system-reminder>note</system-reminder>")
			}
			if n := e.st.Sim.TotalRequests("generateContent") + e.st.Sim.TotalRequests("streamGenerateContent"); n != 3 {
				t.Errorf("%d upstream generations for 3 turns", n)
			}
		})
	}
}

// TestE2EThinkingAcrossTurns: Claude's signed thinking comes back to the
// client and replays in the next turns (the simulator checks the
// signature), through an open tool loop; edited thinking gets Claude's
// own 400 wording, unwrapped, so Claude Code can repair it.
func TestE2EThinkingAcrossTurns(t *testing.T) {
	e := startE2E(t, true)
	c := &conversation{model: "claude-opus-4-8", tools: bashTool, extra: `,"thinking":{"type":"adaptive"},"output_config":{"effort":"medium"}`,
		messages: []any{map[string]any{"role": "user", "content": "list the files"}}}
	for turn := 1; turn <= 2; turn++ {
		a, _ := e.turn(c, turn%2 == 1, claudeCode)
		if a.Content[0]["type"] != "thinking" || a.Content[0]["signature"] == "" || a.Content[0]["thinking"] == "" || a.StopReason != "tool_use" {
			t.Fatalf("turn %d: %+v, want signed thinking and a call", turn, a)
		}
		c.reply(a, "a.go")
	}
	// Edit the first thinking block: the upstream refuses it; the client
	// gets Anthropic's error verbatim (pitfall 9).
	first := c.messages[1].(map[string]any)["content"].([]map[string]any)[0]
	first["thinking"] = first["thinking"].(string) + " (edited)"
	resp, body := e.post("/v1/messages", c.body(false), claudeCode)
	var env struct {
		Type  string
		Error struct{ Type, Message string }
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil || resp.StatusCode != 400 || env.Type != "error" ||
		env.Error.Type != "invalid_request_error" || !strings.Contains(env.Error.Message, "Invalid `signature` in `thinking` block") {
		t.Errorf("edited thinking: %d %s", resp.StatusCode, body)
	}
	// Claude Code then strips every thinking block and resends: with the
	// loop's call turn unsigned, the proxy turns thinking off instead of
	// provoking "Expected thinking" (pitfall 2).
	for _, m := range c.messages {
		if mm, ok := m.(map[string]any); ok && mm["role"] == "assistant" {
			var kept []map[string]any
			for _, b := range mm["content"].([]map[string]any) {
				if b["type"] != "thinking" {
					kept = append(kept, b)
				}
			}
			mm["content"] = kept
		}
	}
	if a, _ := e.turn(c, true, claudeCode); a.Content[0]["type"] == "thinking" {
		t.Errorf("thinking came back although it was switched off: %v", a.Content[0])
	}
}

// TestE2EAccountSwitchInToolLoop: the session's account runs out in the
// middle of a tool loop with thinking; the next turn moves to another
// account and succeeds. With signatures bound to accounts (not what peers
// observed, but not disproven) the first try gets Claude's 400 verbatim
// and the client's repair (drop thinking) works on the new account.
func TestE2EAccountSwitchInToolLoop(t *testing.T) {
	for _, bind := range []bool{false, true} {
		t.Run("bind="+strconv.FormatBool(bind), func(t *testing.T) {
			e := startWith(t, func(o *proxytest.Options) { o.Sim.BindClaudeSignatures = bind })
			c := &conversation{model: "claude-opus-4-6", tools: bashTool, extra: `,"thinking":{"type":"enabled","budget_tokens":4096}`,
				messages: []any{map[string]any{"role": "user", "content": "go"}}}
			a, resp := e.turn(c, true, claudeCode)
			first := resp.Header.Get("X-Quotatui-Account")
			if a.StopReason != "tool_use" {
				t.Fatalf("turn 1: %+v", a)
			}
			c.reply(a, "ok")
			e.st.Sim.Drain(first, cloudcode.FamilyClaudeGPT)
			e.sync(first)
			resp, body := e.post("/v1/messages", c.body(true), claudeCode)
			if !bind {
				if resp.StatusCode != 200 || resp.Header.Get("X-Quotatui-Account") == first {
					t.Fatalf("turn 2: %d on %q: %s", resp.StatusCode, resp.Header.Get("X-Quotatui-Account"), body)
				}
				if a := fromStream(t, parseSSE(t, body)); a.Content[0]["type"] != "thinking" || a.StopReason != "tool_use" {
					t.Errorf("turn 2 on the new account: %+v", a)
				}
				return
			}
			var env struct{ Type string }
			if resp.StatusCode != 400 || !strings.Contains(body, "Invalid `signature` in `thinking` block") || json.Unmarshal([]byte(body), &env) != nil || env.Type != "error" {
				t.Fatalf("bound signatures, turn 2: %d %s", resp.StatusCode, body)
			}
			for _, m := range c.messages {
				if mm := m.(map[string]any); mm["role"] == "assistant" {
					mm["content"] = mm["content"].([]map[string]any)[1:] // drop the thinking block
				}
			}
			a, resp = e.turn(c, true, claudeCode)
			if resp.Header.Get("X-Quotatui-Account") == first || a.StopReason != "tool_use" {
				t.Errorf("after the repair: %+v on %s", a, resp.Header.Get("X-Quotatui-Account"))
			}
		})
	}
}

// TestE2EChatToolLoopAcrossAccounts: an OpenAI client's Gemini 3 tool
// loop survives an account switch: the replayed call carries the
// sentinel, not another account's signature (pitfall 3).
func TestE2EChatToolLoopAcrossAccounts(t *testing.T) {
	e := startE2E(t, true)
	tools := `[{"type":"function","function":{"name":"read_file","parameters":{"type":"object","properties":{"path":{"type":"string","format":"uri"}},"required":["path"],"additionalProperties":false},"strict":true}}]`
	msgs := []any{map[string]any{"role": "system", "content": "terse"}, map[string]any{"role": "user", "content": "read it"}}
	hdr := map[string]string{"Authorization": "Bearer sk-anything", "x-session-id": "chat-1"}
	var first string
	for turn := 1; turn <= 3; turn++ {
		m, _ := json.Marshal(msgs)
		resp, body := e.post("/v1/chat/completions", `{"model":"gemini-3-flash","parallel_tool_calls":false,"messages":`+string(m)+`,"tools":`+tools+`}`, hdr)
		if resp.StatusCode != 200 {
			t.Fatalf("turn %d: %d %s", turn, resp.StatusCode, body)
		}
		var cc struct {
			Choices []struct {
				Message      map[string]any `json:"message"`
				FinishReason string         `json:"finish_reason"`
			}
		}
		_ = json.Unmarshal([]byte(body), &cc)
		msg := cc.Choices[0].Message
		if turn < 3 {
			calls, _ := msg["tool_calls"].([]any)
			if cc.Choices[0].FinishReason != "tool_calls" || len(calls) != 1 || msg["content"] != nil {
				t.Fatalf("turn %d: %s", turn, body)
			}
			call := calls[0].(map[string]any)
			msgs = append(msgs, msg, map[string]any{"role": "tool", "tool_call_id": call["id"], "content": "contents"})
		} else if cc.Choices[0].FinishReason != "stop" || msg["content"] == "" {
			t.Errorf("turn 3: %s", body)
		}
		if turn == 1 {
			first = resp.Header.Get("X-Quotatui-Account")
			e.st.Sim.Drain(first, cloudcode.FamilyGemini)
			e.sync(first)
		} else if resp.Header.Get("X-Quotatui-Account") == first {
			t.Errorf("turn %d stayed on the drained account", turn)
		}
	}
}

// TestE2EChatStream: stream_options.include_usage gives the usage chunk
// (choices empty) before [DONE], and the translated chunks parse.
func TestE2EChatStream(t *testing.T) {
	e := startE2E(t, true)
	resp, body := e.post("/v1/chat/completions", `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`, nil)
	evs := parseSSE(t, body)
	n := len(evs)
	if resp.StatusCode != 200 || n < 4 || evs[n-1].raw != "[DONE]" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	usage := evs[n-2].data
	if ch := usage["choices"].([]any); len(ch) != 0 || usage["usage"].(map[string]any)["prompt_tokens"].(float64) <= 0 {
		t.Errorf("usage chunk %s", evs[n-2].raw)
	}
	fin := evs[n-3].data["choices"].([]any)[0].(map[string]any)
	if fin["finish_reason"] != "stop" || evs[0].data["choices"].([]any)[0].(map[string]any)["delta"].(map[string]any)["role"] != "assistant" {
		t.Errorf("chunks %s", body)
	}
}

// TestE2EResponses: the Responses API, streamed, with a function call and
// then its output.
func TestE2EResponses(t *testing.T) {
	e := startE2E(t, true)
	tools := `[{"type":"function","name":"shell","parameters":{"type":"object","properties":{"command":{"type":"array","items":{"type":"string"}}},"required":["command"],"additionalProperties":false},"strict":false}]`
	resp, body := e.post("/v1/responses", `{"model":"gpt-5-codex","instructions":"be Codex","stream":true,"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"ls"}]}],"tools":`+tools+`}`, nil)
	evs := parseSSE(t, body)
	last := evs[len(evs)-1]
	if resp.StatusCode != 200 || last.name != "response.completed" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	out := last.data["response"].(map[string]any)["output"].([]any)
	fc := out[len(out)-1].(map[string]any)
	if fc["type"] != "function_call" || fc["name"] != "shell" || fc["arguments"] != `{"command":[]}` {
		t.Fatalf("output %v", out)
	}
	input := `[{"type":"message","role":"user","content":"ls"},{"type":"function_call","call_id":` + quoteJSON(fc["call_id"].(string)) + `,"name":"shell","arguments":"{\"command\":[]}"},{"type":"function_call_output","call_id":` + quoteJSON(fc["call_id"].(string)) + `,"output":"a.go"}]`
	resp, body = e.post("/v1/responses", `{"model":"gpt-5-codex","input":`+input+`,"tools":`+tools+`,"tool_choice":"none"}`, nil)
	var r struct {
		Status string
		Output []struct {
			Type    string
			Content []struct{ Text string }
		}
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || resp.StatusCode != 200 || r.Status != "completed" || r.Output[0].Type != "message" || r.Output[0].Content[0].Text == "" {
		t.Errorf("turn 2: %d %s", resp.StatusCode, body)
	}
}

func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestE2EAllAccountsSpent: every account out of quota for the family: 429
// in each client's shape with an integer retry-after and the earliest
// reset in the message; no upstream call.
func TestE2EAllAccountsSpent(t *testing.T) {
	e := startE2E(t, true)
	for _, em := range emails {
		e.st.Sim.Drain(em, cloudcode.FamilyClaudeGPT)
		e.sync(em)
	}
	before := e.st.Sim.TotalRequests("generateContent")
	resp, body := e.post("/v1/messages", `{"model":"claude-sonnet-4-6","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`, claudeCode)
	ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != 429 || err != nil || ra <= 60 || !strings.Contains(body, `"type":"rate_limit_error"`) || !strings.Contains(body, "earliest resets at") {
		t.Errorf("anthropic: %d retry-after %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	resp, body = e.post("/v1/chat/completions", `{"model":"claude-sonnet-4-6","messages":[{"role":"user","content":"hi"}]}`, nil)
	if resp.StatusCode != 429 || resp.Header.Get("retry-after-ms") != strconv.Itoa(ra*1000) || !strings.Contains(body, `"code":"insufficient_quota"`) {
		t.Errorf("openai: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	if n := e.st.Sim.TotalRequests("generateContent") - before; n != 0 {
		t.Errorf("%d upstream calls with the pool spent", n)
	}
}

// TestE2EClientDisconnectMidStream: a client that leaves after the first
// event ends the upstream call and the handler, and nothing leaks
// (goleak in TestMain).
func TestE2EClientDisconnectMidStream(t *testing.T) {
	e := startWith(t, func(o *proxytest.Options) { o.Sim.StreamChunks, o.Sim.StreamInterval = 50, 50*time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.st.URL+"/v1/messages",
		strings.NewReader(`{"model":"claude-sonnet-4-6","max_tokens":100000,"stream":true,"messages":[{"role":"user","content":"long"}]}`))
	req.Header.Set("Content-Type", "application/json") // as the SDKs send it; anything else is refused (415)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "event: message_start\n" {
		t.Fatalf("first line %q %v", line, err)
	}
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for e.st.Sim.InFlight() != 0 || e.st.Proxy.Stats().InFlight != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("upstream in flight %d, proxy in flight %d after the client left", e.st.Sim.InFlight(), e.st.Proxy.Stats().InFlight)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestE2EPings: a stream whose upstream is silent longer than the ping
// interval gets keep-alive events in between (pitfall 13).
func TestE2EPings(t *testing.T) {
	e := startWith(t, func(o *proxytest.Options) {
		o.Proxy.Frontends.PingInterval = 10 * time.Millisecond
		o.Sim.StreamChunks, o.Sim.StreamInterval = 3, 80*time.Millisecond
	})
	_, body := e.post("/v1/messages", `{"model":"claude-sonnet-4-6","max_tokens":1000,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, nil)
	evs := parseSSE(t, body)
	pings := 0
	for _, ev := range evs {
		if ev.name == "ping" {
			pings++
		}
	}
	if pings == 0 {
		t.Errorf("no ping in %d events", len(evs))
	}
	fromStream(t, evs) // and the sequence around them is intact
	_, body = e.post("/v1/chat/completions", `{"model":"gemini-3-flash","stream":true,"messages":[{"role":"user","content":"hi"}]}`, nil)
	if !strings.Contains(body, "\n: ping\n") && !strings.HasPrefix(body, ": ping") {
		t.Errorf("no keep-alive comment in the chat stream:\n%s", body)
	}
}

// TestE2EModelsCollisions: GET /v1/models and /v1/models/{id} answer in
// the caller's API by its headers; the Gemini API's other routes under
// /v1 are untouched.
func TestE2EModelsCollisions(t *testing.T) {
	e := startE2E(t, true)
	tests := []struct {
		name, path string
		hdr        map[string]string
		status     int
		has, lacks string
	}{
		{"Gemini SDK list", "/v1/models", map[string]string{"x-goog-api-key": "k"}, 200, `"models":[{"name":"models/`, `"object":"list"`},
		{"Gemini SDK list by client header", "/v1/models", map[string]string{"x-goog-api-client": "google-genai-sdk/3.3.0"}, 200, `"supportedGenerationMethods"`, `"data"`},
		{"Gemini ?key=", "/v1/models?key=k", nil, 200, `"models"`, `"data"`},
		{"v1beta always Gemini", "/v1beta/models", map[string]string{"Authorization": "Bearer x"}, 200, `"models"`, `"data"`},
		{"OpenAI list", "/v1/models", map[string]string{"Authorization": "Bearer sk"}, 200, `"object":"list","data":[{"id":"claude-opus-4-6-thinking","object":"model"`, `"models"`},
		{"Anthropic list", "/v1/models?limit=1000", map[string]string{"anthropic-version": "2023-06-01", "x-api-key": "k"}, 200, `"type":"model","display_name":"Claude Opus 4.6 (Thinking)"`, `"models"`},
		{"internal models hidden", "/v1/models", nil, 200, `"gemini-3-flash"`, `chat_`},
		{"Gemini get", "/v1/models/gemini-3-flash", map[string]string{"x-goog-api-key": "k"}, 200, `"name":"models/gemini-3-flash"`, `"object"`},
		{"OpenAI get", "/v1/models/gemini-3-flash", nil, 200, `"id":"gemini-3-flash","object":"model"`, `"name"`},
		{"OpenAI get by alias", "/v1/models/claude-opus-4-8", nil, 200, `"id":"claude-opus-4-8"`, `"name"`},
		{"OpenAI get unknown", "/v1/models/llama-3", nil, 404, `"code":"model_not_found"`, `"status"`},
		{"Anthropic get unknown", "/v1/models/llama-3", map[string]string{"anthropic-version": "2023-06-01"}, 404, `"type":"not_found_error"`, `"status"`},
		{"Gemini get unknown", "/v1/models/llama-3", map[string]string{"x-goog-api-key": "k"}, 404, `"status":"NOT_FOUND"`, `"type"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.get(tt.path, tt.hdr)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.has) || strings.Contains(body, tt.lacks) {
				t.Errorf("%d %s\nwant %d with %s and without %s", resp.StatusCode, body, tt.status, tt.has, tt.lacks)
			}
		})
	}
	// POST under /v1/models stays the Gemini API.
	resp, body := e.post("/v1/models/gemini-3-flash:generateContent", `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`, map[string]string{"x-goog-api-key": "k"})
	if resp.StatusCode != 200 || !strings.Contains(body, `"candidates"`) {
		t.Errorf("Gemini generateContent under /v1: %d %s", resp.StatusCode, body)
	}
	if resp, _ := e.post("/api/event_logging/batch", `{"events":[]}`, nil); resp.StatusCode != 200 {
		t.Errorf("telemetry: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodHead, e.st.URL+"/api/hello", nil)
	if r, err := e.client.Do(req); err != nil || r.StatusCode != 200 {
		t.Errorf("HEAD /api/hello: %v %v", r, err)
	}
}

// TestE2EErrorShapes: the proxy's own errors reach each client in its
// shape and with a status it handles well.
func TestE2EErrorShapes(t *testing.T) {
	e := startWith(t, func(o *proxytest.Options) { o.Proxy.APIKey = "sekrit-sekrit-sekrit" })
	key := map[string]string{"x-api-key": "sekrit-sekrit-sekrit"}
	bearer := map[string]string{"Authorization": "Bearer sekrit-sekrit-sekrit"}
	tests := []struct {
		name, path, body string
		hdr              map[string]string
		status           int
		has              string
	}{
		{"wrong key, Anthropic", "/v1/messages", `{}`, map[string]string{"x-api-key": "nope"}, 401, `"type":"authentication_error"`},
		{"wrong key, OpenAI", "/v1/chat/completions", `{}`, map[string]string{"Authorization": "Bearer nope"}, 401, `"code":"invalid_api_key"`},
		{"bad JSON", "/v1/messages", `{"model":`, key, 400, `"type":"invalid_request_error"`},
		{"unknown model, Anthropic", "/v1/messages", `{"model":"llama","max_tokens":1,"messages":[{"role":"user","content":"x"}]}`, key, 404, `"type":"not_found_error"`},
		{"unknown model, OpenAI", "/v1/chat/completions", `{"model":"llama","messages":[{"role":"user","content":"x"}]}`, bearer, 404, `"code":"model_not_found"`},
		{"previous_response_id", "/v1/responses", `{"model":"gpt-4o","input":"x","previous_response_id":"r"}`, bearer, 400, `previous_response_id is not supported`},
		// Claude Code sends ANTHROPIC_AUTH_TOKEN as a bearer token and
		// ANTHROPIC_API_KEY as x-api-key: either passes the key check.
		{"bearer key, Anthropic", "/v1/messages", `{"model":"claude-sonnet-4-6","max_tokens":10,"messages":[{"role":"user","content":"x"}]}`, bearer, 200, `"type":"message"`},
		{"x-api-key, Anthropic", "/v1/messages", `{"model":"claude-sonnet-4-6","max_tokens":10,"messages":[{"role":"user","content":"x"}]}`, key, 200, `"type":"message"`},
		{"no key, Anthropic", "/v1/messages", `{}`, nil, 401, `"type":"authentication_error"`},
		{"count_tokens", "/v1/messages/count_tokens", `{"model":"claude-sonnet-4-6","system":"be brief","messages":[{"role":"user","content":"hello there, how are you"}]}`, key, 200, `{"input_tokens":`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.post(tt.path, tt.body, tt.hdr)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.has) {
				t.Errorf("%d %s, want %d with %s", resp.StatusCode, body, tt.status, tt.has)
			}
		})
	}
	e.st.Proxy.SetPaused(true)
	resp, body := e.post("/v1/messages", `{}`, key)
	if resp.StatusCode != 503 || !strings.Contains(body, `"type":"api_error"`) || resp.Header.Get("x-should-retry") != "true" {
		t.Errorf("paused: %d %v %s", resp.StatusCode, resp.Header, body)
	}
}

// TestE2EPromptCache: the same history translates to the same bytes
// every turn, so the upstream's implicit cache serves the earlier turns
// (cache_read_input_tokens), on the session's one account.
func TestE2EPromptCache(t *testing.T) {
	e := startE2E(t, true)
	long := strings.Repeat("All work and no play makes Jack a dull boy. ", 150)
	c := &conversation{model: "claude-sonnet-4-6", extra: `,"system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=1"},{"type":"text","text":"` + long + `","cache_control":{"type":"ephemeral"}}]`,
		messages: []any{map[string]any{"role": "user", "content": long}}}
	a, _ := e.turn(c, false, claudeCode)
	if a.Usage.CacheRead != 0 {
		t.Errorf("turn 1 read %d cached tokens", a.Usage.CacheRead)
	}
	c.reply(a, "")
	c.messages = append(c.messages, map[string]any{"role": "user", "content": "and then?"})
	// Claude Code's billing header changes per version: it must not
	// reach the upstream, or every turn would miss the cache.
	c.extra = strings.Replace(c.extra, "cc_version=1", "cc_version=2", 1)
	a, _ = e.turn(c, true, claudeCode)
	if a.Usage.CacheRead < 1024 || a.Usage.InputTokens <= 0 {
		t.Errorf("turn 2 usage %+v, want the first turn read from cache", a.Usage)
	}
}

// TestE2ECapacity: Google out of capacity on every attempt reaches
// Claude Code as 529 overloaded_error (its fallback-model trigger) and an
// OpenAI client as 503, both with Retry-After.
func TestE2ECapacity(t *testing.T) {
	e := startE2E(t, true)
	e.st.Sim.SetFaults(cloudcodetest.Faults{CapacityRate: 1})
	resp, body := e.post("/v1/messages", `{"model":"claude-sonnet-4-6","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`, claudeCode)
	if resp.StatusCode != 529 || !strings.Contains(body, `"type":"overloaded_error"`) || resp.Header.Get("Retry-After") == "" || resp.Header.Get("x-should-retry") != "true" {
		t.Errorf("anthropic: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	resp, body = e.post("/v1/chat/completions", `{"model":"claude-sonnet-4-6","messages":[{"role":"user","content":"hi"}]}`, nil)
	if resp.StatusCode != 503 || !strings.Contains(body, `"code":"model_overloaded"`) || resp.Header.Get("retry-after-ms") == "" {
		t.Errorf("openai: %d %v %s", resp.StatusCode, resp.Header, body)
	}
}

// breakingUpstream cuts generation answers short: with html set, the
// first streamed answer is an HTML page served as 200 (unusable before
// its first byte); else every stream breaks after its first event.
type breakingUpstream struct {
	next  proxy.Upstream
	html  bool
	calls atomic.Int32
}

type brokenBody struct {
	r io.Reader
	c io.Closer
}

func (b brokenBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if errors.Is(err, io.EOF) {
		return n, errors.New("connection reset by peer")
	}
	return n, err
}

func (b brokenBody) Close() error { return b.c.Close() }

func (u *breakingUpstream) Do(ctx context.Context, r cloudcode.Request) (*http.Response, error) {
	resp, err := u.next.Do(ctx, r)
	if err != nil || r.RPC != "streamGenerateContent" {
		return resp, err
	}
	if u.html && u.calls.Add(1) == 1 {
		resp.Body.Close()
		resp.Body = io.NopCloser(strings.NewReader("<html>502 Bad Gateway</html>"))
		return resp, nil
	}
	if u.html {
		return resp, nil
	}
	first, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		return resp, nil
	}
	resp.Body = brokenBody{r: strings.NewReader(first + "\n"), c: resp.Body}
	return resp, nil
}

// TestE2EStreamBreaks: an upstream stream that breaks after its first
// event ends the client's stream with an error in its own shape and no
// success marker; an answer unusable before its first byte moves to
// another account and the client never sees it.
func TestE2EStreamBreaks(t *testing.T) {
	e := startE2EWrapped(t, true, func(u proxy.Upstream) proxy.Upstream { return &breakingUpstream{next: u} })
	_, body := e.post("/v1/messages", `{"model":"claude-sonnet-4-6","max_tokens":1000,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, nil)
	evs := parseSSE(t, body)
	if last := evs[len(evs)-1]; last.name != "error" || last.data["error"].(map[string]any)["type"] != "api_error" || strings.Contains(body, "message_stop") {
		t.Errorf("anthropic stream:\n%s", body)
	}
	// No [DONE] after the error chunk, and no end of body: the stream
	// must not look complete (issue 11.7).
	_, body = e.post("/v1/chat/completions", `{"model":"gemini-3-flash","stream":true,"messages":[{"role":"user","content":"hi"}]}`, nil)
	evs = parseSSE(t, body)
	if n := len(evs); evs[n-1].data["error"] == nil || strings.Contains(body, "[DONE]") || strings.Contains(body, `"finish_reason":"stop"`) {
		t.Errorf("chat stream:\n%s", body)
	}

	h := startE2EWrapped(t, true, func(u proxy.Upstream) proxy.Upstream { return &breakingUpstream{next: u, html: true} })
	resp, body := h.post("/v1/messages", `{"model":"claude-sonnet-4-6","max_tokens":1000,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, nil)
	if resp.StatusCode != 200 || strings.Contains(body, "html") || fromStream(t, parseSSE(t, body)).StopReason != "end_turn" {
		t.Errorf("after an unusable first answer: %d %s", resp.StatusCode, body)
	}
	if st := h.st.Proxy.Stats(); st.ReactiveSwitches != 1 {
		t.Errorf("reactive switches %d, want 1", st.ReactiveSwitches)
	}
}
