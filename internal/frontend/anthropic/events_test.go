package anthropic

import (
	"encoding/json"
	"testing"
)

// TestAppendJSONMatchesEncodingJSON checks every event's and the answer's
// AppendJSON against json.Marshal of the same value, with strings that
// encoding/json escapes (quotes, control characters, HTML, U+2028,
// invalid UTF-8) and raw inputs it rewrites.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"uo\\te\n\t\x01", "<b>&amp;</b>", "line\u2028sep\u2029", "bad \xff\xfe utf8", "é 😀"} {
		str := s
		reason := "end_turn"
		u := Usage{InputTokens: 60, OutputTokens: -1, CacheCreationInputTokens: 0, CacheReadInputTokens: 1 << 40}
		answer := Answer{ID: s, Type: "message", Role: "assistant", Model: s, Content: []ContentBlock{}, Usage: u}
		full := answer
		full.Content = []ContentBlock{{Type: "thinking", Thinking: &str, Signature: new(string)}, {Type: "text", Text: &str},
			{Type: "tool_use", ID: s, Name: s, Input: json.RawMessage(`{"q":1,"s":"a b"}`)}, {Type: s}}
		full.StopReason, full.StopSequence = &reason, &str
		nilContent := answer
		nilContent.Content = nil
		delta := evMessageDelta{Type: "message_delta", Usage: u}
		delta.Delta.StopReason, delta.Delta.StopSequence = s, &str
		for _, v := range []jsonAppender{
			evType{Type: s},
			evMessageStart{Message: answer, Type: "message_start"},
			evMessageStart{Message: full, Type: s},
			evMessageStart{Message: nilContent, Type: s},
			evBlockStart[ContentBlock]{ContentBlock: ContentBlock{Type: "tool_use", ID: s, Name: s, Input: json.RawMessage(`{}`)}, Index: 2, Type: s},
			evBlockStart[ContentBlock]{ContentBlock: ContentBlock{Type: "tool_use"}, Index: 0, Type: s},
			evBlockStart[thinkingStart]{ContentBlock: thinkingStart{Signature: s, Thinking: s, Type: s}, Index: 1},
			evBlockStart[textBody]{ContentBlock: textBody{Text: s, Type: "text"}, Index: -1, Type: s},
			evBlockDelta[textBody]{Delta: textBody{Text: s, Type: "text_delta"}, Index: 3, Type: s},
			evBlockDelta[thinkingDelta]{Delta: thinkingDelta{Thinking: s, Type: s}},
			evBlockDelta[signatureDelta]{Delta: signatureDelta{Signature: s, Type: s}},
			evBlockDelta[inputDelta]{Delta: inputDelta{PartialJSON: `{"q":"` + s + `"}`, Type: s}},
			evBlockStop{Index: 7, Type: s},
			delta,
			evMessageDelta{},
			&full,
		} {
			want, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := v.AppendJSON(nil)
			if !ok || string(got) != string(want) {
				t.Errorf("%T %q:\n got  %s (ok %v)\n want %s", v, s, got, ok, want)
			}
		}
	}
	// A raw input json.Marshal would rewrite is left to it.
	for _, in := range []string{`{ "a": 1 }`, `{"a":"<"}`, `{"a":`} {
		if _, ok := (ContentBlock{Type: "tool_use", Input: json.RawMessage(in)}).AppendJSON(nil); ok {
			t.Errorf("input %s was appended as it is", in)
		}
	}
}
