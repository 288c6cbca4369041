package cloudcodetest

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
)

// StreamFaults are the shares (in [0, 1]) of accepted generate calls whose
// answer goes wrong after the service charged the quota, as a network or
// an overloaded frontend makes it go wrong: the client has paid, and must
// be able to tell that the answer is not whole.
type StreamFaults struct {
	// HangRate sends the 200 headers and then nothing, until the client
	// gives up or the server closes.
	HangRate float64
	// CutRate drops the connection in the middle of the answer, without
	// the chunk that ends the body: after half of a stream's events, or
	// after half of a non-streaming answer's bytes.
	CutRate float64
	// EventBytes pads each answer chunk's text to about this many bytes
	// (0: the usual few dozen), for events of several MiB.
	EventBytes int
}

// injector holds the fault injection the proxy's hardening needs on top of
// the service's ordinary answers, and the long-running operations of
// onboardUser (operations.go). Its lock is held only to read or update it.
type injector struct {
	mu     sync.Mutex
	rnd    *rand.Rand
	stream StreamFaults
	per    map[string]*accountFaults // by lower-case email
}

// accountFaults are the faults set for one account.
type accountFaults struct {
	hangAfterHeaders bool
	cutAfter         int // > 0: streams end after this many events, without their terminator
	stallAfter       int // > 0: streams go silent after this many events
	bare             int // the next bare generate calls answer a bare 429
}

func newInjector(seed int64) *injector {
	return &injector{rnd: rand.New(rand.NewPCG(uint64(seed), 0x5eed)), per: map[string]*accountFaults{}}
}

// account returns the faults of email, created on first use. The caller
// holds in.mu.
func (in *injector) account(email string) *accountFaults {
	k := strings.ToLower(email)
	f := in.per[k]
	if f == nil {
		f = &accountFaults{}
		in.per[k] = f
	}
	return f
}

// SetStreamFaults sets the shares of accepted generate calls whose answer
// hangs after its headers or is cut, and the size of each answer chunk.
func (s *Server) SetStreamFaults(f StreamFaults) {
	s.inject.mu.Lock()
	s.inject.stream = f
	s.inject.mu.Unlock()
}

// setFaults changes the faults of a known account under the lock.
func (s *Server) setFaults(email string, set func(*accountFaults)) {
	s.mustAccount(email)
	s.inject.mu.Lock()
	set(s.inject.account(email))
	s.inject.mu.Unlock()
}

// SetHangAfterHeaders makes the account's accepted generate calls send
// their 200 headers and then nothing until the client gives up (unlike
// SetHang, which sends nothing at all). The quota is charged.
func (s *Server) SetHangAfterHeaders(email string, hang bool) {
	s.setFaults(email, func(f *accountFaults) { f.hangAfterHeaders = hang })
}

// CutStreams makes the account's streams drop the connection after
// events events (a non-streaming answer: after half its bytes), without
// the chunk that ends the body; 0 turns it off.
func (s *Server) CutStreams(email string, events int) {
	s.setFaults(email, func(f *accountFaults) { f.cutAfter = events })
}

// StallStreams makes the account's streams go silent after events events,
// holding the connection until the client gives up; 0 turns it off.
func (s *Server) StallStreams(email string, events int) {
	s.setFaults(email, func(f *accountFaults) { f.stallAfter = events })
}

// BareBurst makes the account's next n generate calls answer the 429 with
// no details ("Resource has been exhausted"), charging nothing.
func (s *Server) BareBurst(email string, n int) {
	s.setFaults(email, func(f *accountFaults) { f.bare = n })
}

