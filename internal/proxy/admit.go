package proxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// budgetStep is how much of the buffer budget a body of unknown length
// takes at a time as it arrives.
const budgetStep = 64 << 10

// bodyBudget bounds the bytes of client bodies held at once: every request
// keeps its body for replays on other accounts, so without a bound a few
// large concurrent bodies take the process to gigabytes.
type bodyBudget struct {
	sem  *semaphore.Weighted
	held atomic.Int64 // for Stats
}

func newBodyBudget(n int64) *bodyBudget { return &bodyBudget{sem: semaphore.NewWeighted(n)} }

// take reserves n bytes without waiting.
func (b *bodyBudget) take(n int64) bool {
	if n <= 0 {
		return true
	}
	if !b.sem.TryAcquire(n) {
		return false
	}
	b.held.Add(n)
	return true
}

func (b *bodyBudget) give(n int64) {
	if n > 0 {
		b.sem.Release(n)
		b.held.Add(-n)
	}
}

// errBudget says the proxy's buffer budget is full.
var errBudget = errors.New("buffer budget full")

// budgetReader reserves budget for a body of unknown length as it reads.
type budgetReader struct {
	r     io.Reader
	b     *bodyBudget
	taken int64 // reserved so far
	read  int64
}

func (br *budgetReader) Read(p []byte) (int, error) {
	if br.read+int64(len(p)) > br.taken {
		step := max(int64(budgetStep), br.read+int64(len(p))-br.taken)
		if !br.b.take(step) {
			return 0, errBudget
		}
		br.taken += step
	}
	n, err := br.r.Read(p)
	br.read += int64(n)
	return n, err
}

// admit lets a client request in: the proxy is not paused, a POST body is
// JSON, fits the body limit and the buffer budget, and arrives within the
// body timeout. It returns the body and a func that gives its budget back
// (call it when the request is done); on refusal it has answered the client
// through out and returns ok false.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, out AnswerWriter) (body []byte, done func(), ok bool) {
	body, taken, ok := s.admitBody(w, r, out)
	if !ok || taken == 0 {
		return body, func() {}, ok
	}
	return body, func() { s.budget.give(taken) }, true
}

// admitBody is admit returning the budget taken, which the caller gives
// back (s.budget.give) when the request is done: no func to allocate.
func (s *Server) admitBody(w http.ResponseWriter, r *http.Request, out AnswerWriter) (body []byte, taken int64, ok bool) {
	if s.Paused() {
		out.WriteError(w, &ClientError{Status: http.StatusServiceUnavailable, RetryAfter: 30 * time.Second,
			Message: "the proxy is paused in quotatui (press p in the dashboard to resume)"})
		return nil, 0, false
	}
	if r.Method != http.MethodPost {
		return nil, 0, true
	}
	if !jsonBody(r) {
		w.Header().Set("Connection", "close")
		out.WriteError(w, &ClientError{Status: http.StatusUnsupportedMediaType,
			Message: fmt.Sprintf("quotatui proxy takes JSON bodies only: send Content-Type: application/json (got %q)", r.Header.Get("Content-Type"))})
		return nil, 0, false
	}
	if r.ContentLength > s.opt.BodyLimit {
		refuseBody(w, out, s.tooLarge())
		return nil, 0, false
	}
	var (
		src     io.Reader     = r.Body
		metered *budgetReader // a body of unknown length, reserved as it arrives
	)
	if r.ContentLength >= 0 {
		// Its length is within the limit, and net/http's body reader
		// ends at the length: no MaxBytesReader needed (one per request).
		if !s.budget.take(r.ContentLength) {
			refuseBody(w, out, s.budgetFull())
			return nil, 0, false
		}
		taken = r.ContentLength
	} else {
		metered = &budgetReader{r: http.MaxBytesReader(w, r.Body, s.opt.BodyLimit), b: s.budget}
		src = metered
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(s.opt.BodyTimeout))
	body, err := readBody(src, r.ContentLength, s.opt.BodyLimit)
	// No deadline past the body: net/http's background read, which notices
	// a client that leaves mid-stream, would take it for the client leaving.
	_ = rc.SetReadDeadline(time.Time{})
	if metered != nil {
		taken = metered.taken
	}
	if err == nil && int64(len(body)) > s.opt.BodyLimit {
		// Only a reader that gives more than its Content-Length gets
		// here (net/http's does not): refused as MaxBytesReader would.
		err = &http.MaxBytesError{Limit: s.opt.BodyLimit}
	}
	if err != nil {
		var (
			tooBig *http.MaxBytesError
			ne     net.Error
		)
		switch {
		case errors.As(err, &tooBig):
			refuseBody(w, out, s.tooLarge())
		case errors.Is(err, errBudget):
			refuseBody(w, out, s.budgetFull())
		case errors.As(err, &ne) && ne.Timeout():
			refuseBody(w, out, &ClientError{Status: http.StatusRequestTimeout,
				Message: fmt.Sprintf("the request body did not arrive within %s", s.opt.BodyTimeout)})
		default:
			refuseBody(w, out, &ClientError{Status: http.StatusBadRequest, Message: "could not read the request body: " + err.Error()})
		}
		s.budget.give(taken)
		return nil, 0, false
	}
	return body, taken, true
}

// refuseBody answers a request whose body the proxy will not read to the
// end, and closes the connection rather than drain the rest.
func refuseBody(w http.ResponseWriter, out AnswerWriter, e *ClientError) {
	w.Header().Set("Connection", "close")
	out.WriteError(w, e)
}

func (s *Server) tooLarge() *ClientError {
	return &ClientError{Status: http.StatusRequestEntityTooLarge,
		Message: fmt.Sprintf("request body is larger than the proxy's limit of %d bytes (set proxy.body_limit to raise it)", s.opt.BodyLimit)}
}

func (s *Server) budgetFull() *ClientError {
	return &ClientError{Status: http.StatusServiceUnavailable, RetryAfter: time.Second,
		Message: fmt.Sprintf("quotatui proxy is holding as many request bodies as it may (proxy.buffer_limit, %d bytes); retry in a second", s.opt.BufferLimit)}
}
