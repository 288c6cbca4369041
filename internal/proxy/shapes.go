package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/frontend"
	"github.com/quotatui/quotatui/internal/frontend/anthropic"
	"github.com/quotatui/quotatui/internal/frontend/openai"
)

// The AnswerWriters of the translated routes: Anthropic Messages and
// OpenAI's two APIs write the upstream's Gemini answers, and the proxy's
// own errors, in their client's shape. (Google's shapes are googleWriter,
// answer.go.)

// shape is the API a request speaks, and so the shape of its answers and
// errors.
type shape uint8

const (
	shapeGoogle shape = iota
	shapeAnthropic
	shapeOpenAI
)

// clientShape tells the API a request speaks from its path and, on the
// paths the Gemini API shares (GET /v1/models...), its headers: the
// Google SDKs send x-goog-api-key or x-goog-api-client (or ?key=), the
// Anthropic SDK and Claude Code anthropic-version; anything else is
// taken for an OpenAI client.
func clientShape(r *http.Request) shape {
	p := r.URL.Path
	switch {
	case p == "/v1/messages" || strings.HasPrefix(p, "/v1/messages/") || strings.HasPrefix(p, "/api/"):
		return shapeAnthropic
	case p == "/v1/chat/completions" || p == "/chat/completions" || p == "/v1/responses" || p == "/responses":
		return shapeOpenAI
	case p == "/v1/models" || strings.HasPrefix(p, "/v1/models/"):
		if r.Method != http.MethodGet {
			return shapeGoogle // POST /v1/models/{model}:generateContent
		}
		if r.Header.Get("x-goog-api-key") != "" || r.Header.Get("x-goog-api-client") != "" || r.URL.Query().Has("key") {
			return shapeGoogle
		}
		if r.Header.Get("anthropic-version") != "" {
			return shapeAnthropic
		}
		return shapeOpenAI
	}
	return shapeGoogle
}

// errorWriter returns the writer of sh's errors, for refusals made before
// a call exists (the guard, the API key, admit, a bad request).
func errorWriter(sh shape) AnswerWriter {
	if sh == shapeGoogle {
		return googleErrors
	}
	return &translated{shape: sh}
}

// errorsFor returns the error writer for r's API.
func errorsFor(r *http.Request) AnswerWriter { return errorWriter(clientShape(r)) }

// answerStream is a translator of a streamed answer: it turns Gemini
// chunks into its API's events, which Take drains.
type answerStream interface {
	Chunk(*frontend.Response)
	Finish()
	Fail(errType, msg string)
	Ping()
	Take() []byte
}

// errUnusableEvent is a stream event after the first that is not a Gemini
// answer chunk: the loop ends the stream as broken.
var errUnusableEvent = errors.New("an upstream stream event is not an answer chunk")

// translated is the AnswerWriter of a translated route. A non-streaming
// answer is translated whole; a stream event by event, with the
// translator's keep-alive every ping while it is open. Either way the
// loop has the first answer checked by Accept before anything is
// written, so an unusable one still moves to another account. With
// neither stream nor whole it writes errors only.
type translated struct {
	shape  shape
	stream answerStream                 // a streamed answer's translator
	whole  func(*frontend.Response) any // a non-streaming answer's
	ping   time.Duration
	// first is the answer Accept parsed, written by WriteAnswer or the
	// first WriteEvent without parsing it again.
	first *frontend.Response
}

// Accept parses the answer (a whole one, or a stream's first event): it
// must be a Gemini response, and a whole one must carry candidates, usage
// or prompt feedback (an empty object is not an answer).
func (t *translated) Accept(data []byte) bool {
	g, err := frontend.ParseResponse(data)
	if err != nil || t.stream == nil && len(g.Candidates) == 0 && g.UsageMetadata == nil && g.PromptFeedback == nil {
		return false
	}
	t.first = g
	return true
}

// parsed returns the answer in data, reusing what Accept parsed.
func (t *translated) parsed(data []byte) (*frontend.Response, error) {
	if g := t.first; g != nil {
		t.first = nil
		return g, nil
	}
	g, err := frontend.ParseResponse(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUnusableEvent, err)
	}
	return g, nil
}

