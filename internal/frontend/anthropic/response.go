package anthropic

import (
	"bytes"
	"encoding/json"

	"github.com/quotatui/quotatui/internal/frontend"
)

// Usage is Anthropic's usage object.
type Usage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
}

func usageOf(u frontend.Usage) Usage {
	return Usage{InputTokens: u.Input(), OutputTokens: u.Output(), CacheReadInputTokens: u.CachedContentTokenCount}
}

// ContentBlock is an answer block: thinking, text or tool_use.
type ContentBlock struct {
	Type      string          `json:"type"`
	Thinking  *string         `json:"thinking,omitempty"`
	Signature *string         `json:"signature,omitempty"`
	Text      *string         `json:"text,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
}

// Answer is the non-streaming answer (a Messages API message).
type Answer struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"`
	Role         string         `json:"role"`
	Model        string         `json:"model"`
	Content      []ContentBlock `json:"content"`
	StopReason   *string        `json:"stop_reason"`
	StopSequence *string        `json:"stop_sequence"`
	Usage        Usage          `json:"usage"`
}

func stopReason(k frontend.StopKind) string {
	switch k {
	case frontend.StopTools:
		return "tool_use"
	case frontend.StopMaxTokens:
		return "max_tokens"
	case frontend.StopFilter:
		return "refusal"
	}
	return "end_turn"
}

// Stream turns Gemini answer chunks into the Messages event sequence:
// message_start, then per block content_block_start, its deltas and
// content_block_stop (one block open at a time, dense indexes), then
// message_delta with the stop reason and usage, and message_stop. It also
// assembles the whole Answer, which is the non-streaming answer.
// Events accumulate in a buffer the caller drains with Take.
type Stream struct {
	emit  bool
	model string
	names *frontend.Names
	newID func(string) string

	buf     bytes.Buffer
	started bool
	done    bool
	msg     Answer
	open    string // kind of the open block: "", "thinking", "text", "tool_use"
	sig     string // signature waiting for the open thinking block's end
	calls   bool
	finish  string
	usage   frontend.Usage
}

// NewStream starts a translation for the client's model name. With emit
// false it only assembles the Answer (the non-streaming answer).
func NewStream(clientModel string, names *frontend.Names, emit bool) *Stream {
	if names == nil {
		names = frontend.NewNames()
	}
	return &Stream{emit: emit, model: clientModel, names: names, newID: frontend.NewID}
}

// SetIDs replaces the id generator (tests make ids predictable).
func (s *Stream) SetIDs(f func(prefix string) string) { s.newID = f }

// Take returns the events written since the last call and empties the
// buffer; the slice is valid until the next call.
func (s *Stream) Take() []byte {
	b := s.buf.Bytes()
	s.buf.Reset()
	return b
}

func (s *Stream) event(name string, v any) {
	if !s.emit {
		return
	}
	s.buf.WriteString("event: ")
	s.buf.WriteString(name)
	s.buf.WriteString("\ndata: ")
	b, _ := json.Marshal(v)
	s.buf.Write(b)
	s.buf.WriteString("\n\n")
}

// Ping writes a keep-alive event. Claude Code gives up on a stream
// silent for 300 s, and Claude can think longer than that.
func (s *Stream) Ping() {
	if s.started && !s.done {
		s.event("ping", map[string]string{"type": "ping"})
	}
}

// Chunk adds one Gemini answer chunk.
func (s *Stream) Chunk(r *frontend.Response) {
	if s.done {
		return
	}
	if r.UsageMetadata != nil {
		s.usage = *r.UsageMetadata
	}
	if !s.started {
		s.start(r)
	}
	for _, p := range r.Parts() {
		s.part(p)
	}
	if fr := r.FinishReason(); fr != "" {
		s.finish = fr // finalised at the end of the body, after the usage chunk
	}
}

func (s *Stream) start(r *frontend.Response) {
	s.started = true
	id := r.ResponseID
	if id == "" || !bytes.HasPrefix([]byte(id), []byte("msg_")) {
		id = s.newID("msg_")
	}
	s.msg = Answer{ID: frontend.SanitizeID(id), Type: "message", Role: "assistant", Model: s.model, Content: []ContentBlock{}}
	u := usageOf(s.usage)
	u.OutputTokens = 0
	start := s.msg
	start.Usage = u
	s.event("message_start", map[string]any{"type": "message_start", "message": start})
}

