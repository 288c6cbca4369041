// Package anthropic translates Anthropic Messages API requests (as Claude
// Code and @anthropic-ai/sdk send them) into Gemini requests for
// v1internal, and Gemini answers back into Messages responses and their
// exact server-sent event sequence.
package anthropic

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/quotatui/quotatui/internal/frontend"
)

// Request is the part of a Messages request quotatui reads. Everything
// else (cache_control, context_management, service_tier, ...) is
// ignored by construction: the upstream body is built from these fields.
type Request struct {
	Model         string          `json:"model"`
	Messages      []Message       `json:"messages"`
	System        json.RawMessage `json:"system"`
	MaxTokens     int             `json:"max_tokens"`
	Temperature   *float64        `json:"temperature"`
	TopP          *float64        `json:"top_p"`
	TopK          *int            `json:"top_k"`
	StopSequences []string        `json:"stop_sequences"`
	Stream        bool            `json:"stream"`
	Thinking      *struct {
		Type         string `json:"type"`
		BudgetTokens int    `json:"budget_tokens"`
	} `json:"thinking"`
	OutputConfig *struct {
		Effort string `json:"effort"`
	} `json:"output_config"`
	Tools      []Tool `json:"tools"`
	ToolChoice *struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"tool_choice"`
	Metadata *struct {
		UserID string `json:"user_id"`
	} `json:"metadata"`
}

// Message is one turn; Content is a string or a list of blocks.
type Message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// Block is a content block of any type.
type Block struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	Thinking  string          `json:"thinking"`
	Signature string          `json:"signature"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	IsError   bool            `json:"is_error"`
	ToolName  string          `json:"tool_name"`
	Source    *struct {
		Type      string `json:"type"`
		MediaType string `json:"media_type"`
		Data      string `json:"data"`
		URL       string `json:"url"`
	} `json:"source"`
}

// Tool is a tool declaration; typed server tools carry Type.
type Tool struct {
	Type         string          `json:"type"`
	Name         string          `json:"name"`
	Description  string          `json:"description"`
	InputSchema  json.RawMessage `json:"input_schema"`
	DeferLoading bool            `json:"defer_loading"`
}

// Translation is a Messages request made ready for v1internal.
type Translation struct {
	Body        []byte // the Gemini request, JSON
	ClientModel string // what the client asked for, echoed in answers
	Model       string // upstream id
	Stream      bool
	Names       *frontend.Names // tool names, to restore in answers
	Thinking    bool            // thinking was asked and sent
}

// RequestError is a client request quotatui cannot translate; the
// proxy answers 400 invalid_request_error with its text.
type RequestError struct{ Msg string }

// Error returns the message.
func (e *RequestError) Error() string { return e.Msg }

func bad(format string, args ...any) error { return &RequestError{fmt.Sprintf(format, args...)} }

// maxDeclarations is Google's limit on function declarations.
const maxDeclarations = 512

// Parse decodes a Messages request and checks what the translation needs.
func Parse(body []byte) (*Request, error) {
	r, err := frontend.Decode(body, readRequest)
	if err != nil {
		return nil, bad("request body is not a Messages request: %v", err)
	}
	if r.Model == "" {
		return nil, bad("model: field required")
	}
	if len(r.Messages) == 0 {
		return nil, bad("messages: at least one message is required")
	}
	return r, nil
}