// WriteAnswer writes the whole answer in the client's shape.
func (t *translated) WriteAnswer(w http.ResponseWriter, body []byte) error {
	if t.whole == nil {
		return errors.New("proxy: this route writes no answer") // a wiring mistake
	}
	g, err := t.parsed(body)
	if err != nil {
		return err
	}
	// Encoded into a pooled buffer (json.Marshal's bytes and the newline),
	// before anything is written, so that a failure is still an error.
	buf := answerBufs.Get().(*bytes.Buffer)
	defer putAnswerBuf(buf)
	if err := encodeAnswer(buf, t.whole(g)); err != nil {
		return fmt.Errorf("encode the answer: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(buf.Bytes())
	return err
}

// jsonAppender is an answer that writes its own JSON (json.Marshal's
// bytes, without its reflection), or says it cannot (ok false).
type jsonAppender interface {
	AppendJSON(b []byte) (_ []byte, ok bool)
}

// encodeAnswer writes v's JSON and a newline to buf.
func encodeAnswer(buf *bytes.Buffer, v any) error {
	if a, ok := v.(jsonAppender); ok {
		if b, ok := a.AppendJSON(buf.AvailableBuffer()); ok {
			buf.Write(b)
			buf.WriteByte('\n')
			return nil
		}
	}
	return json.NewEncoder(buf).Encode(v)
}

// answerBufs hold translated answers while they are written: a
// ResponseWriter does not keep what it is given.
var answerBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledAnswer bounds what goes back to answerBufs, so that one huge
// answer does not stay in memory.
const maxPooledAnswer = 256 << 10

func putAnswerBuf(b *bytes.Buffer) {
	if b.Cap() > maxPooledAnswer {
		return
	}
	b.Reset()
	answerBufs.Put(b)
}

// StartStream writes an SSE stream's headers.
func (t *translated) StartStream(w http.ResponseWriter) error { return startSSE(w) }

// WriteEvent translates one upstream chunk and sends what it gives.
func (t *translated) WriteEvent(w http.ResponseWriter, data []byte) error {
	g, err := t.parsed(data)
	if err != nil {
		return err
	}
	t.stream.Chunk(g)
	return t.flush(w)
}

// EndStream ends the answer at the end of the upstream body (not at its
// finishReason: the usage can come after it).
func (t *translated) EndStream(w http.ResponseWriter) error {
	t.stream.Finish()
	return t.flush(w)
}

// BreakStream sends the API's error event: Anthropic's error, an error
// chunk for Chat Completions, response.failed for Responses. A stall is
// "overloaded" (clients retry it), a cut an API error.
func (t *translated) BreakStream(w http.ResponseWriter, e *ClientError) {
	typ := "api_error"
	if e.Status == http.StatusGatewayTimeout {
		typ = "overloaded_error"
	}
	t.stream.Fail(typ, e.Message)
	_ = t.flush(w)
}

// PingInterval is how often the loop calls Ping on an open stream.
func (t *translated) PingInterval() time.Duration {
	if t.stream == nil {
		return 0
	}
	return t.ping
}

// Ping sends the translator's keep-alive (Anthropic's ping event, an SSE
// comment for OpenAI's APIs).
func (t *translated) Ping(w http.ResponseWriter) error {
	t.stream.Ping()
	return t.flush(w)
}

func (t *translated) flush(w http.ResponseWriter) error {
	b := t.stream.Take()
	if len(b) == 0 {
		return nil
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	return http.NewResponseController(w).Flush()
}

// WriteError answers in the client's error shape and a status its client
// handles well (frontends brief §7.2): all accounts spent is 429 with an
// integer Retry-After (and retry-after-ms for OpenAI's SDKs); Google out
// of capacity is 529 for Anthropic, 503 for OpenAI; an upstream 400 keeps
// Google's wording (Anthropic's own error JSON inside it goes out
// verbatim); an account's 401/403 is never passed on as such. Errors
// worth retrying say x-should-retry: true.
func (t *translated) WriteError(w http.ResponseWriter, e *ClientError) {
	h := w.Header()
	if e.RetryAfter > 0 {
		setRetryAfter(w, e.RetryAfter)
	}
	status, body := t.mapError(e)
	if t.shape == shapeOpenAI {
		if ms := openai.RetryAfterMS(h.Get("Retry-After")); ms != "" {
			h.Set("retry-after-ms", ms)
		}
	}
	if status == 529 || status >= 500 && status != http.StatusNotImplemented {
		h.Set("x-should-retry", "true")
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// mapError gives e's status and body in the client's shape.
func (t *translated) mapError(e *ClientError) (int, []byte) {
	reason := errorReason(e.Details)
	if t.shape == shapeAnthropic {
		return anthropic.MapError(anthropic.UpstreamError{Status: e.Status, Message: e.Message, Reason: reason, Local: e.Local})
	}
	return openai.MapError(openai.UpstreamError{Status: e.Status, Message: e.Message, Reason: reason, Local: e.Local})
}

// errorReason is the ErrorInfo reason among Google's error details
// (QUOTA_EXHAUSTED, RATE_LIMIT_EXCEEDED, MODEL_CAPACITY_EXHAUSTED, ...).
func errorReason(details []any) string {
	for _, d := range details {
		if info, ok := d.(cloudcode.ErrorInfo); ok {
			return info.Reason
		}
	}
	return ""
}

// tokenCount is the writer of /v1/messages/count_tokens: the upstream's
// countTokens answer as Anthropic's {"input_tokens": N}.
type tokenCount struct {
	translated
	n int
}

// Accept reads the count; an answer without one is unusable.
func (c *tokenCount) Accept(data []byte) bool {
	var n struct {
		TotalTokens *int `json:"totalTokens"`
	}
	if json.Unmarshal(unwrap(data), &n) != nil {
		return false
	}
	// proto3 JSON leaves a count of 0 out: a present object is 0.
	c.n = 0
	if n.TotalTokens != nil {
		c.n = *n.TotalTokens
	}
	return true
}

// WriteAnswer writes the count.
func (c *tokenCount) WriteAnswer(w http.ResponseWriter, _ []byte) error {
	b, err := json.Marshal(map[string]int{"input_tokens": c.n})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(append(b, '\n'))
	return err
}
