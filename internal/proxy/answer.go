package proxy

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// AnswerWriter writes what the forwarding loop got from the upstream in the
// client's API shape. It is the seam for translators: the Code Assist
// passthrough and the Gemini API write Google's own shapes (googleWriter);
// a translator (Anthropic Messages, OpenAI Chat Completions, Responses)
// implements it to write its own, and puts its request into a call.
//
// For one client request the loop calls WriteError once, or WriteAnswer
// once, or StartStream, then WriteEvent per upstream event, then EndStream
// or BreakStream. Before WriteAnswer, and before StartStream with the
// first event, it asks Accept. It sets X-Quotatui-Account before
// WriteAnswer and StartStream. An error from a write means the client is
// gone, except one wrapping errUnusableEvent from WriteEvent: then the
// upstream's event was not an answer, and the stream ends as broken.
type AnswerWriter interface {
	// Accept reports whether a 2xx answer (a whole non-streaming answer,
	// or a stream's first event) is one this writer can pass on. It is
	// asked before anything is written, so a refusal lets the loop try
	// another account; the loop has already checked the data is JSON.
	Accept(data []byte) bool
	// WriteAnswer writes a whole non-streaming answer: body is the
	// upstream's v1internal JSON document (a generation answer is wrapped
	// in "response").
	WriteAnswer(w http.ResponseWriter, body []byte) error
	// StartStream writes a stream's headers, before its first event.
	StartStream(w http.ResponseWriter) error
	// WriteEvent writes one upstream event (its data: one wrapped chunk)
	// and flushes it to the client.
	WriteEvent(w http.ResponseWriter, data []byte) error
	// EndStream ends a stream the upstream ended.
	EndStream(w http.ResponseWriter) error
	// BreakStream ends a stream the upstream broke (cut, or stalled past
	// the idle timeout), with an error event in the client's shape where
	// its API has one. The loop then aborts the connection without the
	// body's terminator, so a client without error events can tell too.
	BreakStream(w http.ResponseWriter, e *ClientError)
	// WriteError answers a request that got no answer, before anything
	// else was written.
	WriteError(w http.ResponseWriter, e *ClientError)
}

// pinger is an AnswerWriter whose API keeps a quiet stream alive with
// events of its own (Anthropic's ping, an SSE comment for OpenAI's): while
// a stream is open the loop calls Ping every PingInterval, taking turns
// with its own writes.
type pinger interface {
	PingInterval() time.Duration // 0: no pings
	Ping(w http.ResponseWriter) error
}

// ClientError is an answer the proxy gives itself: no account could serve,
// every attempt failed, the upstream refused the request, or a stream
// broke. Details are Google's error details (ErrorInfo, RetryInfo), which a
// translator may read or drop.
type ClientError struct {
	Status     int
	Message    string
	RetryAfter time.Duration // 0: no Retry-After
	Details    []any
	// Local marks the proxy's own refusal of the request (its API key,
	// Host or Origin check): its status stands in every shape, where an
	// account's 401 or 403 from the upstream never reaches a client as
	// such.
	Local bool
}

// Error returns the message.
func (e *ClientError) Error() string { return e.Message }

// googleWriter writes Google's shapes: the Code Assist passthrough as the
// upstream sent it (wrapped), or the Gemini API's (each chunk unwrapped
// from "response"); a stream as SSE events or, for a client that did not
// ask for alt=sse, as one JSON array written element by element.
type googleWriter struct {
	unwrap bool
	array  bool
	// errorEvents sends an SSE error event when a stream breaks (the
	// Gemini API has them; Code Assist clients only see the abort).
	errorEvents bool
	n           int    // events written
	buf         []byte // the event being written, reused by the next
}

// Accept takes any JSON document: Google's own shape is passed on as sent.
func (g *googleWriter) Accept([]byte) bool { return true }

func (g *googleWriter) data(b []byte) []byte {
	if g.unwrap {
		return unwrap(b)
	}
	return b
}

// WriteAnswer writes the JSON document.
func (g *googleWriter) WriteAnswer(w http.ResponseWriter, body []byte) error {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(g.data(body))
	return err
}

// StartStream writes the headers of an SSE stream or a JSON array.
func (g *googleWriter) StartStream(w http.ResponseWriter) error {
	if g.array {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	return startSSE(w)
}

// startSSE writes the headers of an SSE stream (not buffered by a
// reverse proxy in between) and its 200.
func startSSE(w http.ResponseWriter) error {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return nil
}

// WriteEvent writes one event and flushes.
func (g *googleWriter) WriteEvent(w http.ResponseWriter, data []byte) error {
	d := g.data(data)
	buf := g.buf[:0]
	switch {
	case g.array && g.n == 0:
		buf = append(buf, '[')
		buf = append(buf, d...)
	case g.array:
		buf = append(buf, ",\r\n"...)
		buf = append(buf, d...)
	default:
		buf = append(buf, "data: "...)
		buf = append(buf, d...)
		buf = append(buf, "\r\n\r\n"...)
	}
	g.buf = buf
	g.n++
	if _, err := w.Write(buf); err != nil {
		return err
	}
	return http.NewResponseController(w).Flush()
}

// EndStream closes the array; an SSE stream just ends.
func (g *googleWriter) EndStream(w http.ResponseWriter) error {
	if !g.array {
		return nil
	}
	end := "]\n"
	if g.n == 0 {
		end = "[]\n"
	}
	if _, err := w.Write([]byte(end)); err != nil {
		return err
	}
	return http.NewResponseController(w).Flush()
}

// BreakStream sends the Gemini API's error event; an array is left open.
func (g *googleWriter) BreakStream(w http.ResponseWriter, e *ClientError) {
	if g.array || !g.errorEvents {
		return
	}
	b, err := json.Marshal(cloudcode.ErrorEnvelope{Error: cloudcode.ErrorStatus{
		Code: e.Status, Message: e.Message, Status: cloudcode.StatusName(e.Status), Details: e.Details}})
	if err != nil {
		return
	}
	_, _ = w.Write(append(append([]byte("data: "), b...), "\r\n\r\n"...))
	_ = http.NewResponseController(w).Flush()
}

// WriteError answers in Google's error envelope, with Retry-After.
func (g *googleWriter) WriteError(w http.ResponseWriter, e *ClientError) {
	writeClientError(w, e)
}

// googleErrors writes the errors of the Google routes, before a call
// exists.
var googleErrors AnswerWriter = &googleWriter{}

// writeClientError answers e in Google's envelope, with Retry-After when
// it has a wait.
func writeClientError(w http.ResponseWriter, e *ClientError) {
	if e.RetryAfter > 0 {
		setRetryAfter(w, e.RetryAfter)
	}
	cloudcode.WriteError(w, e.Status, "", e.Message, e.Details...)
}