// bare429 answers a bare 429 when the account has one left in its burst.
// It is called where the service checks its rate limits, before any
// quota is charged.
func (s *Server) bare429(w http.ResponseWriter, a *account) bool {
	s.inject.mu.Lock()
	f := s.inject.per[strings.ToLower(a.email)]
	hit := f != nil && f.bare > 0
	if hit {
		f.bare--
	}
	s.inject.mu.Unlock()
	if hit {
		writeGoogleError(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", bareExhaustedMessage)
	}
	return hit
}

// padding returns the filler that brings an answer chunk's text to
// StreamFaults.EventBytes.
func (s *Server) padding(text string) string {
	s.inject.mu.Lock()
	n := s.inject.stream.EventBytes
	s.inject.mu.Unlock()
	if n <= len(text) {
		return ""
	}
	return strings.Repeat("x", n-len(text))
}

// faultyAnswer returns w, or a writer that hangs after the headers or cuts
// the answer, as the account's faults and the drawn rates say. It is called
// once the quota is charged, before the answer is written.
func (s *Server) faultyAnswer(w http.ResponseWriter, r *http.Request, a *account) http.ResponseWriter {
	in := s.inject
	in.mu.Lock()
	f := in.per[strings.ToLower(a.email)]
	fw := &faultWriter{ResponseWriter: w, r: r, closing: s.closing}
	if f != nil {
		fw.hang, fw.cutAfter, fw.stallAfter = f.hangAfterHeaders, f.cutAfter, f.stallAfter
	}
	if sf := in.stream; sf.HangRate > 0 || sf.CutRate > 0 {
		x := in.rnd.Float64()
		switch {
		case x < sf.HangRate:
			fw.hang = true
		case x < sf.HangRate+sf.CutRate && fw.cutAfter == 0:
			fw.cutAfter = max(s.opts.StreamChunks/2, 1)
		}
	}
	in.mu.Unlock()
	if !fw.hang && fw.cutAfter == 0 && fw.stallAfter == 0 {
		return w
	}
	return fw
}

// faultWriter hangs after the headers, goes silent after stallAfter SSE
// events, or drops the connection after cutAfter events (each stream event
// is one Write) or halfway through a single-write answer. Dropping is panic(http.ErrAbortHandler): net/http
// then closes the connection without ending the chunked body, as a broken
// network does.
type faultWriter struct {
	http.ResponseWriter
	r          *http.Request
	closing    <-chan struct{}
	hang       bool
	cutAfter   int
	stallAfter int
	writes     int
	dead       bool
}

// WriteHeader sends the headers; with hang it then waits for the client or
// the server to give up, and every later write fails.
func (fw *faultWriter) WriteHeader(code int) {
	fw.ResponseWriter.WriteHeader(code)
	if !fw.hang || code != http.StatusOK {
		return
	}
	fw.wait()
}

// wait flushes, then blocks until the client or the server gives up; every
// later write fails.
func (fw *faultWriter) wait() {
	if fl, ok := fw.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
	select {
	case <-fw.r.Context().Done():
	case <-fw.closing:
	}
	fw.dead = true
}

// Write passes events on until the cut.
func (fw *faultWriter) Write(b []byte) (int, error) {
	if fw.dead {
		return 0, http.ErrHandlerTimeout
	}
	sse := strings.HasPrefix(fw.Header().Get("Content-Type"), "text/event-stream")
	if sse && fw.stallAfter > 0 && fw.writes >= fw.stallAfter {
		fw.wait()
		return 0, http.ErrHandlerTimeout
	}
	if fw.cutAfter == 0 {
		fw.writes++
		return fw.ResponseWriter.Write(b)
	}
	if !sse {
		// One write holds the whole answer: send half of it.
		n, _ := fw.ResponseWriter.Write(b[:len(b)/2])
		fw.cut()
		return n, nil
	}
	if fw.writes >= fw.cutAfter {
		fw.cut()
	}
	fw.writes++
	return fw.ResponseWriter.Write(b)
}

// Flush passes the flush on (the stream flushes after each event).
func (fw *faultWriter) Flush() {
	if fl, ok := fw.ResponseWriter.(http.Flusher); ok && !fw.dead {
		fl.Flush()
	}
}

// cut flushes what was written and drops the connection.
func (fw *faultWriter) cut() {
	fw.Flush()
	panic(http.ErrAbortHandler)
}
