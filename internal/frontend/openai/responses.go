package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/quotatui/quotatui/internal/frontend"
)

// ResponsesRequest is the part of a Responses API request quotatui reads
// (Codex's shape: instructions, input items, flat function tools).
type ResponsesRequest struct {
	Model           string          `json:"model"`
	Instructions    string          `json:"instructions"`
	Input           json.RawMessage `json:"input"`
	Tools           []RespTool      `json:"tools"`
	ToolChoice      json.RawMessage `json:"tool_choice"`
	Stream          bool            `json:"stream"`
	MaxOutputTokens int             `json:"max_output_tokens"`
	Temperature     *float64        `json:"temperature"`
	TopP            *float64        `json:"top_p"`
	Reasoning       *struct {
		Effort string `json:"effort"`
	} `json:"reasoning"`
	PreviousResponseID string `json:"previous_response_id"`
	User               string `json:"user"`
	PromptCacheKey     string `json:"prompt_cache_key"`
}

// RespTool is a Responses tool; only type "function" is translated.
type RespTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
}

type respItem struct {
	Type      string          `json:"type"`
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	CallID    string          `json:"call_id"`
	Name      string          `json:"name"`
	Arguments string          `json:"arguments"`
	Output    json.RawMessage `json:"output"`
}

// ParseResponses decodes a Responses request.
func ParseResponses(body []byte) (*ResponsesRequest, error) {
	r, err := frontend.Decode(body, readResponses)
	if err != nil {
		return nil, bad("request body is not a Responses request: %v", err)
	}
	if r.Model == "" {
		return nil, bad("you must provide a model parameter")
	}
	if r.PreviousResponseID != "" {
		return nil, bad("previous_response_id is not supported by quotatui (it stores no responses): send the whole input")
	}
	if len(r.Input) == 0 {
		return nil, bad("input: field required")
	}
	return r, nil
}

// TranslateResponses builds the Gemini request for upstream model;
// schemas may be nil.
func TranslateResponses(r *ResponsesRequest, model, session string, schemas *frontend.SchemaCache) (*Translation, error) {
	fam := frontend.FamilyOf(model)
	t := &Translation{ClientModel: r.Model, Model: model, Stream: r.Stream, Names: frontend.NewNames()}
	g := frontend.Request{SessionID: frontend.UpstreamSessionID(session)}

	var chatTools []ChatTool
	for _, tool := range r.Tools {
		var ct ChatTool
		ct.Type = tool.Type
		ct.Function.Name, ct.Function.Description, ct.Function.Parameters = tool.Name, tool.Description, tool.Parameters
		chatTools = append(chatTools, ct)
	}
	decls, err := declarations(chatTools, t.Names, schemas)
	if err != nil {
		return nil, err
	}
	if len(decls) > 0 {
		g.Tools = []frontend.Tool{{FunctionDeclarations: decls}}
		if g.ToolConfig, err = chatToolChoice(r.ToolChoice, t.Names); err != nil {
			return nil, err
		}
	}

	var system []frontend.Part
	if strings.TrimSpace(r.Instructions) != "" {
		system = append(system, frontend.Part{Text: r.Instructions})
	}
	items, err := inputItems(r.Input)
	if err != nil {
		return nil, err
	}
	var contents []frontend.Content
	for i, it := range items {
		typ := it.Type
		if typ == "" && it.Role != "" {
			typ = "message"
		}
		switch typ {
		case "message":
			parts, _, err := t.parts(it.Content, fam)
			if err != nil {
				return nil, bad("input[%d]: %v", i, err)
			}
			switch it.Role {
			case "system", "developer":
				system = append(system, parts...)
			case "assistant":
				contents = append(contents, frontend.Content{Role: "model", Parts: parts})
			default:
				contents = append(contents, frontend.Content{Role: "user", Parts: parts})
			}
		case "function_call":
			// Same model content as the text before it: a separate turn
			// would break "call turn right after a user turn".
			contents = append(contents, frontend.Content{Role: "model", Parts: []frontend.Part{{FunctionCall: &frontend.FunctionCall{
				ID: frontend.SanitizeID(it.CallID), Name: t.Names.Upstream(it.Name), Args: frontend.ArgsObject(jsonString(it.Arguments))}}}})
		case "function_call_output":
			text, err := outputText(it.Output)
			if err != nil {
				return nil, bad("input[%d].output: %v", i, err)
			}
			contents = append(contents, frontend.Content{Role: "user", Parts: []frontend.Part{{FunctionResponse: &frontend.FunctionResponse{
				ID: frontend.SanitizeID(it.CallID), Response: frontend.ResultObject(text, false)}}}})
		case "reasoning":
			// Thoughts need their signature to replay; none travels here.
		default:
			return nil, bad("input[%d].type: %q is not supported (message, function_call, function_call_output, reasoning)", i, typ)
		}
	}
	if len(system) > 0 {
		g.SystemInstruction = &frontend.Content{Role: "user", Parts: system}
	}
	g.Contents = frontend.FixTurns(contents, fam)
	if len(g.Contents) == 0 {
		return nil, bad("input: nothing to send once empty items are left out")
	}
	gc := &frontend.GenerationConfig{Temperature: r.Temperature, TopP: r.TopP}
	budget := 0
	if r.Reasoning != nil && r.Reasoning.Effort != "" && r.Reasoning.Effort != "none" {
		budget = frontend.EffortBudget(r.Reasoning.Effort)
	}
	if budget > 0 && fam == frontend.Claude {
		if open, signed := frontend.OpenToolLoop(g.Contents); open && !signed {
			budget = 0
		}
	}
	tc, maxOut := frontend.Thinking(model, budget, r.MaxOutputTokens)
	gc.ThinkingConfig, gc.MaxOutputTokens = tc, maxOut
	if tc != nil && fam == frontend.Claude {
		gc.Temperature, gc.TopP = nil, nil
	}
	if !gc.Empty() {
		g.GenerationConfig = gc
	}
	if t.Body, err = g.Marshal(); err != nil {
		return nil, fmt.Errorf("encode upstream request: %w", err)
	}
	return t, nil
}

