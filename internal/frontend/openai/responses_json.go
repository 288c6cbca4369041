package openai

import (
	"strconv"

	"github.com/quotatui/quotatui/internal/frontend"
	"github.com/quotatui/quotatui/internal/rawjson"
)

// The Responses API's answer object, written field by field: the bytes
// encoding/json writes for the same structs (member order, omitempty,
// omitzero, null for nil, escaping), which
// TestResponseAppendJSONMatchesEncodingJSON checks. ok is false where
// encoding/json must write it (annotations, which quotatui never sets).

// AppendJSON appends the answer.
func (r *Response) AppendJSON(b []byte) (_ []byte, ok bool) {
	b = append(b, `{"id":`...)
	b = rawjson.AppendString(b, r.ID)
	b = append(b, `,"object":`...)
	b = rawjson.AppendString(b, r.Object)
	b = append(b, `,"created_at":`...)
	b = strconv.AppendInt(b, r.CreatedAt, 10)
	b = append(b, `,"status":`...)
	b = rawjson.AppendString(b, r.Status)
	b = append(b, `,"model":`...)
	b = rawjson.AppendString(b, r.Model)
	b = append(b, `,"output":`...)
	b, ok = frontend.AppendList(b, r.Output, (*RespItem).AppendJSON)
	b = append(b, `,"incomplete_details":`...)
	if r.IncompleteDetails == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"reason":`...)
		b = append(rawjson.AppendString(b, r.IncompleteDetails.Reason), '}')
	}
	b = append(b, `,"usage":`...)
	if r.Usage == nil {
		b = append(b, "null"...)
	} else {
		b = r.Usage.AppendJSON(b)
	}
	return append(b, '}'), ok
}

// AppendJSON appends the output item.
func (it *RespItem) AppendJSON(b []byte) (_ []byte, ok bool) {
	b = append(b, `{"type":`...)
	b = rawjson.AppendString(b, it.Type)
	b = append(b, `,"id":`...)
	b = rawjson.AppendString(b, it.ID)
	b = append(b, `,"status":`...)
	b = rawjson.AppendString(b, it.Status)
	if it.Role != "" {
		b = append(b, `,"role":`...)
		b = rawjson.AppendString(b, it.Role)
	}
	ok = true
	if it.Content != nil { // omitzero: only a nil slice is left out
		b = append(b, `,"content":[`...)
		for i := range it.Content {
			c := &it.Content[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"type":`...)
			b = rawjson.AppendString(b, c.Type)
			b = append(b, `,"text":`...)
			b = rawjson.AppendString(b, c.Text)
			b = append(b, `,"annotations":`...)
			switch {
			case c.Annotations == nil:
				b = append(b, "null"...)
			case len(c.Annotations) == 0:
				b = append(b, "[]"...)
			default:
				ok = false
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if it.CallID != "" {
		b = append(b, `,"call_id":`...)
		b = rawjson.AppendString(b, it.CallID)
	}
	if it.Name != "" {
		b = append(b, `,"name":`...)
		b = rawjson.AppendString(b, it.Name)
	}
	if it.Arguments != nil {
		b = append(b, `,"arguments":`...)
		b = rawjson.AppendString(b, *it.Arguments)
	}
	return append(b, '}'), ok
}

// AppendJSON appends the usage object.
func (u *RespUsage) AppendJSON(b []byte) []byte {
	b = append(b, `{"input_tokens":`...)
	b = strconv.AppendInt(b, int64(u.InputTokens), 10)
	b = append(b, `,"input_tokens_details":{"cached_tokens":`...)
	b = strconv.AppendInt(b, int64(u.InputTokensDetails.CachedTokens), 10)
	b = append(b, `},"output_tokens":`...)
	b = strconv.AppendInt(b, int64(u.OutputTokens), 10)
	b = append(b, `,"output_tokens_details":{"reasoning_tokens":`...)
	b = strconv.AppendInt(b, int64(u.OutputTokensDetails.ReasoningTokens), 10)
	b = append(b, `},"total_tokens":`...)
	b = strconv.AppendInt(b, int64(u.TotalTokens), 10)
	return append(b, '}')
}
