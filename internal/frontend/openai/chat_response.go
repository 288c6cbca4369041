package openai

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/quotatui/quotatui/internal/frontend"
)

// ChatUsage is OpenAI's usage object; reasoning tokens are counted inside
// completion_tokens, as OpenAI does.
type ChatUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

func chatUsage(u frontend.Usage) ChatUsage {
	var c ChatUsage
	c.PromptTokens = u.PromptTokenCount
	c.CompletionTokens = u.Output()
	c.TotalTokens = u.PromptTokenCount + c.CompletionTokens
	c.PromptTokensDetails.CachedTokens = u.CachedContentTokenCount
	c.CompletionTokensDetails.ReasoningTokens = u.ThoughtsTokenCount
	return c
}

func finishReason(k frontend.StopKind) string {
	switch k {
	case frontend.StopTools:
		return "tool_calls"
	case frontend.StopMaxTokens:
		return "length"
	case frontend.StopFilter:
		return "content_filter"
	}
	return "stop"
}

// OutCall is a tool call in an answer.
type OutCall struct {
	Index    *int   `json:"index,omitempty"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// ChatMessageOut is the assistant message of a non-streaming answer.
type ChatMessageOut struct {
	Role             string    `json:"role"`
	Content          *string   `json:"content"`
	ReasoningContent string    `json:"reasoning_content,omitempty"`
	ToolCalls        []OutCall `json:"tool_calls,omitempty"`
}

// ChatCompletion is the non-streaming answer.
type ChatCompletion struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index        int            `json:"index"`
		Message      ChatMessageOut `json:"message"`
		FinishReason string         `json:"finish_reason"`
	} `json:"choices"`
	Usage ChatUsage `json:"usage"`
}

// ChatStream turns Gemini chunks into Chat Completions chunks: a first
// chunk with the role, reasoning_content and content deltas, one delta per
// tool call (with its whole arguments), a last chunk with finish_reason,
// the usage chunk when asked for, and "data: [DONE]". It also assembles
// the non-streaming ChatCompletion.
type ChatStream struct {
	emit, usageChunk bool
	id, model        string
	created          int64
	names            *frontend.Names
	newID            func(string) string

	buf      bytes.Buffer
	enc      *json.Encoder // onto buf, made at the first chunk
	started  bool
	done     bool
	text     bytes.Buffer
	thoughts bytes.Buffer
	calls    []OutCall
	finish   string
	usage    frontend.Usage
}

// NewChatStream starts a translation. includeUsage adds the usage chunk
// (stream_options.include_usage); emit false only assembles the answer.
func NewChatStream(clientModel string, names *frontend.Names, emit, includeUsage bool, now time.Time) *ChatStream {
	if names == nil {
		names = frontend.NewNames()
	}
	return &ChatStream{emit: emit, usageChunk: includeUsage, model: clientModel, created: now.Unix(), names: names, newID: frontend.NewID}
}

// SetIDs replaces the id generator (tests make ids predictable).
func (s *ChatStream) SetIDs(f func(prefix string) string) { s.newID = f }

// Take returns the chunks written since the last call.
func (s *ChatStream) Take() []byte {
	b := s.buf.Bytes()
	s.buf.Reset()
	return b
}

// A chunk is written from these structs, whose fields are in the order
// encoding/json wrote the maps they replaced (sorted keys): the same bytes
// without a map and a boxed value per member on every chunk.
type (
	chatChunk[D chatAppender] struct {
		Choices [1]chatChoice[D] `json:"choices"`
		Created int64            `json:"created"`
		ID      string           `json:"id"`
		Model   string           `json:"model"`
		Object  string           `json:"object"`
		Usage   json.RawMessage  `json:"usage,omitempty"` // null when asked for
	}
	chatChoice[D chatAppender] struct {
		Delta        D       `json:"delta"`
		FinishReason *string `json:"finish_reason"`
		Index        int     `json:"index"`
	}
	roleDelta struct {
		Content string `json:"content"`
		Role    string `json:"role"`
	}
	contentDelta struct {
		Content string `json:"content"`
	}
	reasoningDelta struct {
		ReasoningContent string `json:"reasoning_content"`
	}
	callsDelta struct {
		ToolCalls []OutCall `json:"tool_calls"`
	}
	emptyDelta struct{}
)

// chatDelta writes one chunk with delta. Generic so that an answer
// assembled without chunks (emit false) boxes nothing.
func chatDelta[D chatAppender](s *ChatStream, delta D, finish *string) {
	if !s.emit {
		return
	}
	c := chatChunk[D]{Created: s.created, ID: s.id, Model: s.model, Object: "chat.completion.chunk"}
	c.Choices[0] = chatChoice[D]{Delta: delta, FinishReason: finish}
	if s.usageChunk {
		c.Usage = json.RawMessage("null")
	}
	s.buf.WriteString("data: ")
	s.buf.Write(c.AppendJSON(s.buf.AvailableBuffer()))
	s.buf.WriteString("\n\n")
}

func (s *ChatStream) write(v any) {
	if s.enc == nil {
		s.enc = json.NewEncoder(&s.buf) // escapes HTML as json.Marshal does
	}
	s.buf.WriteString("data: ")
	_ = s.enc.Encode(v) // the data and "\n"
	s.buf.WriteByte('\n')
}

// Chunk adds one Gemini chunk.
func (s *ChatStream) Chunk(r *frontend.Response) {
	if s.done {
		return
	}
	if r.UsageMetadata != nil {
		s.usage = *r.UsageMetadata
	}
	if !s.started {
		s.started = true
		s.id = s.newID("chatcmpl-")
		chatDelta(s, roleDelta{Role: "assistant"}, nil)
	}
	for _, p := range r.Parts() {
		switch {
		case p.FunctionCall != nil:
			id := frontend.SanitizeID(p.FunctionCall.ID)
			if id == "" {
				id = s.newID("call_")
			}
			i := len(s.calls)
			var c OutCall
			c.ID, c.Type = id, "function"
			c.Function.Name = s.names.Client(p.FunctionCall.Name)
			c.Function.Arguments = string(frontend.ArgsObject(p.FunctionCall.Args))
			s.calls = append(s.calls, c)
			c.Index = &i
			chatDelta(s, callsDelta{ToolCalls: []OutCall{c}}, nil)
		case p.Thought:
			if p.Text != "" {
				s.thoughts.WriteString(p.Text)
				chatDelta(s, reasoningDelta{ReasoningContent: p.Text}, nil)
			}
		case p.Text != "":
			s.text.WriteString(p.Text)
			chatDelta(s, contentDelta{Content: p.Text}, nil)
		}
	}
	if fr := r.FinishReason(); fr != "" {
		s.finish = fr
	}
}

// Finish ends the answer at the end of the upstream body.
func (s *ChatStream) Finish() {
	if s.done {
		return
	}
	if !s.started {
		s.Chunk(&frontend.Response{})
	}
	s.done = true
	fr := finishReason(frontend.Stop(s.finish, len(s.calls) > 0))
	chatDelta(s, emptyDelta{}, &fr)
	if s.emit && s.usageChunk {
		s.write(map[string]any{"id": s.id, "object": "chat.completion.chunk", "created": s.created, "model": s.model,
			"choices": []any{}, "usage": chatUsage(s.usage)})
	}
	if s.emit {
		s.buf.WriteString("data: [DONE]\n\n")
	}
}

// Fail ends a stream that broke after its first chunk: an error chunk
// (the openai SDK raises on it) and no [DONE], which would make the
// stream look complete to a client that skips the error (issue 11.7).
func (s *ChatStream) Fail(errType, msg string) {
	if s.done {
		return
	}
	s.done = true
	if s.emit {
		s.write(ErrorBody(errType, msg, ""))
	}
}

// Completion returns the assembled answer (after Finish).
func (s *ChatStream) Completion() *ChatCompletion {
	c := &ChatCompletion{ID: s.id, Object: "chat.completion", Created: s.created, Model: s.model, Usage: chatUsage(s.usage)}
	c.Choices = make([]struct {
		Index        int            `json:"index"`
		Message      ChatMessageOut `json:"message"`
		FinishReason string         `json:"finish_reason"`
	}, 1)
	m := &c.Choices[0].Message
	m.Role = "assistant"
	if s.text.Len() > 0 || len(s.calls) == 0 {
		t := s.text.String()
		m.Content = &t
	}
	m.ReasoningContent = s.thoughts.String()
	m.ToolCalls = s.calls
	c.Choices[0].FinishReason = finishReason(frontend.Stop(s.finish, len(s.calls) > 0))
	return c
}

// TranslateChatResponse turns a whole Gemini answer into a ChatCompletion.
func TranslateChatResponse(r *frontend.Response, clientModel string, names *frontend.Names, now time.Time) *ChatCompletion {
	s := NewChatStream(clientModel, names, false, false, now)
	s.Chunk(r)
	s.Finish()
	return s.Completion()
}

// Ping writes an SSE comment, which clients skip, to keep an idle stream
// alive through proxies and client timeouts.
func (s *ChatStream) Ping() {
	if s.emit && s.started && !s.done {
		s.buf.WriteString(": ping\n\n")
	}
}
