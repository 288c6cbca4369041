package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/frontend"
)

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func seqIDs() func(string) string {
	n := 0
	return func(p string) string { n++; return fmt.Sprintf("%s%d", p, n) }
}

func chunk(t *testing.T, s string) *frontend.Response {
	t.Helper()
	r, err := frontend.ParseResponse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// An openai-node chat.completions.create body with a tool loop (what
// opencode and Cline send): system, a user image, an assistant turn with
// two parallel calls, their tool results, and the SDK's extras.
const chatBody = `{
 "model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"parallel_tool_calls":true,"user":"u1","seed":7,
 "max_completion_tokens":500,"temperature":0,"stop":"END","reasoning_effort":"low",
 "messages":[
  {"role":"system","content":"You are terse."},
  {"role":"developer","content":[{"type":"text","text":"Use tools."}]},
  {"role":"user","content":[{"type":"text","text":"weather in Paris and Rome?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBOR"}}]},
  {"role":"assistant","content":null,"reasoning_content":"thinking aloud","tool_calls":[
    {"id":"call_a","type":"function","function":{"name":"get/weather","arguments":"{\"city\":\"Paris\"}"}},
    {"id":"call_b","type":"function","function":{"name":"get/weather","arguments":"not json"}}]},
  {"role":"tool","tool_call_id":"call_b","content":"rain"},
  {"role":"tool","tool_call_id":"call_a","content":[{"type":"text","text":"sun"}]}
 ],
 "tools":[{"type":"function","function":{"name":"get/weather","description":"Weather","strict":true,"parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}}}],
 "tool_choice":"auto"}`

func TestTranslateChat(t *testing.T) {
	r, err := ParseChat([]byte(chatBody))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := TranslateChat(r, "gemini-3-flash", ChatSessionKey("", r), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"stream_options", "parallel_tool_calls", "seed", "strict", "additionalProperties", "reasoning_content", "thinking aloud", `"user"`} {
		if bytes.Contains(tr.Body, []byte(leak)) && leak != `"user"` {
			t.Errorf("upstream body contains %s", leak)
		}
	}
	var g frontend.Request
	if err := json.Unmarshal(tr.Body, &g); err != nil {
		t.Fatal(err)
	}
	if !tr.Stream || !tr.IncludeUsage || len(g.SystemInstruction.Parts) != 2 {
		t.Errorf("translation %+v, system %s", tr, mustJSON(g.SystemInstruction))
	}
	if p := g.Contents[0].Parts; p[1].InlineData == nil || p[1].InlineData.MimeType != "image/png" || p[1].InlineData.Data != "iVBOR" {
		t.Errorf("user parts %s", mustJSON(p))
	}
	calls := g.Contents[1].Parts
	if calls[0].FunctionCall.Name != "get_weather" || string(calls[1].FunctionCall.Args) != `{"params":"not json"}` {
		t.Errorf("calls %s", mustJSON(calls))
	}
	res := g.Contents[2].Parts
	if res[0].FunctionResponse.ID != "call_a" || string(res[0].FunctionResponse.Response) != `{"result":"sun"}` || res[1].FunctionResponse.ID != "call_b" ||
		res[0].FunctionResponse.Name != "get_weather" {
		t.Errorf("results not in call order: %s", mustJSON(res))
	}
	gc := g.GenerationConfig
	if gc.MaxOutputTokens != 500 || *gc.Temperature != 0 || gc.StopSequences[0] != "END" || gc.ThinkingConfig != nil {
		// 500 tokens leave no room for a 4096 budget: thinking is off.
		t.Errorf("config %s", mustJSON(gc))
	}
	if g.ToolConfig.FunctionCallingConfig.Mode != "AUTO" || tr.Names.Client("get_weather") != "get/weather" {
		t.Errorf("tool config %s", mustJSON(g.ToolConfig))
	}
	if k := ChatSessionKey("", r); k != "oa-user:u1" {
		t.Errorf("session key %q", k)
	}
}

func TestChatStream(t *testing.T) {
	names := frontend.NewNames()
	up := names.Upstream("get/weather")
	s := NewChatStream("gpt-4o", names, true, true, now)
	s.SetIDs(seqIDs())
	s.Chunk(chunk(t, `{"response":{"candidates":[{"content":{"parts":[{"text":"hmm","thought":true},{"text":"Checking"}]}}],"usageMetadata":{"promptTokenCount":50}}}`))
	s.Chunk(chunk(t, `{"response":{"candidates":[{"content":{"parts":[{"functionCall":{"name":"`+up+`","args":{"city":"Paris"}},"thoughtSignature":"x"},{"functionCall":{"name":"`+up+`","args":{"city":"Rome"}}}]},"finishReason":"STOP"}]}}`))
	s.Chunk(chunk(t, `{"response":{"usageMetadata":{"promptTokenCount":50,"cachedContentTokenCount":20,"candidatesTokenCount":12,"thoughtsTokenCount":3}}}`))
	s.Finish()
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(s.Take())), "\n\n") {
		got = append(got, strings.TrimPrefix(line, "data: "))
	}
	head := `"created":1795780800,"id":"chatcmpl-1","model":"gpt-4o","object":"chat.completion.chunk"`
	want := []string{
		`{"choices":[{"delta":{"content":"","role":"assistant"},"finish_reason":null,"index":0}],` + head + `,"usage":null}`,
		`{"choices":[{"delta":{"reasoning_content":"hmm"},"finish_reason":null,"index":0}],` + head + `,"usage":null}`,
		`{"choices":[{"delta":{"content":"Checking"},"finish_reason":null,"index":0}],` + head + `,"usage":null}`,
		`{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_2","type":"function","function":{"name":"get/weather","arguments":"{\"city\":\"Paris\"}"}}]},"finish_reason":null,"index":0}],` + head + `,"usage":null}`,
		`{"choices":[{"delta":{"tool_calls":[{"index":1,"id":"call_3","type":"function","function":{"name":"get/weather","arguments":"{\"city\":\"Rome\"}"}}]},"finish_reason":null,"index":0}],` + head + `,"usage":null}`,
		`{"choices":[{"delta":{},"finish_reason":"tool_calls","index":0}],` + head + `,"usage":null}`,
		`{"choices":[],` + head + `,"usage":{"prompt_tokens":50,"completion_tokens":15,"total_tokens":65,"prompt_tokens_details":{"cached_tokens":20},"completion_tokens_details":{"reasoning_tokens":3}}}`,
		`[DONE]`,
	}
	if len(got) != len(want) {
		t.Fatalf("%d chunks, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("chunk %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
	c := s.Completion()
	if m := c.Choices[0].Message; m.Content == nil || *m.Content != "Checking" || len(m.ToolCalls) != 2 || m.ReasoningContent != "hmm" || m.ToolCalls[0].Index != nil {
		t.Errorf("completion %s", mustJSON(c))
	}
	// Without include_usage: no usage fields at all.
	s = NewChatStream("m", nil, true, false, now)
	s.Chunk(chunk(t, `{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"MAX_TOKENS"}]}`))
	s.Finish()
	out := string(s.Take())
	if strings.Contains(out, "usage") || !strings.Contains(out, `"finish_reason":"length"`) || !strings.HasSuffix(out, "data: [DONE]\n\n") {
		t.Errorf("stream without usage:\n%s", out)
	}
}

func TestChatResponse(t *testing.T) {
	c := TranslateChatResponse(chunk(t, `{"response":{"candidates":[{"content":{"parts":[{"functionCall":{"id":"toolu_vrtx_9","name":"f","args":{}}}]},"finishReason":"OTHER"}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":2}}}`), "claude-sonnet-4-5", nil, now)
	b := mustJSON(c)
	if !strings.Contains(b, `"content":null`) || !strings.Contains(b, `"finish_reason":"tool_calls"`) || !strings.Contains(b, `"id":"toolu_vrtx_9"`) || c.Model != "claude-sonnet-4-5" {
		t.Errorf("tool-only answer: %s", b)
	}
	c = TranslateChatResponse(chunk(t, `{"candidates":[{"finishReason":"SAFETY"}]}`), "m", nil, now)
	if c.Choices[0].FinishReason != "content_filter" || *c.Choices[0].Message.Content != "" {
		t.Errorf("filtered: %s", mustJSON(c))
	}
}

// A Codex-style Responses request: instructions, a message, a
// reasoning item, a function call and its output.
const respBody = `{"model":"gpt-5-codex","instructions":"You are Codex.","stream":true,"store":false,"prompt_cache_key":"conv-1",
 "reasoning":{"effort":"high","summary":"auto"},"include":["reasoning.encrypted_content"],
 "tools":[{"type":"function","name":"shell","description":"Run","strict":false,"parameters":{"type":"object","properties":{"command":{"type":"array","items":{"type":"string"}}},"required":["command"],"additionalProperties":false}},{"type":"web_search"}],
 "input":[
  {"type":"message","role":"developer","content":[{"type":"input_text","text":"env: linux"}]},
  {"type":"message","role":"user","content":[{"type":"input_text","text":"list files"}]},
  {"type":"reasoning","summary":[],"encrypted_content":"gAAA"},
  {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Listing."}]},
  {"type":"function_call","call_id":"call_1","name":"shell","arguments":"{\"command\":[\"ls\"]}"},
  {"type":"function_call_output","call_id":"call_1","output":"a.go\nb.go"}
 ]}`

func TestTranslateResponses(t *testing.T) {
	r, err := ParseResponses([]byte(respBody))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := TranslateResponses(r, "gemini-3-pro-high", ResponsesSessionKey("", r), nil)
	if err != nil {
		t.Fatal(err)
	}
	var g frontend.Request
	_ = json.Unmarshal(tr.Body, &g)
	roles := ""
	for _, c := range g.Contents {
		roles += c.Role[:1]
	}
	// The assistant text and the call are one model turn (CPA#4959).
	if roles != "umu" || len(g.Contents[1].Parts) != 2 || g.Contents[1].Parts[1].FunctionCall == nil || len(g.SystemInstruction.Parts) != 2 {
		t.Errorf("contents %s", tr.Body)
	}
	if len(g.Tools[0].FunctionDeclarations) != 1 || g.GenerationConfig.ThinkingConfig.ThinkingBudget != 24576 {
		t.Errorf("tools/thinking %s", tr.Body)
	}
	if k := ResponsesSessionKey("", r); k != "oa-cache:conv-1" {
		t.Errorf("session %q", k)
	}
	if _, err := ParseResponses([]byte(`{"model":"m","input":"x","previous_response_id":"resp_1"}`)); err == nil {
		t.Error("previous_response_id accepted")
	}
}

func TestRespStream(t *testing.T) {
	s := NewRespStream("gpt-5-codex", nil, true, now)
	s.SetIDs(seqIDs())
	s.Chunk(chunk(t, `{"candidates":[{"content":{"parts":[{"text":"Run"},{"text":"ning"}]}}],"usageMetadata":{"promptTokenCount":9}}`))
	s.Chunk(chunk(t, `{"candidates":[{"content":{"parts":[{"functionCall":{"name":"shell","args":{"command":["ls"]}}}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":4}}`))
	s.Finish()
	var types []string
	seq := 0
	for _, ev := range strings.Split(strings.TrimSpace(string(s.Take())), "\n\n") {
		name, data, _ := strings.Cut(ev, "\ndata: ")
		var v struct {
			Type string `json:"type"`
			Seq  int    `json:"sequence_number"`
		}
		if json.Unmarshal([]byte(data), &v) != nil || "event: "+v.Type != name || v.Seq != seq {
			t.Fatalf("bad event %q", ev)
		}
		seq++
		types = append(types, v.Type)
	}
	want := "response.created response.in_progress response.output_item.added response.content_part.added response.output_text.delta response.output_text.delta " +
		"response.output_text.done response.content_part.done response.output_item.done response.output_item.added response.function_call_arguments.delta " +
		"response.function_call_arguments.done response.output_item.done response.completed"
	if strings.Join(types, " ") != want {
		t.Errorf("events:\n%s\nwant\n%s", strings.Join(types, " "), want)
	}
	resp := s.Response()
	if resp.Status != "completed" || len(resp.Output) != 2 || resp.Output[0].Content[0].Text != "Running" || *resp.Output[1].Arguments != `{"command":["ls"]}` ||
		resp.Output[1].CallID != "call_3" || resp.Usage.OutputTokens != 4 {
		t.Errorf("response %s", mustJSON(resp))
	}
}

func TestMapError(t *testing.T) {
	inner := `{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}`
	for _, tt := range []struct {
		in               UpstreamError
		status           int
		typ, code, inMsg string
	}{
		{UpstreamError{Status: 429, Message: "spent", Reason: "QUOTA_EXHAUSTED"}, 429, "insufficient_quota", "insufficient_quota", "spent"},
		{UpstreamError{Status: 429, Message: "slow down", Reason: "RATE_LIMIT_EXCEEDED"}, 429, "rate_limit_error", "rate_limit_exceeded", "slow down"},
		{UpstreamError{Status: 503, Message: "cap", Reason: "MODEL_CAPACITY_EXHAUSTED"}, 503, "server_error", "model_overloaded", "cap"},
		{UpstreamError{Status: 400, Message: inner}, 400, "invalid_request_error", "context_length_exceeded", "prompt is too long"},
		{UpstreamError{Status: 404, Message: "no"}, 404, "invalid_request_error", "model_not_found", "no"},
		{UpstreamError{Status: 403, Message: "denied"}, 503, "api_error", "", "denied"},
		{UpstreamError{Status: 401, Message: "key", Local: true}, 401, "invalid_request_error", "invalid_api_key", "key"},
		{UpstreamError{Status: 401, Message: "account token"}, 503, "api_error", "", "account token"},
		{UpstreamError{Status: 403, Message: "host", Local: true}, 403, "permission_error", "", "host"},
	} {
		status, body := MapError(tt.in)
		var v struct {
			Error struct {
				Message, Type string
				Code          *string
			}
		}
		code := ""
		if json.Unmarshal(body, &v) == nil && v.Error.Code != nil {
			code = *v.Error.Code
		}
		if status != tt.status || v.Error.Type != tt.typ || code != tt.code || !strings.Contains(v.Error.Message, tt.inMsg) {
			t.Errorf("%+v: %d %s", tt.in, status, body)
		}
	}
	if RetryAfterMS("12") != "12000" || RetryAfterMS("x") != "" {
		t.Error("RetryAfterMS")
	}
}

// TestStreamFailures: a stream that breaks after its start ends with an
// error the SDKs raise on: a chunk with "error" for Chat (no [DONE]: the
// stream must not look complete, issue 11.7), response.failed for
// Responses; nothing follows.
func TestStreamFailures(t *testing.T) {
	c := NewChatStream("m", nil, true, false, now)
	c.Chunk(chunk(t, `{"candidates":[{"content":{"parts":[{"text":"x"}]}}]}`))
	c.Fail("api_error", "broke")
	c.Finish()
	out := string(c.Take())
	if !strings.HasSuffix(out, `data: {"error":{"code":null,"message":"broke","param":null,"type":"api_error"}}`+"\n\n") || strings.Contains(out, "[DONE]") || strings.Contains(out, "finish_reason\":\"stop") {
		t.Errorf("chat:\n%s", out)
	}
	r := NewRespStream("m", nil, true, now)
	r.Chunk(chunk(t, `{"candidates":[{"content":{"parts":[{"text":"x"}]}}]}`))
	r.Fail("api_error", "broke")
	r.Finish()
	out = string(r.Take())
	if !strings.Contains(out, "event: response.failed\n") || strings.Contains(out, "response.completed") {
		t.Errorf("responses:\n%s", out)
	}
}
