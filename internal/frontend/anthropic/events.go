package anthropic

import (
	"strconv"

	"github.com/quotatui/quotatui/internal/frontend"
	"github.com/quotatui/quotatui/internal/rawjson"
)

// The Messages API's events and answer, written field by field: the bytes
// encoding/json writes for the same structs (the same member order,
// omitempty, escaping), which TestAppendJSONMatchesEncodingJSON checks
// for each of them. ok is false where encoding/json must write it (a raw
// input that is not compact JSON).

// jsonAppender is a value that appends its own JSON.
type jsonAppender interface {
	AppendJSON(b []byte) (_ []byte, ok bool)
}

// AppendJSON appends the event.
func (e evType) AppendJSON(b []byte) ([]byte, bool) {
	b = append(b, `{"type":`...)
	return append(rawjson.AppendString(b, e.Type), '}'), true
}

// AppendJSON appends the event.
func (e evMessageStart) AppendJSON(b []byte) ([]byte, bool) {
	b = append(b, `{"message":`...)
	b, ok := e.Message.AppendJSON(b)
	b = append(b, `,"type":`...)
	return append(rawjson.AppendString(b, e.Type), '}'), ok
}

// AppendJSON appends the event.
func (e evBlockStart[B]) AppendJSON(b []byte) ([]byte, bool) {
	b = append(b, `{"content_block":`...)
	b, ok := e.ContentBlock.AppendJSON(b)
	return appendIndexType(b, e.Index, e.Type), ok
}

// AppendJSON appends the event.
func (e evBlockDelta[D]) AppendJSON(b []byte) ([]byte, bool) {
	b = append(b, `{"delta":`...)
	b, ok := e.Delta.AppendJSON(b)
	return appendIndexType(b, e.Index, e.Type), ok
}

// AppendJSON appends the event.
func (e evBlockStop) AppendJSON(b []byte) ([]byte, bool) {
	b = append(b, `{`...)
	return appendIndexType(b, e.Index, e.Type), true
}

// appendIndexType appends the members "index" and "type" that end the
// block events, and the closing brace; b's last member has no comma.
func appendIndexType(b []byte, index int, typ string) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, `"index":`...)
	b = strconv.AppendInt(b, int64(index), 10)
	b = append(b, `,"type":`...)
	return append(rawjson.AppendString(b, typ), '}')
}

// AppendJSON appends the event.
func (e evMessageDelta) AppendJSON(b []byte) ([]byte, bool) {
	b = append(b, `{"delta":{"stop_reason":`...)
	b = rawjson.AppendString(b, e.Delta.StopReason)
	b = append(b, `,"stop_sequence":`...)
	b = frontend.AppendOptString(b, e.Delta.StopSequence)
	b = append(b, `},"type":`...)
	b = rawjson.AppendString(b, e.Type)
	b = append(b, `,"usage":`...)
	return append(e.Usage.AppendJSON(b), '}'), true
}

// AppendJSON appends the usage object.
func (u Usage) AppendJSON(b []byte) []byte {
	b = append(b, `{"input_tokens":`...)
	b = strconv.AppendInt(b, int64(u.InputTokens), 10)
	b = append(b, `,"output_tokens":`...)
	b = strconv.AppendInt(b, int64(u.OutputTokens), 10)
	b = append(b, `,"cache_creation_input_tokens":`...)
	b = strconv.AppendInt(b, int64(u.CacheCreationInputTokens), 10)
	b = append(b, `,"cache_read_input_tokens":`...)
	b = strconv.AppendInt(b, int64(u.CacheReadInputTokens), 10)
	return append(b, '}')
}

// AppendJSON appends the answer (a Messages API message).
func (a *Answer) AppendJSON(b []byte) ([]byte, bool) {
	b = append(b, `{"id":`...)
	b = rawjson.AppendString(b, a.ID)
	b = append(b, `,"type":`...)
	b = rawjson.AppendString(b, a.Type)
	b = append(b, `,"role":`...)
	b = rawjson.AppendString(b, a.Role)
	b = append(b, `,"model":`...)
	b = rawjson.AppendString(b, a.Model)
	b = append(b, `,"content":`...)
	b, ok := frontend.AppendList(b, a.Content, func(c *ContentBlock, b []byte) ([]byte, bool) { return c.AppendJSON(b) })
	b = append(b, `,"stop_reason":`...)
	b = frontend.AppendOptString(b, a.StopReason)
	b = append(b, `,"stop_sequence":`...)
	b = frontend.AppendOptString(b, a.StopSequence)
	b = append(b, `,"usage":`...)
	return append(a.Usage.AppendJSON(b), '}'), ok
}

// AppendJSON appends the block, its empty fields left out (omitempty).
func (c ContentBlock) AppendJSON(b []byte) ([]byte, bool) {
	b = append(b, `{"type":`...)
	b = rawjson.AppendString(b, c.Type)
	for _, f := range [...]struct {
		key string
		v   *string
	}{{`,"thinking":`, c.Thinking}, {`,"signature":`, c.Signature}, {`,"text":`, c.Text}} {
		if f.v != nil {
			b = append(b, f.key...)
			b = rawjson.AppendString(b, *f.v)
		}
	}
	if c.ID != "" {
		b = append(b, `,"id":`...)
		b = rawjson.AppendString(b, c.ID)
	}
	if c.Name != "" {
		b = append(b, `,"name":`...)
		b = rawjson.AppendString(b, c.Name)
	}
	ok := true
	if len(c.Input) > 0 {
		b = append(b, `,"input":`...)
		b, ok = frontend.AppendRaw(b, c.Input)
	}
	return append(b, '}'), ok
}

// AppendJSON appends the text block's start or delta.
func (t textBody) AppendJSON(b []byte) ([]byte, bool) {
	return appendTwo(b, "text", t.Text, t.Type), true
}

// AppendJSON appends the thinking block's start.
func (t thinkingStart) AppendJSON(b []byte) ([]byte, bool) {
	b = append(b, `{"signature":`...)
	b = rawjson.AppendString(b, t.Signature)
	b = append(b, `,"thinking":`...)
	b = rawjson.AppendString(b, t.Thinking)
	b = append(b, `,"type":`...)
	return append(rawjson.AppendString(b, t.Type), '}'), true
}

// AppendJSON appends the delta.
func (t thinkingDelta) AppendJSON(b []byte) ([]byte, bool) {
	return appendTwo(b, "thinking", t.Thinking, t.Type), true
}

// AppendJSON appends the delta.
func (t signatureDelta) AppendJSON(b []byte) ([]byte, bool) {
	return appendTwo(b, "signature", t.Signature, t.Type), true
}

// AppendJSON appends the delta.
func (t inputDelta) AppendJSON(b []byte) ([]byte, bool) {
	return appendTwo(b, "partial_json", t.PartialJSON, t.Type), true
}

// appendTwo appends {"<key>":value,"type":typ}.
func appendTwo(b []byte, key, value, typ string) []byte {
	b = append(b, `{"`...)
	b = append(b, key...)
	b = append(b, `":`...)
	b = rawjson.AppendString(b, value)
	b = append(b, `,"type":`...)
	return append(rawjson.AppendString(b, typ), '}')
}
