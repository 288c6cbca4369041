// Package openai translates OpenAI Chat Completions and Responses API
// requests (as the openai SDK, opencode, Cline and Codex send them) into
// Gemini requests for v1internal, and Gemini answers back into the
// OpenAI shapes, streamed chunk by chunk.
package openai

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/quotatui/quotatui/internal/frontend"
)

// ChatRequest is the part of a Chat Completions request quotatui reads;
// stream_options, parallel_tool_calls, user, seed, logprobs and the
// penalties never reach the upstream.
type ChatRequest struct {
	Model               string          `json:"model"`
	Messages            []ChatMessage   `json:"messages"`
	MaxTokens           int             `json:"max_tokens"`
	MaxCompletionTokens int             `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	TopK                *int            `json:"top_k"`
	Stop                json.RawMessage `json:"stop"`
	Stream              bool            `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Tools           []ChatTool      `json:"tools"`
	ToolChoice      json.RawMessage `json:"tool_choice"`
	ReasoningEffort string          `json:"reasoning_effort"`
	ResponseFormat  *struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	} `json:"response_format"`
	User string `json:"user"`
}

// ChatMessage is one message; Content is a string, a list of parts or null.
type ChatMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCalls  []ToolCall      `json:"tool_calls"`
	ToolCallID string          `json:"tool_call_id"`
}

