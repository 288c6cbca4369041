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
	enc     *json.Encoder // onto buf, made at the first event
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

// The events are written from these structs, whose fields are in the
// order encoding/json wrote the maps they replaced (sorted keys): the same
// bytes without a map and a boxed value per member on every event.
type (
	evType struct {
		Type string `json:"type"`
	}
	evMessageStart struct {
		Message Answer `json:"message"`
		Type    string `json:"type"`
	}
	evBlockStart[B jsonAppender] struct {
		ContentBlock B      `json:"content_block"`
		Index        int    `json:"index"`
		Type         string `json:"type"`
	}
	evBlockDelta[D jsonAppender] struct {
		Delta D      `json:"delta"`
		Index int    `json:"index"`
		Type  string `json:"type"`
	}
	evBlockStop struct {
		Index int    `json:"index"`
		Type  string `json:"type"`
	}
	evMessageDelta struct {
		Delta struct {
			StopReason   string  `json:"stop_reason"`
			StopSequence *string `json:"stop_sequence"`
		} `json:"delta"`
		Type  string `json:"type"`
		Usage Usage  `json:"usage"`
	}
	textBody struct { // a text block's start and its deltas
		Text string `json:"text"`
		Type string `json:"type"`
	}
	thinkingStart struct {
		Signature string `json:"signature"`
		Thinking  string `json:"thinking"`
		Type      string `json:"type"`
	}
	thinkingDelta struct {
		Thinking string `json:"thinking"`
		Type     string `json:"type"`
	}
	signatureDelta struct {
		Signature string `json:"signature"`
		Type      string `json:"type"`
	}
	inputDelta struct {
		PartialJSON string `json:"partial_json"`
		Type        string `json:"type"`
	}
)

// event writes one SSE event when the stream emits them, its data
// written by the event's AppendJSON (encoding/json's bytes, without its
// reflection), or by encoding/json when AppendJSON cannot. Generic so
// that an answer assembled without events (emit false) boxes nothing.
func event[T jsonAppender](s *Stream, name string, v T) {
	if !s.emit {
		return
	}
	s.head(name)
	if b, ok := v.AppendJSON(s.buf.AvailableBuffer()); ok {
		s.buf.Write(b)
		s.buf.WriteByte('\n')
	} else {
		s.encode(v)
	}
	s.buf.WriteByte('\n')
}

func (s *Stream) head(name string) {
	s.buf.WriteString("event: ")
	s.buf.WriteString(name)
	s.buf.WriteString("\ndata: ")
}

// encode writes v's JSON and a newline with encoding/json.
func (s *Stream) encode(v any) {
	if s.enc == nil {
		s.enc = json.NewEncoder(&s.buf) // escapes HTML as json.Marshal does
	}
	_ = s.enc.Encode(v)
}

func blockDelta[D jsonAppender](s *Stream, i int, d D) {
	event(s, "content_block_delta", evBlockDelta[D]{Delta: d, Index: i, Type: "content_block_delta"})
}

func blockStart[B jsonAppender](s *Stream, i int, b B) {
	event(s, "content_block_start", evBlockStart[B]{ContentBlock: b, Index: i, Type: "content_block_start"})
}

// Ping writes a keep-alive event. Claude Code gives up on a stream
// silent for 300 s, and Claude can think longer than that.
func (s *Stream) Ping() {
	if s.started && !s.done {
		event(s, "ping", evType{Type: "ping"})
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
	event(s, "message_start", evMessageStart{Message: start, Type: "message_start"})
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
		blockStart(s, len(s.msg.Content), b)
		blockDelta(s, len(s.msg.Content), inputDelta{PartialJSON: string(args), Type: "input_json_delta"})
		b.Input = args
		s.msg.Content = append(s.msg.Content, b)
		s.open = "tool_use"
		s.calls = true
		s.close()
	case p.Thought:
		if s.open != "thinking" {
			s.close()
			s.msg.Content = append(s.msg.Content, ContentBlock{Type: "thinking", Thinking: new(string), Signature: new(string)})
			blockStart(s, len(s.msg.Content)-1, thinkingStart{Type: "thinking"})
			s.open = "thinking"
		}
		if p.Text != "" {
			b := &s.msg.Content[len(s.msg.Content)-1]
			*b.Thinking += p.Text
			blockDelta(s, len(s.msg.Content)-1, thinkingDelta{Thinking: p.Text, Type: "thinking_delta"})
		}
		if p.ThoughtSignature != "" {
			s.sig = p.ThoughtSignature
		}
	case p.Text != "":
		if s.open != "text" {
			s.close()
			s.msg.Content = append(s.msg.Content, ContentBlock{Type: "text", Text: new(string)})
			blockStart(s, len(s.msg.Content)-1, textBody{Type: "text"})
			s.open = "text"
		}
		b := &s.msg.Content[len(s.msg.Content)-1]
		*b.Text += p.Text
		blockDelta(s, len(s.msg.Content)-1, textBody{Text: p.Text, Type: "text_delta"})
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
			blockDelta(s, i, signatureDelta{Signature: s.sig, Type: "signature_delta"})
		}
		s.sig = ""
	}
	event(s, "content_block_stop", evBlockStop{Index: i, Type: "content_block_stop"})
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
		blockStart(s, 0, textBody{Type: "text"})
		event(s, "content_block_stop", evBlockStop{Index: 0, Type: "content_block_stop"})
	}
	reason := stopReason(frontend.Stop(s.finish, s.calls))
	s.msg.StopReason = &reason
	s.msg.Usage = usageOf(s.usage)
	d := evMessageDelta{Type: "message_delta", Usage: s.msg.Usage}
	d.Delta.StopReason = reason
	event(s, "message_delta", d)
	event(s, "message_stop", evType{Type: "message_stop"})
	s.done = true
}

// Fail ends a stream that broke after its first event: an error event,
// after which the client must not expect more.
func (s *Stream) Fail(errType, msg string) {
	if s.done {
		return
	}
	s.done = true
	if s.emit {
		s.head("error")
		s.encode(ErrorBody(errType, msg))
		s.buf.WriteByte('\n')
	}
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
