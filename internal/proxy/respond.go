package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
	"github.com/quotatui/quotatui/internal/rawjson"
)

// DefaultMaxEventBytes bounds one upstream SSE event: events of many MiB
// (images, long tool arguments, thought signatures) must pass whole.
const DefaultMaxEventBytes = 64 << 20

// errUnusableAnswer is a 2xx whose body is not what the call promises (an
// error page, an empty stream): never passed on as a success.
var errUnusableAnswer = &cloudcode.MalformedResponseError{Status: http.StatusOK, Problem: "the upstream answered 2xx with a body that is not JSON or SSE"}

// errEventTooLarge is an upstream event over Options.MaxEventBytes. The
// upstream has already been paid for it, and any account would send the
// same: the request is answered 502, not retried.
var errEventTooLarge = errors.New("an upstream stream event is larger than the proxy's limit (proxy MaxEventBytes)")

// sent is what one upstream attempt came to.
type sent struct {
	done   bool  // the client has its answer, or is gone: the loop ends
	status int   // what the client got, when done
	err    error // why the attempt failed (when !done), or why the stream broke
	abort  bool  // the stream broke after its first byte
	// charged is set when the upstream accepted the call (2xx): a
	// generation spent quota. tokens is the answer's final usageMetadata.
	charged bool
	tokens  quota.Tokens
}

// send makes one upstream attempt with the account in ch and, when the
// answer is usable, writes it to the client. A call must send its first
// byte (the headers and the first stream event, or the whole non-streaming
// answer) within FirstByteTimeout, and a stream an event at least every
// StreamIdleTimeout; a call that does not is cancelled with a
// *cloudcode.TimeoutError as its cause.
func (s *Server) send(ctx context.Context, w http.ResponseWriter, c *call, ch *Choice) sent {
	body := c.body(ch.Project)
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	first := startDeadline(cancel, "first byte", s.opt.FirstByteTimeout)
	defer first.done()

	started := s.clk.Now()
	t0 := time.Now()
	resp, err := s.up.Do(actx, cloudcode.Request{HTTPMethod: c.httpMethod, RPC: c.rpc, Path: c.path, Query: c.query, Body: body, AccessToken: ch.AccessToken})
	s.observe(time.Since(t0))
	if err != nil {
		return sent{err: cause(actx, err)}
	}
	defer resp.Body.Close()
	s.accepted(c, ch) // the upstream has counted the request: the next may re-check
	if c.stream {
		res := s.stream(ctx, actx, cancel, first, w, c, ch, resp, started)
		res.charged = c.generation
		return res
	}
	answer, err := readUpTo(resp.Body, resp.ContentLength, maxUpstreamBody, maxUpstreamBody)
	first.stop()
	if err != nil {
		return sent{err: cause(actx, err), charged: c.generation}
	}
	if !isJSONDocument(answer) || !c.out.Accept(answer) {
		return sent{err: errUnusableAnswer, charged: c.generation}
	}
	s.success(c, ch, started)
	w.Header()["X-Quotatui-Account"] = s.accountHeader(ch.Label)
	res := sent{done: true, status: http.StatusOK, charged: c.generation}
	if c.generation {
		var u usageTap
		u.see(answer)
		res.tokens, _ = u.tokens()
	}
	if err := c.out.WriteAnswer(w, answer); err != nil {
		res.status = statusClientGone
	}
	return res
}

// accountHeader returns the X-Quotatui-Account value naming label: one
// slice per label, made once and shared by every answer from that account
// (Header.Set made one per answer). net/http only reads header values; a
// caller that adds to it appends to a copy (its capacity is its length).
func (s *Server) accountHeader(label string) []string {
	if v, ok := (*s.labels.Load())[label]; ok {
		return v
	}
	s.labelsMu.Lock()
	defer s.labelsMu.Unlock()
	old := *s.labels.Load()
	if v, ok := old[label]; ok {
		return v
	}
	next := make(map[string][]string, len(old)+1)
	if len(old) < maxLabels { // labels change rarely; a bound all the same
		maps.Copy(next, old)
	}
	v := []string{label}
	next[label] = v[:1:1]
	s.labels.Store(&next)
	return v
}

