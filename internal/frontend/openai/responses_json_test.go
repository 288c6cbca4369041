package openai

import (
	"encoding/json"
	"testing"
	"time"
)

// TestResponseAppendJSONMatchesEncodingJSON checks Response.AppendJSON
// against json.Marshal of the same value, with strings encoding/json
// escapes, every optional member set and unset, and the answers
// TranslateResponsesResponse makes.
func TestResponseAppendJSONMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"uo\\te\n\t\x01", "<b>&amp;</b>", "line\u2028sep\u2029", "bad \xff\xfe utf8", "é 😀"} {
		str := s
		u := &RespUsage{InputTokens: 9000, OutputTokens: -1, TotalTokens: 1 << 40}
		u.InputTokensDetails.CachedTokens = 8000
		u.OutputTokensDetails.ReasoningTokens = 12
		full := &Response{ID: s, Object: "response", CreatedAt: 1764476400, Status: s, Model: s, Usage: u,
			Output: []RespItem{
				{Type: "message", ID: s, Status: "completed", Role: "assistant", Content: []RespContent{{Type: "output_text", Text: s, Annotations: []any{}}, {Type: s}}},
				{Type: "function_call", ID: s, Status: s, CallID: s, Name: s, Arguments: &str},
				{Type: "reasoning", Content: []RespContent{}},
			}}
		full.IncompleteDetails = &struct {
			Reason string `json:"reason"`
		}{Reason: s}
		for _, r := range []*Response{full, {ID: s}, {Output: []RespItem{}}} {
			want, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := r.AppendJSON(nil); !ok || string(got) != string(want) {
				t.Errorf("%q:\n got  %s (ok %v)\n want %s", s, got, ok, want)
			}
		}
	}
	for _, in := range []string{
		`{"candidates":[{"content":{"parts":[{"text":"Let me think.","thought":true},{"text":"hi <there>"},{"functionCall":{"name":"shell","args":{"command":["ls"]}}}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":5,"totalTokenCount":9}}`,
		`{"candidates":[{"content":{"parts":[{"text":"cut"}]},"finishReason":"MAX_TOKENS"}]}`,
		`{"promptFeedback":{"blockReason":"SAFETY"}}`,
	} {
		r := TranslateResponsesResponse(chunk(t, in), "gpt-5-codex", nil, time.Unix(1764476400, 0))
		want, _ := json.Marshal(r)
		if got, ok := r.AppendJSON(nil); !ok || string(got) != string(want) {
			t.Errorf("%s:\n got  %s (ok %v)\n want %s", in, got, ok, want)
		}
	}
	// Annotations quotatui never sets are left to encoding/json.
	r := &Response{Output: []RespItem{{Content: []RespContent{{Annotations: []any{1}}}}}}
	if _, ok := r.AppendJSON(nil); ok {
		t.Error("annotations appended")
	}
}
