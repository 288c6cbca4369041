package anthropic

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/quotatui/quotatui/internal/frontend"
)

func chunk(t *testing.T, s string) *frontend.Response {
	t.Helper()
	r, err := frontend.ParseResponse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// events splits an SSE buffer into "name data" lines, checking that each
// event's name matches its data's type.
func events(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	for _, ev := range strings.Split(strings.TrimSuffix(string(b), "\n\n"), "\n\n") {
		name, data, ok := strings.Cut(ev, "\ndata: ")
		name = strings.TrimPrefix(name, "event: ")
		var v struct{ Type string }
		if !ok || json.Unmarshal([]byte(data), &v) != nil || v.Type != name {
			t.Fatalf("malformed event %q", ev)
		}
		out = append(out, name+" "+data)
	}
	return out
}

func seqIDs() func(string) string {
	n := 0
	return func(p string) string { n++; return fmt.Sprintf("%s%d", p, n) }
}

// TestStreamOrder checks the exact event sequence for thinking (signature
// on a trailing empty part), text, a tool call, a finish reason without
// usage and a usage-only chunk after it (pitfalls 13, 14).
func TestStreamOrder(t *testing.T) {
	names := frontend.NewNames()
	up := names.Upstream("my/tool")
	s := NewStream("claude-opus-4-8", names, true)
	s.SetIDs(seqIDs())
	s.Chunk(chunk(t, `{"response":{"candidates":[{"content":{"role":"model","parts":[{"text":"a","thought":true}]}}],"usageMetadata":{"promptTokenCount":100,"cachedContentTokenCount":40},"responseId":"msg_vrtx_X"}}`))
	s.Ping()
	s.Chunk(chunk(t, `{"response":{"candidates":[{"content":{"role":"model","parts":[{"text":"b","thought":true},{"thought":true,"thoughtSignature":"SIG"}]}}]}}`))
	s.Chunk(chunk(t, `{"response":{"candidates":[{"content":{"role":"model","parts":[{"text":"hello"},{"functionCall":{"id":"toolu_vrtx_1","name":"`+up+`","args":{"q":1}}}]},"finishReason":"OTHER"}]}}`))
	s.Chunk(chunk(t, `{"response":{"usageMetadata":{"promptTokenCount":100,"cachedContentTokenCount":40,"candidatesTokenCount":10,"thoughtsTokenCount":5,"totalTokenCount":115}}}`))
	s.Finish()
	got := events(t, s.Take())
	want := []string{
		`message_start {"message":{"id":"msg_vrtx_X","type":"message","role":"assistant","model":"claude-opus-4-8","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":60,"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":40}},"type":"message_start"}`,
		`content_block_start {"content_block":{"signature":"","thinking":"","type":"thinking"},"index":0,"type":"content_block_start"}`,
		`content_block_delta {"delta":{"thinking":"a","type":"thinking_delta"},"index":0,"type":"content_block_delta"}`,
		`ping {"type":"ping"}`, // a keep-alive may come between any two events
		`content_block_delta {"delta":{"thinking":"b","type":"thinking_delta"},"index":0,"type":"content_block_delta"}`,
		`content_block_delta {"delta":{"signature":"SIG","type":"signature_delta"},"index":0,"type":"content_block_delta"}`,
		`content_block_stop {"index":0,"type":"content_block_stop"}`,
		`content_block_start {"content_block":{"text":"","type":"text"},"index":1,"type":"content_block_start"}`,
		`content_block_delta {"delta":{"text":"hello","type":"text_delta"},"index":1,"type":"content_block_delta"}`,
		`content_block_stop {"index":1,"type":"content_block_stop"}`,
		`content_block_start {"content_block":{"type":"tool_use","id":"toolu_vrtx_1","name":"my/tool","input":{}},"index":2,"type":"content_block_start"}`,
		`content_block_delta {"delta":{"partial_json":"{\"q\":1}","type":"input_json_delta"},"index":2,"type":"content_block_delta"}`,
		`content_block_stop {"index":2,"type":"content_block_stop"}`,
		`message_delta {"delta":{"stop_reason":"tool_use","stop_sequence":null},"type":"message_delta","usage":{"input_tokens":60,"output_tokens":15,"cache_creation_input_tokens":0,"cache_read_input_tokens":40}}`,
		`message_stop {"type":"message_stop"}`,
	}
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
	// The assembled answer is the non-streaming one.
	a := s.Answer()
	if len(a.Content) != 3 || *a.Content[0].Thinking != "ab" || *a.Content[0].Signature != "SIG" || *a.Content[1].Text != "hello" ||
		string(a.Content[2].Input) != `{"q":1}` || *a.StopReason != "tool_use" || a.Usage.OutputTokens != 15 {
		t.Errorf("answer %s", mustJSON(a))
	}
	s.Chunk(chunk(t, `{"response":{"candidates":[{"content":{"parts":[{"text":"late"}]}}]}}`))
	if b := s.Take(); len(b) != 0 {
		t.Errorf("content after message_stop: %s", b)
	}
}

func TestStreamEdges(t *testing.T) {
	// An empty body still makes a valid message: one empty text block.
	s := NewStream("m", nil, true)
	s.SetIDs(seqIDs())
	s.Finish()
	got := events(t, s.Take())
	if len(got) != 5 || !strings.HasPrefix(got[1], `content_block_start {"content_block":{"text":""`) || !strings.Contains(got[3], `"end_turn"`) {
		t.Errorf("empty stream:\n%s", strings.Join(got, "\n"))
	}
	// A tool call without id gets a toolu_ one; MAX_TOKENS without calls is max_tokens.
	a := TranslateResponse(chunk(t, `{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f"}}]},"finishReason":"STOP"}]}`), "m", nil)
	if !strings.HasPrefix(a.Content[0].ID, "toolu_") || string(a.Content[0].Input) != "{}" || *a.StopReason != "tool_use" {
		t.Errorf("call without id: %s", mustJSON(a))
	}
	a = TranslateResponse(chunk(t, `{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"MAX_TOKENS"}],"usageMetadata":{"promptTokenCount":5,"totalTokenCount":9}}`), "m", nil)
	if *a.StopReason != "max_tokens" || a.Usage.OutputTokens != 4 || a.Usage.InputTokens != 5 {
		t.Errorf("max tokens: %s", mustJSON(a))
	}
	a = TranslateResponse(chunk(t, `{"candidates":[{"finishReason":"SAFETY"}]}`), "m", nil)
	if *a.StopReason != "refusal" || len(a.Content) != 1 {
		t.Errorf("safety: %s", mustJSON(a))
	}
	// A stream that breaks after its start ends with an error event.
	s = NewStream("m", nil, true)
	s.Chunk(chunk(t, `{"candidates":[{"content":{"parts":[{"text":"x"}]}}]}`))
	s.Fail("api_error", "broke")
	got = events(t, s.Take())
	if last := got[len(got)-1]; !strings.HasPrefix(last, `error {"error":{"message":"broke","type":"api_error"}`) {
		t.Errorf("last event %s", last)
	}
}

// TestMapError follows the brief's §7.2 table (pitfalls 9, 10).
func TestMapError(t *testing.T) {
	inner := `{"type":"error","error":{"type":"invalid_request_error","message":"messages.1.content.0: Invalid ` + "`signature`" + ` in ` + "`thinking`" + ` block"},"request_id":"req_vrtx_1"}`
	tests := []struct {
		in       UpstreamError
		status   int
		typ, msg string
	}{
		{UpstreamError{Status: 400, Message: inner}, 400, "invalid_request_error", "messages.1.content.0: Invalid `signature` in `thinking` block"},
		{UpstreamError{Status: 400, Message: "Invalid JSON payload received. Unknown name \"x\""}, 400, "invalid_request_error", "Invalid JSON payload received. Unknown name \"x\""},
		{UpstreamError{Status: 429, Message: "all 3 accounts are out of quota", Reason: "QUOTA_EXHAUSTED"}, 429, "rate_limit_error", "all 3 accounts are out of quota"},
		{UpstreamError{Status: 503, Message: "no capacity", Reason: "MODEL_CAPACITY_EXHAUSTED"}, 529, "overloaded_error", "no capacity"},
		{UpstreamError{Status: 503, Message: "none usable"}, 503, "api_error", "none usable"},
		{UpstreamError{Status: 403, Message: "forbidden"}, 503, "api_error", "forbidden"},
		{UpstreamError{Status: 404, Message: "no model"}, 404, "not_found_error", "no model"},
		{UpstreamError{Status: 401, Message: "key", Local: true}, 401, "authentication_error", "key"},
		{UpstreamError{Status: 401, Message: "account token"}, 503, "api_error", "account token"},
		{UpstreamError{Status: 403, Message: "host", Local: true}, 403, "permission_error", "host"},
		{UpstreamError{Status: 415, Message: "json only", Local: true}, 415, "invalid_request_error", "json only"},
		{UpstreamError{Status: 502, Message: "bad"}, 502, "api_error", "bad"},
	}
	for _, tt := range tests {
		status, body := MapError(tt.in)
		var v struct {
			Type  string
			Error struct{ Type, Message string }
		}
		if err := json.Unmarshal(body, &v); err != nil || status != tt.status || v.Type != "error" || v.Error.Type != tt.typ || v.Error.Message != tt.msg {
			t.Errorf("%+v: got %d %s", tt.in, status, body)
		}
	}
	if _, body := MapError(UpstreamError{Status: 400, Message: inner}); string(body) != inner {
		t.Errorf("Claude's error was not passed on verbatim: %s", body)
	}
	_ = http.StatusOK
}