// maxLabels bounds accountHeader's map: past it, it starts over.
const maxLabels = 1024

// cause returns why an upstream call under actx failed: the proxy's own
// timeout when that is what cancelled it, else err.
func cause(actx context.Context, err error) error {
	var te *cloudcode.TimeoutError
	if c := context.Cause(actx); errors.As(c, &te) {
		return te
	}
	return err
}

// stream forwards an SSE answer event by event, each flushed. The first
// event is read before anything is written: if it is missing, not JSON or
// not what the client's writer accepts, the answer is unusable and the
// request can still move to another account. After it, the client has
// bytes: a break ends the client's stream so that it can tell
// (BreakStream, then an aborted connection). A writer that keeps quiet
// streams alive (pinger) gets its pings in between.
func (s *Server) stream(ctx, actx context.Context, cancel context.CancelCauseFunc, first *deadline,
	w http.ResponseWriter, c *call, ch *Choice, resp *http.Response, started time.Time) sent {
	events := getEventReader(resp.Body, s.opt.MaxEventBytes)
	defer putEventReader(events) // last: after the pinger has stopped
	data, err := events.next()
	first.stop()
	switch {
	case errors.Is(err, errEventTooLarge):
		return sent{err: err}
	case err != nil:
		if errors.Is(err, io.EOF) {
			return sent{err: errUnusableAnswer} // an empty stream
		}
		return sent{err: cause(actx, err)}
	case !isJSONDocument(data) || !c.out.Accept(data):
		return sent{err: errUnusableAnswer}
	}
	s.success(c, ch, started)
	w.Header()["X-Quotatui-Account"] = s.accountHeader(ch.Label)
	if c.out.StartStream(w) != nil {
		return sent{done: true, status: statusClientGone}
	}
	// With pings, the loop's writes and the pings take turns; without
	// (Google's shapes) there is nothing to take turns with, and no
	// mutex to allocate.
	var turn *sync.Mutex
	if p, ok := c.out.(pinger); ok && p.PingInterval() > 0 {
		turn = new(sync.Mutex)
		stop := keepAlive(w, p, turn)
		defer stop()
	}
	write := func(f func(http.ResponseWriter) error) error {
		if turn != nil {
			turn.Lock()
			defer turn.Unlock()
		}
		return f(w)
	}
	idle := s.opt.StreamIdleTimeout
	stall := startDeadline(cancel, "stream event", idle)
	defer stall.done()
	n := 0
	var usage usageTap // the last usageMetadata: a stream's final counts
	broke := func(why error) sent {
		s.stats.upstreamBreaks.Add(1)
		s.logLimited(slog.LevelWarn, "stream break", ch.Label, "upstream stream broke after its first byte; ended the client's stream as broken",
			"model", c.model, "events", n, "err", why)
		e := &ClientError{Status: statusUpstreamBroke, Message: fmt.Sprintf("the upstream stream broke after %d events: %v", n, why)}
		var te *cloudcode.TimeoutError
		if errors.As(why, &te) {
			e.Status = http.StatusGatewayTimeout // a stall: worth retrying
		}
		_ = write(func(w http.ResponseWriter) error { c.out.BreakStream(w, e); return nil })
		return sent{done: true, status: statusUpstreamBroke, err: why, abort: true}
	}
	for {
		if c.generation {
			usage.see(data)
		}
		if err := write(func(w http.ResponseWriter) error { return c.out.WriteEvent(w, data) }); err != nil {
			if errors.Is(err, errUnusableEvent) {
				return broke(err)
			}
			return sent{done: true, status: statusClientGone}
		}
		n++
		stall.reset(idle)
		data, err = events.next()
		switch {
		case err == nil:
			continue
		case errors.Is(err, io.EOF):
			if write(c.out.EndStream) != nil {
				return sent{done: true, status: statusClientGone}
			}
			res := sent{done: true, status: http.StatusOK}
			res.tokens, _ = usage.tokens()
			return res
		case ctx.Err() != nil:
			return sent{done: true, status: statusClientGone}
		}
		return broke(cause(actx, err))
	}
}

