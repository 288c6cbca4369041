package openai

import "github.com/quotatui/quotatui/internal/frontend"

// The common shape of Chat Completions and Responses requests, read with
// frontend.Decoder in one pass instead of encoding/json's
// validate-then-reflect two; anything unusual (see frontend.Decoder) is
// left to encoding/json, which then gives the same result or its own
// error (frontend.Decode). TestDecodeMatchesEncodingJSON and FuzzParse compare the two.

var (
	chatFields = []string{"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "stop",
		"stream", "stream_options", "tools", "tool_choice", "reasoning_effort", "response_format", "user"}
	chatMessageFields  = []string{"role", "content", "tool_calls", "tool_call_id"}
	toolCallFields     = []string{"id", "type", "function"}
	callFunctionFields = []string{"name", "arguments"}
	chatToolFields     = []string{"type", "function"}
	toolFunctionFields = []string{"name", "description", "parameters"}
	streamOptionFields = []string{"include_usage"}
	formatFields       = []string{"type", "json_schema"}
	jsonSchemaFields   = []string{"schema"}

	responsesFields = []string{"model", "instructions", "input", "tools", "tool_choice", "stream", "max_output_tokens",
		"temperature", "top_p", "reasoning", "previous_response_id", "user", "prompt_cache_key"}
	respToolFields  = []string{"type", "name", "description", "parameters"}
	reasoningFields = []string{"effort"}
)

func readChat(d *frontend.Decoder, r *ChatRequest) {
	d.Object(chatFields, func(f int) {
		switch f {
		case 0:
			r.Model = d.Str()
		case 1:
			frontend.Elems(d, &r.Messages, func(m *ChatMessage) { chatMessage(d, m) })
		case 2:
			r.MaxTokens = d.Int()
		case 3:
			r.MaxCompletionTokens = d.Int()
		case 4:
			*frontend.Alloc(&r.Temperature) = d.Float()
		case 5:
			*frontend.Alloc(&r.TopP) = d.Float()
		case 6:
			*frontend.Alloc(&r.TopK) = d.Int()
		case 7:
			r.Stop = d.Raw()
		case 8:
			r.Stream = d.Bool()
		case 9:
			o := frontend.Alloc(&r.StreamOptions)
			d.Object(streamOptionFields, func(int) { o.IncludeUsage = d.Bool() })
		case 10:
			frontend.Elems(d, &r.Tools, func(t *ChatTool) {
				d.Object(chatToolFields, func(f int) {
					if f == 0 {
						t.Type = d.Str()
						return
					}
					d.Object(toolFunctionFields, func(f int) {
						switch f {
						case 0:
							t.Function.Name = d.Str()
						case 1:
							t.Function.Description = d.Str()
						case 2:
							t.Function.Parameters = d.Raw()
						}
					})
				})
			})
		case 11:
			r.ToolChoice = d.Raw()
		case 12:
			r.ReasoningEffort = d.Str()
		case 13:
			rf := frontend.Alloc(&r.ResponseFormat)
			d.Object(formatFields, func(f int) {
				if f == 0 {
					rf.Type = d.Str()
					return
				}
				js := frontend.Alloc(&rf.JSONSchema)
				d.Object(jsonSchemaFields, func(int) { js.Schema = d.Raw() })
			})
		case 14:
			r.User = d.Str()
		}
	})
}

func chatMessage(d *frontend.Decoder, m *ChatMessage) {
	d.Object(chatMessageFields, func(f int) {
		switch f {
		case 0:
			m.Role = d.Str()
		case 1:
			m.Content = d.Raw()
		case 2:
			frontend.Elems(d, &m.ToolCalls, func(c *ToolCall) {
				d.Object(toolCallFields, func(f int) {
					switch f {
					case 0:
						c.ID = d.Str()
					case 1:
						c.Type = d.Str()
					case 2:
						d.StrObject(callFunctionFields, &c.Function.Name, &c.Function.Arguments)
					}
				})
			})
		case 3:
			m.ToolCallID = d.Str()
		}
	})
}

func readResponses(d *frontend.Decoder, r *ResponsesRequest) {
	d.Object(responsesFields, func(f int) {
		switch f {
		case 0:
			r.Model = d.Str()
		case 1:
			r.Instructions = d.Str()
		case 2:
			r.Input = d.Raw()
		case 3:
			frontend.Elems(d, &r.Tools, func(t *RespTool) {
				d.Object(respToolFields, func(f int) {
					switch f {
					case 0:
						t.Type = d.Str()
					case 1:
						t.Name = d.Str()
					case 2:
						t.Description = d.Str()
					case 3:
						t.Parameters = d.Raw()
					}
				})
			})
		case 4:
			r.ToolChoice = d.Raw()
		case 5:
			r.Stream = d.Bool()
		case 6:
			r.MaxOutputTokens = d.Int()
		case 7:
			*frontend.Alloc(&r.Temperature) = d.Float()
		case 8:
			*frontend.Alloc(&r.TopP) = d.Float()
		case 9:
			d.StrObject(reasoningFields, &frontend.Alloc(&r.Reasoning).Effort)
		case 10:
			r.PreviousResponseID = d.Str()
		case 11:
			r.User = d.Str()
		case 12:
			r.PromptCacheKey = d.Str()
		}
	})
}