func (s *Stream) part(p frontend.Part) {
	switch {
	case p.FunctionCall != nil:
		s.close()
		id := frontend.SanitizeID(p.FunctionCall.ID)
		if id == "" {
			id = s.newID("toolu_")
		}
		args := frontend.ArgsObject(p.FunctionCall.Args)
		b := ContentBlock{Type: "tool_use", ID: id, Name: s.names.Client(p.FunctionCall.Name), Input: json.RawMessage(`{}`)}
		s.event("content_block_start", map[string]any{"type": "content_block_start", "index": len(s.msg.Content), "content_block": b})
		s.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": len(s.msg.Content),
			"delta": map[string]string{"type": "input_json_delta", "partial_json": string(args)}})
		b.Input = args
		s.msg.Content = append(s.msg.Content, b)
		s.open = "tool_use"
		s.calls = true
		s.close()
	case p.Thought:
		if s.open != "thinking" {
			s.close()
			empty := ""
			s.msg.Content = append(s.msg.Content, ContentBlock{Type: "thinking", Thinking: new(string), Signature: new(string)})
			s.event("content_block_start", map[string]any{"type": "content_block_start", "index": len(s.msg.Content) - 1,
				"content_block": map[string]string{"type": "thinking", "thinking": empty, "signature": empty}})
			s.open = "thinking"
		}
		if p.Text != "" {
			b := &s.msg.Content[len(s.msg.Content)-1]
			*b.Thinking += p.Text
			s.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": len(s.msg.Content) - 1,
				"delta": map[string]string{"type": "thinking_delta", "thinking": p.Text}})
		}
		if p.ThoughtSignature != "" {
			s.sig = p.ThoughtSignature
		}
	case p.Text != "":
		if s.open != "text" {
			s.close()
			s.msg.Content = append(s.msg.Content, ContentBlock{Type: "text", Text: new(string)})
			s.event("content_block_start", map[string]any{"type": "content_block_start", "index": len(s.msg.Content) - 1,
				"content_block": map[string]string{"type": "text", "text": ""}})
			s.open = "text"
		}
		b := &s.msg.Content[len(s.msg.Content)-1]
		*b.Text += p.Text
		s.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": len(s.msg.Content) - 1,
			"delta": map[string]string{"type": "text_delta", "text": p.Text}})
	case p.ThoughtSignature != "" && s.open == "thinking":
		// The signature often arrives on an empty part after the thought.
		s.sig = p.ThoughtSignature
	}
	// Gemini's text and call signatures have no carrier here: the request
	// side sends the sentinel for Gemini calls instead (see ARCHITECTURE).
}

// close ends the open block; a thinking block gets its signature delta
// right before its stop.
func (s *Stream) close() {
	if s.open == "" {
		return
	}
	i := len(s.msg.Content) - 1
	if s.open == "thinking" {
		if s.sig != "" {
			*s.msg.Content[i].Signature = s.sig
			s.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": i,
				"delta": map[string]string{"type": "signature_delta", "signature": s.sig}})
		}
		s.sig = ""
	}
	s.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": i})
	s.open = ""
}

// Finish ends the answer at the end of the upstream body: it closes the
// open block (an empty text block when there was none, so the message is
// valid), then writes message_delta and message_stop.
func (s *Stream) Finish() {
	if s.done {
		return
	}
	if !s.started {
		s.start(&frontend.Response{})
	}
	s.close()
	if len(s.msg.Content) == 0 {
		s.msg.Content = append(s.msg.Content, ContentBlock{Type: "text", Text: new(string)})
		s.event("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
			"content_block": map[string]string{"type": "text", "text": ""}})
		s.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
	}
	reason := stopReason(frontend.Stop(s.finish, s.calls))
	s.msg.StopReason = &reason
	s.msg.Usage = usageOf(s.usage)
	s.event("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": reason, "stop_sequence": nil}, "usage": s.msg.Usage})
	s.event("message_stop", map[string]string{"type": "message_stop"})
	s.done = true
}

// Fail ends a stream that broke after its first event: an error event,
// after which the client must not expect more.
func (s *Stream) Fail(errType, msg string) {
	if s.done {
		return
	}
	s.done = true
	s.event("error", ErrorBody(errType, msg))
}

// Answer returns the assembled answer (after Finish).
func (s *Stream) Answer() *Answer { return &s.msg }

// TranslateResponse turns a whole (non-streaming) Gemini answer into an
// Answer.
func TranslateResponse(r *frontend.Response, clientModel string, names *frontend.Names) *Answer {
	s := NewStream(clientModel, names, false)
	s.Chunk(r)
	s.Finish()
	return s.Answer()
}