// ToolCall is an assistant's call; Arguments is a JSON string.
type ToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// ChatTool is a tool declaration.
type ChatTool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"function"`
}

type contentPart struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	ImageURL *struct {
		URL string `json:"url"`
	} `json:"image_url"`
	InputAudio *struct {
		Data   string `json:"data"`
		Format string `json:"format"`
	} `json:"input_audio"`
	File *struct {
		FileData string `json:"file_data"`
		Filename string `json:"filename"`
	} `json:"file"`
}

// Translation is a request made ready for v1internal.
type Translation struct {
	Body         []byte
	ClientModel  string
	Model        string
	Stream       bool
	IncludeUsage bool
	Names        *frontend.Names
}

// RequestError is a request quotatui cannot translate: a 400.
type RequestError struct{ Msg string }

// Error returns the message.
func (e *RequestError) Error() string { return e.Msg }

func bad(format string, args ...any) error { return &RequestError{fmt.Sprintf(format, args...)} }

// ParseChat decodes a Chat Completions request.
func ParseChat(body []byte) (*ChatRequest, error) {
	r, err := frontend.Decode(body, readChat)
	if err != nil {
		return nil, bad("request body is not a Chat Completions request: %v", err)
	}
	if r.Model == "" {
		return nil, bad("you must provide a model parameter")
	}
	if len(r.Messages) == 0 {
		return nil, bad("messages: at least one message is required")
	}
	return r, nil
}

// TranslateChat builds the Gemini request for upstream model; schemas may
// be nil.
func TranslateChat(r *ChatRequest, model, session string, schemas *frontend.SchemaCache) (*Translation, error) {
	fam := frontend.FamilyOf(model)
	t := &Translation{ClientModel: r.Model, Model: model, Stream: r.Stream, Names: frontend.NewNames()}
	t.IncludeUsage = r.StreamOptions != nil && r.StreamOptions.IncludeUsage
	g := frontend.Request{SessionID: frontend.UpstreamSessionID(session)}

	decls, err := declarations(r.Tools, t.Names, schemas)
	if err != nil {
		return nil, err
	}
	if len(decls) > 0 {
		g.Tools = []frontend.Tool{{FunctionDeclarations: decls}}
		tc, err := chatToolChoice(r.ToolChoice, t.Names)
		if err != nil {
			return nil, err
		}
		g.ToolConfig = tc
	}

	var system []frontend.Part
	var contents []frontend.Content
	for i, m := range r.Messages {
		switch m.Role {
		case "system", "developer":
			text, _, err := t.parts(m.Content, fam)
			if err != nil {
				return nil, bad("messages[%d]: %v", i, err)
			}
			system = append(system, text...)
		case "user":
			parts, _, err := t.parts(m.Content, fam)
			if err != nil {
				return nil, bad("messages[%d]: %v", i, err)
			}
			contents = append(contents, frontend.Content{Role: "user", Parts: parts})
		case "assistant":
			parts, _, err := t.parts(m.Content, fam)
			if err != nil {
				return nil, bad("messages[%d]: %v", i, err)
			}
			// reasoning_content has no signature here: Claude refuses
			// unsigned thoughts and Gemini does not need them, so it
			// stays out.
			for _, tc := range m.ToolCalls {
				if tc.Function.Name == "" {
					return nil, bad("messages[%d].tool_calls: a call needs function.name", i)
				}
				parts = append(parts, frontend.Part{FunctionCall: &frontend.FunctionCall{ID: frontend.SanitizeID(tc.ID),
					Name: t.Names.Upstream(tc.Function.Name), Args: frontend.ArgsObject(jsonString(tc.Function.Arguments))}})
			}
			contents = append(contents, frontend.Content{Role: "model", Parts: parts})
		case "tool", "function":
			text, err := plainText(m.Content)
			if err != nil {
				return nil, bad("messages[%d]: %v", i, err)
			}
			contents = append(contents, frontend.Content{Role: "user", Parts: []frontend.Part{{FunctionResponse: &frontend.FunctionResponse{
				ID: frontend.SanitizeID(m.ToolCallID), Response: frontend.ResultObject(text, false)}}}})
		default:
			return nil, bad("messages[%d].role: %q is not one of system, developer, user, assistant, tool", i, m.Role)
		}
	}
	if len(contents) == 0 && len(system) > 0 {
		// A lone system message is the prompt itself.
		contents, system = []frontend.Content{{Role: "user", Parts: system}}, nil
	}
	if len(system) > 0 {
		g.SystemInstruction = &frontend.Content{Role: "user", Parts: system}
	}
	g.Contents = frontend.FixTurns(contents, fam)
	if len(g.Contents) == 0 {
		return nil, bad("messages: nothing to send once empty messages are left out")
	}

	gc := &frontend.GenerationConfig{Temperature: r.Temperature, TopP: r.TopP, TopK: r.TopK}
	if gc.StopSequences, err = stops(r.Stop); err != nil {
		return nil, err
	}
	if r.ResponseFormat != nil && (r.ResponseFormat.Type == "json_object" || r.ResponseFormat.Type == "json_schema") {
		gc.ResponseMimeType = "application/json"
		if r.ResponseFormat.JSONSchema != nil && len(r.ResponseFormat.JSONSchema.Schema) > 0 {
			if gc.ResponseSchema, err = frontend.CleanSchema(r.ResponseFormat.JSONSchema.Schema); err != nil {
				return nil, bad("response_format.json_schema.schema: %v", err)
			}
		}
	}
	budget := 0
	if r.ReasoningEffort != "" && r.ReasoningEffort != "none" {
		budget = frontend.EffortBudget(r.ReasoningEffort)
	}
	if budget > 0 && fam == frontend.Claude {
		// No signatures come back through Chat Completions: an open tool
		// loop would need one on the call turn.
		if open, signed := frontend.OpenToolLoop(g.Contents); open && !signed {
			budget = 0
		}
	}
	maxTokens := r.MaxCompletionTokens
	if maxTokens == 0 {
		maxTokens = r.MaxTokens
	}
	tc, maxOut := frontend.Thinking(model, budget, maxTokens)
	gc.ThinkingConfig, gc.MaxOutputTokens = tc, maxOut
	if tc != nil && fam == frontend.Claude {
		gc.Temperature, gc.TopP, gc.TopK = nil, nil, nil
	}
	if !gc.Empty() {
		g.GenerationConfig = gc
	}
	if t.Body, err = g.Marshal(); err != nil {
		return nil, fmt.Errorf("encode upstream request: %w", err)
	}
	return t, nil
}

// jsonString turns a call's arguments string into raw JSON for
// ArgsObject (which parses objects and wraps anything else).
func jsonString(s string) json.RawMessage {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}

func declarations(tools []ChatTool, names *frontend.Names, schemas *frontend.SchemaCache) ([]frontend.FunctionDeclaration, error) {
	var decls []frontend.FunctionDeclaration
	seen := map[string]bool{}
	for i, tool := range tools {
		if tool.Type != "" && tool.Type != "function" || tool.Function.Name == "" {
			continue
		}
		name := names.Upstream(tool.Function.Name)
		if seen[name] {
			continue
		}
		seen[name] = true
		params, err := schemas.Clean(tool.Function.Parameters)
		if err != nil {
			return nil, bad("tools[%d].function.parameters: %v", i, err)
		}
		decls = append(decls, frontend.FunctionDeclaration{Name: name, Description: tool.Function.Description, Parameters: params})
	}
	if len(decls) > 512 {
		decls = decls[:512]
	}
	return decls, nil
}

// chatToolChoice maps "none"/"auto"/"required" or {"function":{"name"}}.
func chatToolChoice(raw json.RawMessage, names *frontend.Names) (*frontend.ToolConfig, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if s, ok := frontend.StringOf(raw); ok {
		mode := map[string]string{"none": "NONE", "auto": "AUTO", "required": "ANY"}[s]
		if mode == "" {
			return nil, bad("tool_choice: %q is not none, auto or required", s)
		}
		return &frontend.ToolConfig{FunctionCallingConfig: &frontend.FunctionCallingConfig{Mode: mode}}, nil
	}
	var obj struct {
		Name     string `json:"name"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, bad("tool_choice: %v", err)
	}
	name := obj.Function.Name
	if name == "" {
		name = obj.Name
	}
	if name == "" {
		return nil, nil
	}
	return &frontend.ToolConfig{FunctionCallingConfig: &frontend.FunctionCallingConfig{Mode: "ANY", AllowedFunctionNames: []string{names.Upstream(name)}}}, nil
}