// inputItems reads input: a string (one user message) or a list of items.
func inputItems(raw json.RawMessage) ([]respItem, error) {
	if s, ok := frontend.StringOf(raw); ok {
		c, _ := json.Marshal(s)
		return []respItem{{Type: "message", Role: "user", Content: c}}, nil
	}
	var items []respItem
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, bad("input: want a string or a list of items: %v", err)
	}
	return items, nil
}

// outputText reads a function_call_output's output: a string or parts.
func outputText(raw json.RawMessage) (string, error) {
	return plainText(raw)
}

// ResponsesSessionKey is the conversation key: the session header, then
// prompt_cache_key (Codex sends its conversation id there), then user,
// then a hash of the instructions and the first input.
func ResponsesSessionKey(header string, r *ResponsesRequest) string {
	switch {
	case header != "":
		return "oa:" + header
	case r.PromptCacheKey != "":
		return "oa-cache:" + r.PromptCacheKey
	case r.User != "":
		return "oa-user:" + r.User
	}
	first := ""
	if items, err := inputItems(r.Input); err == nil {
		for _, it := range items {
			if it.Role == "user" {
				first, _ = plainText(it.Content)
				break
			}
		}
	}
	return frontend.HashSession(r.Instructions, first)
}

// RespUsage is the Responses API usage object.
type RespUsage struct {
	InputTokens        int `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int `json:"total_tokens"`
}

func respUsage(u frontend.Usage) RespUsage {
	var r RespUsage
	r.InputTokens = u.PromptTokenCount
	r.InputTokensDetails.CachedTokens = u.CachedContentTokenCount
	r.OutputTokens = u.Output()
	r.OutputTokensDetails.ReasoningTokens = u.ThoughtsTokenCount
	r.TotalTokens = r.InputTokens + r.OutputTokens
	return r
}

// RespItem is an output item: a message or a function call.
type RespItem struct {
	Type      string        `json:"type"`
	ID        string        `json:"id"`
	Status    string        `json:"status"`
	Role      string        `json:"role,omitempty"`
	Content   []RespContent `json:"content,omitzero"`
	CallID    string        `json:"call_id,omitempty"`
	Name      string        `json:"name,omitempty"`
	Arguments *string       `json:"arguments,omitempty"`
}

// RespContent is an output_text part.
type RespContent struct {
	Type        string `json:"type"`
	Text        string `json:"text"`
	Annotations []any  `json:"annotations"`
}

// Response is the Responses API answer object.
type Response struct {
	ID                string     `json:"id"`
	Object            string     `json:"object"`
	CreatedAt         int64      `json:"created_at"`
	Status            string     `json:"status"`
	Model             string     `json:"model"`
	Output            []RespItem `json:"output"`
	IncompleteDetails *struct {
		Reason string `json:"reason"`
	} `json:"incomplete_details"`
	Usage *RespUsage `json:"usage"`
}

// RespStream turns Gemini chunks into Responses events: response.created,
// response.in_progress, per output item output_item.added, its content
// part and text deltas (or function_call_arguments.delta/.done),
// output_item.done, and response.completed with the whole response.
type RespStream struct {
	emit  bool
	names *frontend.Names
	newID func(string) string

	buf     bytes.Buffer
	enc     *json.Encoder // onto buf, made at the first event
	seq     int
	started bool
	done    bool
	resp    Response
	open    bool // a message item is open
	text    bytes.Buffer
	calls   bool
	finish  string
	usage   frontend.Usage
}

// NewRespStream starts a translation; emit false only assembles.
func NewRespStream(clientModel string, names *frontend.Names, emit bool, now time.Time) *RespStream {
	if names == nil {
		names = frontend.NewNames()
	}
	return &RespStream{emit: emit, names: names, newID: frontend.NewID,
		resp: Response{Object: "response", CreatedAt: now.Unix(), Status: "in_progress", Model: clientModel, Output: []RespItem{}}}
}

// SetIDs replaces the id generator (tests make ids predictable).
func (s *RespStream) SetIDs(f func(prefix string) string) { s.newID = f }

// Take returns the events written since the last call.
func (s *RespStream) Take() []byte {
	b := s.buf.Bytes()
	s.buf.Reset()
	return b
}

func (s *RespStream) event(typ string, fields map[string]any) {
	respEvent(s, typ, func(seq int) any {
		fields["type"] = typ
		fields["sequence_number"] = seq
		return fields
	})
}

// The events are written from these structs, whose fields are in the
// order encoding/json wrote the maps they replaced (sorted keys): the same
// bytes without a map and a boxed value per member on every event.
type (
	evResponse[R any] struct {
		Response R      `json:"response"`
		Seq      int    `json:"sequence_number"`
		Type     string `json:"type"`
	}
	evItem struct {
		Item        RespItem `json:"item"`
		OutputIndex int      `json:"output_index"`
		Seq         int      `json:"sequence_number"`
		Type        string   `json:"type"`
	}
	evArgsDelta struct {
		Delta       string `json:"delta"`
		ItemID      string `json:"item_id"`
		OutputIndex int    `json:"output_index"`
		Seq         int    `json:"sequence_number"`
		Type        string `json:"type"`
	}
	evArgsDone struct {
		Arguments   string `json:"arguments"`
		ItemID      string `json:"item_id"`
		OutputIndex int    `json:"output_index"`
		Seq         int    `json:"sequence_number"`
		Type        string `json:"type"`
	}
	evPart struct {
		ContentIndex int         `json:"content_index"`
		ItemID       string      `json:"item_id"`
		OutputIndex  int         `json:"output_index"`
		Part         RespContent `json:"part"`
		Seq          int         `json:"sequence_number"`
		Type         string      `json:"type"`
	}
	evTextDelta struct {
		ContentIndex int    `json:"content_index"`
		Delta        string `json:"delta"`
		ItemID       string `json:"item_id"`
		OutputIndex  int    `json:"output_index"`
		Seq          int    `json:"sequence_number"`
		Type         string `json:"type"`
	}
	evTextDone struct {
		ContentIndex int    `json:"content_index"`
		ItemID       string `json:"item_id"`
		OutputIndex  int    `json:"output_index"`
		Seq          int    `json:"sequence_number"`
		Text         string `json:"text"`
		Type         string `json:"type"`
	}
)

// respEvent writes one event, the value made by ev with the event's
// sequence number, when the stream emits them (a func, so that an answer
// assembled without events builds none).
func respEvent[T any](s *RespStream, typ string, ev func(seq int) T) {
	if !s.emit {
		return
	}
	if s.enc == nil {
		s.enc = json.NewEncoder(&s.buf) // escapes HTML as json.Marshal does
	}
	v := ev(s.seq)
	s.seq++
	s.buf.WriteString("event: ")
	s.buf.WriteString(typ)
	s.buf.WriteString("\ndata: ")
	_ = s.enc.Encode(v) // the data and "\n"
	s.buf.WriteByte('\n')
}

// Chunk adds one Gemini chunk.
func (s *RespStream) Chunk(r *frontend.Response) {
	if s.done {
		return
	}
	if r.UsageMetadata != nil {
		s.usage = *r.UsageMetadata
	}
	if !s.started {
		s.started = true
		s.resp.ID = s.newID("resp_")
		snap := s.resp
		for _, typ := range []string{"response.created", "response.in_progress"} {
			respEvent(s, typ, func(seq int) evResponse[Response] { return evResponse[Response]{Response: snap, Seq: seq, Type: typ} })
		}
	}
	for _, p := range r.Parts() {
		switch {
		case p.FunctionCall != nil:
			s.closeMessage()
			callID := frontend.SanitizeID(p.FunctionCall.ID)
			if callID == "" {
				callID = s.newID("call_")
			}
			args := string(frontend.ArgsObject(p.FunctionCall.Args))
			empty := ""
			item := RespItem{Type: "function_call", ID: s.newID("fc_"), Status: "in_progress", CallID: callID,
				Name: s.names.Client(p.FunctionCall.Name), Arguments: &empty}
			idx := len(s.resp.Output)
			s.itemEvent("response.output_item.added", idx, item)
			respEvent(s, "response.function_call_arguments.delta", func(seq int) evArgsDelta {
				return evArgsDelta{Delta: args, ItemID: item.ID, OutputIndex: idx, Seq: seq, Type: "response.function_call_arguments.delta"}
			})
			respEvent(s, "response.function_call_arguments.done", func(seq int) evArgsDone {
				return evArgsDone{Arguments: args, ItemID: item.ID, OutputIndex: idx, Seq: seq, Type: "response.function_call_arguments.done"}
			})
			item.Arguments, item.Status = &args, "completed"
			s.resp.Output = append(s.resp.Output, item)
			s.itemEvent("response.output_item.done", idx, item)
			s.calls = true
		case p.Thought:
			// Thoughts stay out: no signature could come back with them.
		case p.Text != "":
			if !s.open {
				s.open = true
				s.text.Reset()
				item := RespItem{Type: "message", ID: s.newID("msg_"), Status: "in_progress", Role: "assistant", Content: []RespContent{}}
				s.resp.Output = append(s.resp.Output, item)
				idx := len(s.resp.Output) - 1
				s.itemEvent("response.output_item.added", idx, item)
				s.partEvent("response.content_part.added", item.ID, idx, RespContent{Type: "output_text", Text: "", Annotations: []any{}})
			}
			s.text.WriteString(p.Text)
			idx := len(s.resp.Output) - 1
			respEvent(s, "response.output_text.delta", func(seq int) evTextDelta {
				return evTextDelta{Delta: p.Text, ItemID: s.resp.Output[idx].ID, OutputIndex: idx, Seq: seq, Type: "response.output_text.delta"}
			})
		}
	}
	if fr := r.FinishReason(); fr != "" {
		s.finish = fr
	}
}

func (s *RespStream) closeMessage() {
	if !s.open {
		return
	}
	s.open = false
	idx := len(s.resp.Output) - 1
	item := &s.resp.Output[idx]
	part := RespContent{Type: "output_text", Text: s.text.String(), Annotations: []any{}}
	respEvent(s, "response.output_text.done", func(seq int) evTextDone {
		return evTextDone{ItemID: item.ID, OutputIndex: idx, Seq: seq, Text: part.Text, Type: "response.output_text.done"}
	})
	s.partEvent("response.content_part.done", item.ID, idx, part)
	item.Content = []RespContent{part}
	item.Status = "completed"
	s.itemEvent("response.output_item.done", idx, *item)
}

func (s *RespStream) itemEvent(typ string, idx int, item RespItem) {
	respEvent(s, typ, func(seq int) evItem { return evItem{Item: item, OutputIndex: idx, Seq: seq, Type: typ} })
}

func (s *RespStream) partEvent(typ, itemID string, idx int, part RespContent) {
	respEvent(s, typ, func(seq int) evPart {
		return evPart{ItemID: itemID, OutputIndex: idx, Part: part, Seq: seq, Type: typ}
	})
}

// Finish ends the answer at the end of the upstream body.
func (s *RespStream) Finish() {
	if s.done {
		return
	}
	if !s.started {
		s.Chunk(&frontend.Response{})
	}
	s.closeMessage()
	s.done = true
	u := respUsage(s.usage)
	s.resp.Usage = &u
	s.resp.Status = "completed"
	if frontend.Stop(s.finish, s.calls) == frontend.StopMaxTokens {
		s.resp.Status = "incomplete"
		s.resp.IncompleteDetails = &struct {
			Reason string `json:"reason"`
		}{"max_output_tokens"}
		s.responseEvent("response.incomplete")
		return
	}
	s.responseEvent("response.completed")
}

func (s *RespStream) responseEvent(typ string) {
	respEvent(s, typ, func(seq int) evResponse[*Response] {
		return evResponse[*Response]{Response: &s.resp, Seq: seq, Type: typ}
	})
}

// Fail ends a stream that broke after its first event.
func (s *RespStream) Fail(errType, msg string) {
	if s.done {
		return
	}
	s.done = true
	s.resp.Status = "failed"
	s.event("response.failed", map[string]any{"response": map[string]any{"id": s.resp.ID, "object": "response",
		"status": "failed", "model": s.resp.Model, "output": s.resp.Output, "error": map[string]string{"code": errType, "message": msg}}})
}

// Response returns the assembled answer (after Finish).
func (s *RespStream) Response() *Response { return &s.resp }

// TranslateResponsesResponse turns a whole Gemini answer into a Response.
func TranslateResponsesResponse(r *frontend.Response, clientModel string, names *frontend.Names, now time.Time) *Response {
	s := NewRespStream(clientModel, names, false, now)
	s.Chunk(r)
	s.Finish()
	return s.Response()
}

// Ping writes an SSE comment to keep an idle stream alive.
func (s *RespStream) Ping() {
	if s.emit && s.started && !s.done {
		s.buf.WriteString(": ping\n\n")
	}
}