// keepAlive calls p.Ping on w every p.PingInterval until the returned
// stop is called, under turn, and stops early when a ping cannot be
// written (the client is gone). stop waits for the pinging goroutine.
func keepAlive(w http.ResponseWriter, p pinger, turn *sync.Mutex) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(p.PingInterval())
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				turn.Lock()
				err := p.Ping(w)
				turn.Unlock()
				if err != nil {
					return
				}
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

func (s *Server) success(c *call, ch *Choice, started time.Time) {
	s.tm.suspects.clear(ch.AccountID)
	if c.generation && c.family != cloudcode.FamilyUnknown {
		s.tm.cool.reset(gateKey{ch.AccountID, c.family})
		// started, not now: a success may only clear a mark set after
		// this request went out.
		s.q.RecordSuccess(ch.AccountID, c.family, started)
	}
}

// isJSONDocument reports whether b is a JSON object or array: an HTML
// error page served with 200 is not.
func isJSONDocument(b []byte) bool {
	t := bytes.TrimSpace(b)
	return len(t) > 0 && (t[0] == '{' || t[0] == '[') && rawjson.Valid(t)
}

// unwrap returns the "response" member of a v1internal answer (as
// decoding it into a struct would find it), else the answer itself: also
// for a document that is not valid JSON, passed on as it came.
func unwrap(b []byte) []byte {
	if !rawjson.Valid(b) {
		return b
	}
	if v, ok := rawjson.Field(b, "response"); ok && !rawjson.IsNull(v) {
		return v
	}
	return b
}

// eventReader reads server-sent events of any size up to max bytes.
type eventReader struct {
	br   *bufio.Reader
	max  int
	line []byte // a line longer than br's buffer, assembled
	data []byte // the event next returned, reused by the next one
}

// readLine returns the next line without its end, however long, up to
// max bytes. The slice is valid until the next call.
func (r *eventReader) readLine() ([]byte, error) {
	r.line = r.line[:0]
	for {
		frag, err := r.br.ReadSlice('\n')
		if len(r.line)+len(frag) > r.max {
			return nil, errEventTooLarge
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			r.line = append(r.line, frag...)
			continue
		}
		line := frag
		if len(r.line) > 0 {
			r.line = append(r.line, frag...)
			line = r.line
		}
		return bytes.TrimRight(line, "\r\n"), err
	}
}

// next returns the data of the next event that has any (its data lines
// joined by "\n"), skipping comments and other fields; io.EOF at the end.
// A connection that ends inside an event returns the read error. The data
// is valid until the next call: its buffer is reused (an allocation per
// event otherwise).
func (r *eventReader) next() ([]byte, error) {
	r.data = r.data[:0]
	found := false
	for {
		line, err := r.readLine()
		if len(line) == 0 {
			if found && (err == nil || errors.Is(err, io.EOF)) {
				return r.data, nil
			}
			if err != nil {
				return nil, err
			}
			continue
		}
		if d, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			d = bytes.TrimPrefix(d, []byte(" "))
			if len(r.data)+len(d) > r.max {
				return nil, errEventTooLarge
			}
			if found {
				r.data = append(r.data, '\n')
			}
			r.data = append(r.data, d...)
			found = true
		}
		if err != nil {
			if errors.Is(err, io.EOF) && found {
				return r.data, nil // a last event without its blank line
			}
			return nil, err
		}
	}
}