// Translate builds the Gemini request for upstream model from r. session
// is the conversation key (sessionId upstream); schemas may be nil. It
// is deterministic.
func Translate(r *Request, model, session string, schemas *frontend.SchemaCache) (*Translation, error) {
	fam := frontend.FamilyOf(model)
	t := &Translation{ClientModel: r.Model, Model: model, Stream: r.Stream, Names: frontend.NewNames()}
	g := frontend.Request{SessionID: frontend.UpstreamSessionID(session)}

	sys, err := systemParts(r.System)
	if err != nil {
		return nil, err
	}
	if len(sys) > 0 {
		g.SystemInstruction = &frontend.Content{Role: "user", Parts: sys}
	}

	// Declarations first, so history names map the same way.
	var decls []frontend.FunctionDeclaration
	seen := map[string]bool{}
	for i, tool := range r.Tools {
		if (tool.Type != "" && tool.Type != "custom") || tool.Name == "" || tool.Name == "DeferredToolPlaceholder" {
			continue // server tools (web_search, bash_*, ...) and tool-search placeholders
		}
		name := t.Names.Upstream(tool.Name)
		if seen[name] {
			continue
		}
		seen[name] = true
		params, err := schemas.Clean(tool.InputSchema)
		if err != nil {
			return nil, bad("tools.%d.input_schema: %v", i, err)
		}
		decls = append(decls, frontend.FunctionDeclaration{Name: name, Description: tool.Description, Parameters: params})
	}
	if len(decls) > maxDeclarations {
		decls = decls[:maxDeclarations]
	}
	if len(decls) > 0 {
		g.Tools = []frontend.Tool{{FunctionDeclarations: decls}}
		if tc := toolChoice(r, t.Names); tc != nil {
			g.ToolConfig = tc
		}
	}

	var contents []frontend.Content
	for i, m := range r.Messages {
		c, err := t.content(m, fam)
		if err != nil {
			return nil, bad("messages.%d: %v", i, err)
		}
		contents = append(contents, c)
	}
	g.Contents = frontend.FixTurns(contents, fam)
	if len(g.Contents) == 0 {
		return nil, bad("messages: nothing to send once empty blocks are left out")
	}

	gc := &frontend.GenerationConfig{Temperature: r.Temperature, TopP: r.TopP, TopK: r.TopK, StopSequences: r.StopSequences}
	budget := 0
	if r.Thinking != nil {
		switch r.Thinking.Type {
		case "enabled":
			budget = r.Thinking.BudgetTokens
		case "adaptive":
			effort := ""
			if r.OutputConfig != nil {
				effort = r.OutputConfig.Effort
			}
			budget = frontend.EffortBudget(effort)
		}
	}
	if budget > 0 && fam == frontend.Claude {
		// Claude refuses an open tool loop whose call turn does not start
		// with a signed thought: think next time instead of failing now.
		if open, signed := frontend.OpenToolLoop(g.Contents); open && !signed {
			budget = 0
		}
	}
	tc, maxOut := frontend.Thinking(model, budget, r.MaxTokens)
	gc.ThinkingConfig, gc.MaxOutputTokens = tc, maxOut
	t.Thinking = tc != nil
	if t.Thinking && fam == frontend.Claude {
		// Sampling settings are not allowed with thinking on Claude.
		gc.Temperature, gc.TopP, gc.TopK = nil, nil, nil
	}
	if !gc.Empty() {
		g.GenerationConfig = gc
	}
	t.Body, err = g.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encode upstream request: %w", err)
	}
	return t, nil
}

// systemParts turns system (a string or text blocks) into parts, leaving
// out Claude Code's billing header and empty blocks.
func systemParts(raw json.RawMessage) ([]frontend.Part, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if s, ok := frontend.StringOf(raw); ok {
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		return []frontend.Part{{Text: s}}, nil
	}
	blocks, err := decodeBlocks(raw)
	if err != nil {
		return nil, bad("system: want a string or a list of text blocks: %v", err)
	}
	var parts []frontend.Part
	for _, b := range blocks {
		if b.Type != "text" || strings.TrimSpace(b.Text) == "" || frontend.BillingHeader(b.Text) {
			continue
		}
		parts = append(parts, frontend.Part{Text: b.Text})
	}
	return parts, nil
}

// blocks decodes a message's content: a string is one text block.
func blocks(raw json.RawMessage) ([]Block, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if s, ok := frontend.StringOf(raw); ok {
		return []Block{{Type: "text", Text: s}}, nil
	}
	bs, err := decodeBlocks(raw)
	if err != nil {
		return nil, fmt.Errorf("content: want a string or a list of blocks: %v", err)
	}
	return bs, nil
}

// content translates one message.
func (t *Translation) content(m Message, fam frontend.Family) (frontend.Content, error) {
	bs, err := blocks(m.Content)
	if err != nil {
		return frontend.Content{}, err
	}
	var c frontend.Content
	switch m.Role {
	case "user":
		c.Role = "user"
	case "assistant":
		c.Role = "model"
	case "system":
		// Claude Code sends mid-conversation notes as role "system".
		c.Role = "user"
		for _, b := range bs {
			if b.Type == "text" && strings.TrimSpace(b.Text) != "" {
				c.Parts = append(c.Parts, frontend.Part{Text: "<system-reminder>" + b.Text + "</system-reminder>"})
			}
		}
		return c, nil
	default:
		return c, fmt.Errorf("role %q: want user or assistant", m.Role)
	}
	for i, b := range bs {
		p, ok, err := t.part(b, c.Role, fam)
		if err != nil {
			return c, fmt.Errorf("content.%d: %v", i, err)
		}
		if ok {
			c.Parts = append(c.Parts, p)
		}
	}
	return c, nil
}

// part translates one block; ok is false for blocks that are left out.
func (t *Translation) part(b Block, role string, fam frontend.Family) (frontend.Part, bool, error) {
	switch b.Type {
	case "text":
		return frontend.Part{Text: b.Text}, true, nil
	case "image", "document":
		return mediaPart(b)
	case "thinking":
		// Only a Claude-issued signature replays, and only to Claude: a
		// missing or foreign one is a 400 there, and Gemini does not
		// need old thoughts.
		if role != "model" || fam != frontend.Claude || b.Signature == "" || b.Thinking == "" || !claudeSignature(b.Signature) {
			return frontend.Part{}, false, nil
		}
		return frontend.Part{Text: b.Thinking, Thought: true, ThoughtSignature: b.Signature}, true, nil
	case "tool_use":
		if b.Name == "" {
			return frontend.Part{}, false, fmt.Errorf("tool_use without a name")
		}
		return frontend.Part{FunctionCall: &frontend.FunctionCall{ID: frontend.SanitizeID(b.ID), Name: t.Names.Upstream(b.Name), Args: frontend.ArgsObject(b.Input)}}, true, nil
	case "tool_result":
		fr, err := t.toolResult(b)
		if err != nil {
			return frontend.Part{}, false, err
		}
		return frontend.Part{FunctionResponse: fr}, true, nil
	}
	// redacted_thinking, server_tool_use, web_search_tool_result, ...
	return frontend.Part{}, false, nil
}

