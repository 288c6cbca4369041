package openai

import (
	"strconv"

	"github.com/quotatui/quotatui/internal/frontend"
	"github.com/quotatui/quotatui/internal/rawjson"
)

// Chat Completions chunks and the whole answer, written field by field:
// the bytes encoding/json writes for the same structs (member order,
// omitempty, escaping), which TestChatAppendJSONMatchesEncodingJSON
// checks for each of them.

// chatAppender is a value that appends its own JSON.
type chatAppender interface {
	AppendJSON(b []byte) []byte
}

// AppendJSON appends the chunk.
func (c chatChunk[D]) AppendJSON(b []byte) []byte {
	ch := &c.Choices[0]
	b = append(b, `{"choices":[{"delta":`...)
	b = ch.Delta.AppendJSON(b)
	b = append(b, `,"finish_reason":`...)
	b = frontend.AppendOptString(b, ch.FinishReason)
	b = append(b, `,"index":`...)
	b = strconv.AppendInt(b, int64(ch.Index), 10)
	b = append(b, `}],"created":`...)
	b = strconv.AppendInt(b, c.Created, 10)
	b = append(b, `,"id":`...)
	b = rawjson.AppendString(b, c.ID)
	b = append(b, `,"model":`...)
	b = rawjson.AppendString(b, c.Model)
	b = append(b, `,"object":`...)
	b = rawjson.AppendString(b, c.Object)
	if len(c.Usage) > 0 { // only ever the literal null (chatDelta)
		b = append(b, `,"usage":`...)
		b = append(b, c.Usage...)
	}
	return append(b, '}')
}

// AppendJSON appends the delta.
func (d roleDelta) AppendJSON(b []byte) []byte {
	b = append(b, `{"content":`...)
	b = rawjson.AppendString(b, d.Content)
	b = append(b, `,"role":`...)
	return append(rawjson.AppendString(b, d.Role), '}')
}

// AppendJSON appends the delta.
func (d contentDelta) AppendJSON(b []byte) []byte {
	b = append(b, `{"content":`...)
	return append(rawjson.AppendString(b, d.Content), '}')
}

// AppendJSON appends the delta.
func (d reasoningDelta) AppendJSON(b []byte) []byte {
	b = append(b, `{"reasoning_content":`...)
	return append(rawjson.AppendString(b, d.ReasoningContent), '}')
}

// AppendJSON appends the delta.
func (d callsDelta) AppendJSON(b []byte) []byte {
	b = append(b, `{"tool_calls":`...)
	return append(appendCalls(b, d.ToolCalls), '}')
}

// AppendJSON appends the delta.
func (emptyDelta) AppendJSON(b []byte) []byte { return append(b, "{}"...) }

// appendCalls appends tool calls (null when nil, as encoding/json writes
// a nil slice).
func appendCalls(b []byte, calls []OutCall) []byte {
	if calls == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range calls {
		if i > 0 {
			b = append(b, ',')
		}
		c := &calls[i]
		b = append(b, '{')
		if c.Index != nil {
			b = append(b, `"index":`...)
			b = strconv.AppendInt(b, int64(*c.Index), 10)
			b = append(b, ',')
		}
		b = append(b, `"id":`...)
		b = rawjson.AppendString(b, c.ID)
		b = append(b, `,"type":`...)
		b = rawjson.AppendString(b, c.Type)
		b = append(b, `,"function":{"name":`...)
		b = rawjson.AppendString(b, c.Function.Name)
		b = append(b, `,"arguments":`...)
		b = rawjson.AppendString(b, c.Function.Arguments)
		b = append(b, `}}`...)
	}
	return append(b, ']')
}

// AppendJSON appends the usage object.
func (u ChatUsage) AppendJSON(b []byte) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(u.PromptTokens), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(u.CompletionTokens), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(u.TotalTokens), 10)
	b = append(b, `,"prompt_tokens_details":{"cached_tokens":`...)
	b = strconv.AppendInt(b, int64(u.PromptTokensDetails.CachedTokens), 10)
	b = append(b, `},"completion_tokens_details":{"reasoning_tokens":`...)
	b = strconv.AppendInt(b, int64(u.CompletionTokensDetails.ReasoningTokens), 10)
	return append(b, `}}`...)
}

// AppendJSON appends the whole answer; ok is always true (the proxy's
// answer writers take the two-result form).
func (c *ChatCompletion) AppendJSON(b []byte) (_ []byte, ok bool) {
	b = append(b, `{"id":`...)
	b = rawjson.AppendString(b, c.ID)
	b = append(b, `,"object":`...)
	b = rawjson.AppendString(b, c.Object)
	b = append(b, `,"created":`...)
	b = strconv.AppendInt(b, c.Created, 10)
	b = append(b, `,"model":`...)
	b = rawjson.AppendString(b, c.Model)
	b = append(b, `,"choices":`...)
	if c.Choices == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range c.Choices {
			ch := &c.Choices[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"index":`...)
			b = strconv.AppendInt(b, int64(ch.Index), 10)
			b = append(b, `,"message":{"role":`...)
			b = rawjson.AppendString(b, ch.Message.Role)
			b = append(b, `,"content":`...)
			b = frontend.AppendOptString(b, ch.Message.Content)
			if ch.Message.ReasoningContent != "" {
				b = append(b, `,"reasoning_content":`...)
				b = rawjson.AppendString(b, ch.Message.ReasoningContent)
			}
			if len(ch.Message.ToolCalls) > 0 {
				b = append(b, `,"tool_calls":`...)
				b = appendCalls(b, ch.Message.ToolCalls)
			}
			b = append(b, `},"finish_reason":`...)
			b = rawjson.AppendString(b, ch.FinishReason)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"usage":`...)
	return append(c.Usage.AppendJSON(b), '}'), true
}
