package anthropic

import "github.com/quotatui/quotatui/internal/frontend"

// The common shape of a Messages request, read with frontend.Decoder in
// one pass instead of encoding/json's validate-then-reflect two; anything
// unusual (see frontend.Decoder) is left to encoding/json, which then
// gives the same result or its own error (frontend.Decode).
// TestDecodeMatchesEncodingJSON and FuzzParse compare the two.

var (
	requestFields = []string{"model", "messages", "system", "max_tokens", "temperature", "top_p", "top_k", "stop_sequences",
		"stream", "thinking", "output_config", "tools", "tool_choice", "metadata"}
	messageFields  = []string{"role", "content"}
	thinkingFields = []string{"type", "budget_tokens"}
	effortFields   = []string{"effort"}
	toolFields     = []string{"type", "name", "description", "input_schema", "defer_loading"}
	choiceFields   = []string{"type", "name"}
	metadataFields = []string{"user_id"}
	blockFields    = []string{"type", "text", "thinking", "signature", "id", "name", "input", "tool_use_id", "content",
		"is_error", "tool_name", "source"}
	sourceFields = []string{"type", "media_type", "data", "url"}
)

func readRequest(d *frontend.Decoder, r *Request) {
	d.Object(requestFields, func(f int) {
		switch f {
		case 0:
			r.Model = d.Str()
		case 1:
			frontend.Elems(d, &r.Messages, func(m *Message) {
				d.Object(messageFields, func(f int) {
					if f == 0 {
						m.Role = d.Str()
					} else {
						m.Content = d.Raw()
					}
				})
			})
		case 2:
			r.System = d.Raw()
		case 3:
			r.MaxTokens = d.Int()
		case 4:
			*frontend.Alloc(&r.Temperature) = d.Float()
		case 5:
			*frontend.Alloc(&r.TopP) = d.Float()
		case 6:
			*frontend.Alloc(&r.TopK) = d.Int()
		case 7:
			frontend.Elems(d, &r.StopSequences, func(s *string) { *s = d.Str() })
		case 8:
			r.Stream = d.Bool()
		case 9:
			t := frontend.Alloc(&r.Thinking)
			d.Object(thinkingFields, func(f int) {
				if f == 0 {
					t.Type = d.Str()
				} else {
					t.BudgetTokens = d.Int()
				}
			})
		case 10:
			d.StrObject(effortFields, &frontend.Alloc(&r.OutputConfig).Effort)
		case 11:
			frontend.Elems(d, &r.Tools, func(t *Tool) {
				d.Object(toolFields, func(f int) {
					switch f {
					case 0:
						t.Type = d.Str()
					case 1:
						t.Name = d.Str()
					case 2:
						t.Description = d.Str()
					case 3:
						t.InputSchema = d.Raw()
					case 4:
						t.DeferLoading = d.Bool()
					}
				})
			})
		case 12:
			c := frontend.Alloc(&r.ToolChoice)
			d.StrObject(choiceFields, &c.Type, &c.Name)
		case 13:
			d.StrObject(metadataFields, &frontend.Alloc(&r.Metadata).UserID)
		}
	})
}

// readBlocks reads a list of content blocks.
func readBlocks(d *frontend.Decoder, bs *[]Block) {
	frontend.Elems(d, bs, func(b *Block) {
		d.Object(blockFields, func(f int) {
			switch f {
			case 0:
				b.Type = d.Str()
			case 1:
				b.Text = d.Str()
			case 2:
				b.Thinking = d.Str()
			case 3:
				b.Signature = d.Str()
			case 4:
				b.ID = d.Str()
			case 5:
				b.Name = d.Str()
			case 6:
				b.Input = d.Raw()
			case 7:
				b.ToolUseID = d.Str()
			case 8:
				b.Content = d.Raw()
			case 9:
				b.IsError = d.Bool()
			case 10:
				b.ToolName = d.Str()
			case 11:
				s := frontend.Alloc(&b.Source)
				d.StrObject(sourceFields, &s.Type, &s.MediaType, &s.Data, &s.URL)
			}
		})
	})
}

// decodeBlocks reads a list of content blocks, or gives encoding/json's
// error.
func decodeBlocks(raw []byte) ([]Block, error) {
	bs, err := frontend.Decode(raw, readBlocks)
	if err != nil {
		return nil, err
	}
	return *bs, nil
}