// claudeSignature tells a Claude signature from a Gemini one or the
// sentinel, which Claude refuses.
func claudeSignature(sig string) bool {
	return sig != frontend.SkipSignature && len(sig) >= 16
}

func mediaPart(b Block) (frontend.Part, bool, error) {
	if b.Source == nil {
		return frontend.Part{}, false, fmt.Errorf("%s block without a source", b.Type)
	}
	switch b.Source.Type {
	case "base64":
		if b.Source.MediaType == "" || b.Source.Data == "" {
			return frontend.Part{}, false, fmt.Errorf("%s block: source needs media_type and data", b.Type)
		}
		return frontend.Part{InlineData: &frontend.Blob{MimeType: b.Source.MediaType, Data: b.Source.Data}}, true, nil
	case "url":
		return frontend.Part{FileData: &frontend.FileData{MimeType: b.Source.MediaType, FileURI: b.Source.URL}}, true, nil
	case "text":
		return frontend.Part{Text: b.Source.Data}, true, nil
	}
	return frontend.Part{}, false, nil
}

// toolResult translates a tool_result; the name is filled in by
// FixTurns from the call it answers.
func (t *Translation) toolResult(b Block) (*frontend.FunctionResponse, error) {
	fr := &frontend.FunctionResponse{ID: frontend.SanitizeID(b.ToolUseID)}
	var text []string
	if len(b.Content) > 0 && string(b.Content) != "null" {
		if s, ok := frontend.StringOf(b.Content); ok {
			text = append(text, s)
		} else {
			inner, err := decodeBlocks(b.Content)
			if err != nil {
				return nil, fmt.Errorf("tool_result content: want a string or blocks: %v", err)
			}
			for _, ib := range inner {
				switch ib.Type {
				case "text":
					text = append(text, ib.Text)
				case "image", "document":
					if p, ok, err := mediaPart(ib); err == nil && ok {
						fr.Parts = append(fr.Parts, p)
					}
				case "tool_reference":
					// Tool search results have no upstream equivalent.
					text = append(text, "Tool available: "+ib.ToolName)
				}
			}
		}
	}
	fr.Response = frontend.ResultObject(strings.Join(text, "\n"), b.IsError)
	return fr, nil
}

// toolChoice maps tool_choice to the function calling mode.
func toolChoice(r *Request, names *frontend.Names) *frontend.ToolConfig {
	if r.ToolChoice == nil {
		return nil
	}
	fc := &frontend.FunctionCallingConfig{}
	switch r.ToolChoice.Type {
	case "auto":
		fc.Mode = "AUTO"
	case "any":
		fc.Mode = "ANY"
	case "none":
		fc.Mode = "NONE"
	case "tool":
		fc.Mode = "ANY"
		fc.AllowedFunctionNames = []string{names.Upstream(r.ToolChoice.Name)}
	default:
		return nil
	}
	return &frontend.ToolConfig{FunctionCallingConfig: fc}
}

var legacySession = regexp.MustCompile(`_session_([a-f0-9-]+)$`)

// SessionKey finds the conversation key (brief §8.2): the
// X-Claude-Code-Session-Id header, else session_id in metadata.user_id
// (JSON since Claude Code 2.1.78), else its legacy "_session_<uuid>"
// suffix, else a hash of the first user text that is not a reminder.
func SessionKey(header string, r *Request) string {
	if header != "" {
		return "cc:" + header
	}
	if r.Metadata != nil && r.Metadata.UserID != "" {
		var uid struct {
			SessionID string `json:"session_id"`
		}
		if json.Unmarshal([]byte(r.Metadata.UserID), &uid) == nil && uid.SessionID != "" {
			return "cc:" + uid.SessionID
		}
		if m := legacySession.FindStringSubmatch(r.Metadata.UserID); m != nil {
			return "cc:" + m[1]
		}
	}
	for _, m := range r.Messages {
		if m.Role != "user" {
			continue
		}
		bs, err := blocks(m.Content)
		if err != nil {
			return ""
		}
		for _, b := range bs {
			if b.Type == "text" && !frontend.IsReminder(b.Text) && strings.TrimSpace(b.Text) != "" {
				return frontend.HashSession(b.Text)
			}
		}
	}
	return ""
}