func stops(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if s, ok := frontend.StringOf(raw); ok {
		if s == "" {
			return nil, nil
		}
		return []string{s}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, bad("stop: want a string or a list of strings")
	}
	return list, nil
}

// parts translates message content (string, parts or null).
func (t *Translation) parts(raw json.RawMessage, _ frontend.Family) ([]frontend.Part, bool, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false, nil
	}
	if s, ok := frontend.StringOf(raw); ok {
		return []frontend.Part{{Text: s}}, true, nil
	}
	var ps []contentPart
	if err := json.Unmarshal(raw, &ps); err != nil {
		return nil, false, fmt.Errorf("content: want a string or a list of parts: %v", err)
	}
	var out []frontend.Part
	for i, p := range ps {
		switch p.Type {
		case "text", "input_text", "output_text":
			out = append(out, frontend.Part{Text: p.Text})
		case "image_url":
			if p.ImageURL == nil {
				return nil, false, fmt.Errorf("content[%d]: image_url part without image_url", i)
			}
			out = append(out, urlPart(p.ImageURL.URL, "image/png"))
		case "input_audio":
			if p.InputAudio != nil {
				out = append(out, frontend.Part{InlineData: &frontend.Blob{MimeType: "audio/" + p.InputAudio.Format, Data: p.InputAudio.Data}})
			}
		case "file":
			if p.File != nil && p.File.FileData != "" {
				out = append(out, urlPart(p.File.FileData, "application/pdf"))
			}
		}
	}
	return out, true, nil
}

// urlPart turns a data: URL into inline data and any other URL into a
// file reference.
func urlPart(u, defaultType string) frontend.Part {
	if rest, ok := strings.CutPrefix(u, "data:"); ok {
		meta, data, found := strings.Cut(rest, ",")
		if found {
			mime, _, _ := strings.Cut(meta, ";")
			if mime == "" {
				mime = defaultType
			}
			return frontend.Part{InlineData: &frontend.Blob{MimeType: mime, Data: data}}
		}
	}
	if !strings.Contains(u, "://") {
		// A bare base64 payload (file_data without a data: prefix).
		return frontend.Part{InlineData: &frontend.Blob{MimeType: defaultType, Data: u}}
	}
	return frontend.Part{FileData: &frontend.FileData{MimeType: defaultType, FileURI: u}}
}

// plainText returns a tool message's text (a string or text parts).
func plainText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if s, ok := frontend.StringOf(raw); ok {
		return s, nil
	}
	var ps []contentPart
	if err := json.Unmarshal(raw, &ps); err != nil {
		return "", fmt.Errorf("content: want a string or text parts: %v", err)
	}
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

// ChatSessionKey is the conversation key for stickiness: the client's
// session header, else the user field, else a hash of the system prompt
// and the first user message.
func ChatSessionKey(header string, r *ChatRequest) string {
	if header != "" {
		return "oa:" + header
	}
	if r.User != "" {
		return "oa-user:" + r.User
	}
	var sys, first string
	for _, m := range r.Messages {
		switch m.Role {
		case "system", "developer":
			if sys == "" {
				sys, _ = plainText(m.Content)
			}
		case "user":
			if first == "" {
				first, _ = plainText(m.Content)
			}
		}
	}
	return frontend.HashSession(sys, first)
}
