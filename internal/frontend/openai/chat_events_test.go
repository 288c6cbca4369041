package openai

import (
	"encoding/json"
	"testing"
)

// TestChatAppendJSONMatchesEncodingJSON checks every chunk's and the
// whole answer's AppendJSON against json.Marshal of the same value, with
// strings encoding/json escapes.
func TestChatAppendJSONMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"uo\\te\n\t\x01", "<b>&amp;</b>", "line\u2028sep\u2029", "bad \xff\xfe utf8", "é 😀"} {
		str := s
		zero, two := 0, 2
		call := OutCall{ID: s, Type: "function"}
		call.Function.Name, call.Function.Arguments = s, `{"q":"`+s+`"}`
		indexed := call
		indexed.Index = &two
		u := ChatUsage{PromptTokens: 9000, CompletionTokens: -1, TotalTokens: 1 << 40}
		u.PromptTokensDetails.CachedTokens = 8000
		u.CompletionTokensDetails.ReasoningTokens = 12
		chunk := func(d chatAppender, finish *string, usage bool) (chatAppender, any) {
			switch d := d.(type) {
			case roleDelta:
				c := chatChunk[roleDelta]{Created: 1764476400, ID: s, Model: s, Object: "chat.completion.chunk"}
				c.Choices[0] = chatChoice[roleDelta]{Delta: d, FinishReason: finish}
				if usage {
					c.Usage = json.RawMessage("null")
				}
				return c, c
			case callsDelta:
				c := chatChunk[callsDelta]{Created: -1, ID: s, Model: s, Object: s}
				c.Choices[0] = chatChoice[callsDelta]{Delta: d, FinishReason: finish, Index: 3}
				return c, c
			}
			panic("delta")
		}
		for _, v := range []chatAppender{
			roleDelta{Role: "assistant", Content: s}, contentDelta{Content: s}, reasoningDelta{ReasoningContent: s},
			callsDelta{ToolCalls: []OutCall{indexed, call}}, callsDelta{}, emptyDelta{},
		} {
			want, _ := json.Marshal(v)
			if got := v.AppendJSON(nil); string(got) != string(want) {
				t.Errorf("%T %q:\n got  %s\n want %s", v, s, got, want)
			}
		}
		for _, c := range []struct {
			d      chatAppender
			finish *string
			usage  bool
		}{{roleDelta{Role: "assistant"}, nil, true}, {roleDelta{Content: s}, &str, false}, {callsDelta{ToolCalls: []OutCall{indexed}}, nil, false}, {callsDelta{}, &str, false}} {
			v, m := chunk(c.d, c.finish, c.usage)
			want, _ := json.Marshal(m)
			if got := v.AppendJSON(nil); string(got) != string(want) {
				t.Errorf("chunk %q:\n got  %s\n want %s", s, got, want)
			}
		}
		for _, cc := range []*ChatCompletion{
			{ID: s, Object: "chat.completion", Created: 1, Model: s, Usage: u},
			func() *ChatCompletion {
				c := &ChatCompletion{ID: s, Object: s, Model: s, Usage: u}
				c.Choices = make([]struct {
					Index        int            `json:"index"`
					Message      ChatMessageOut `json:"message"`
					FinishReason string         `json:"finish_reason"`
				}, 2)
				c.Choices[0].Message = ChatMessageOut{Role: "assistant", Content: &str, ReasoningContent: s, ToolCalls: []OutCall{call, indexed}}
				c.Choices[0].FinishReason = s
				c.Choices[1].Index = zero + 1
				return c
			}(),
		} {
			want, _ := json.Marshal(cc)
			if got, ok := cc.AppendJSON(nil); !ok || string(got) != string(want) {
				t.Errorf("completion %q:\n got  %s\n want %s", s, got, want)
			}
		}
	}
}
