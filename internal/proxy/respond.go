package proxy

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// maxSSELine bounds one SSE line; a generation chunk is far smaller.
const maxSSELine = 16 << 20

// respond writes a 2xx upstream answer to the client. It reports false,
// having written nothing, when the answer turned out unusable before its
// first byte (not JSON, an empty stream), so the caller may retry.
func (s *Server) respond(w http.ResponseWriter, c *call, ch Choice, resp *http.Response, started time.Time) (int, bool) {
	defer resp.Body.Close()
	if c.answer != nil {
		return c.answer(w, resp, func() {
			s.success(c, ch, started)
			w.Header().Set("X-Quotatui-Account", ch.Label)
		})
	}
	ct := resp.Header.Get("Content-Type")
	if c.stream && (strings.HasPrefix(ct, "text/event-stream") || c.query.Get("alt") == "sse") {
		return s.streamSSE(w, c, ch, resp, started)
	}
	if c.stream {
		return s.streamRaw(w, c, ch, resp, started)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamBody))
	if err != nil || !isJSONDocument(body) {
		return 0, false
	}
	if c.gemini {
		body = unwrap(body)
	}
	s.success(c, ch, started)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("X-Quotatui-Account", ch.Label)
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	return resp.StatusCode, true
}

func (s *Server) success(c *call, ch Choice, started time.Time) {
	if c.generation && c.family != cloudcode.FamilyUnknown {
		// started, not now: a success may only clear a mark set after
		// this request went out.
		s.q.RecordSuccess(ch.AccountID, c.family, started)
	}
}

// isJSONDocument reports whether b is a JSON object or array: an HTML
// error page served with 200 is not.
func isJSONDocument(b []byte) bool {
	t := bytes.TrimSpace(b)
	return len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(t)
}

// unwrap returns the "response" member of a v1internal answer, else the
// answer itself.
func unwrap(b []byte) []byte {
	var env struct {
		Response json.RawMessage `json:"response"`
	}
	if json.Unmarshal(b, &env) == nil && len(env.Response) > 0 && string(env.Response) != "null" {
		return env.Response
	}
	return b
}

// sseEvent is one server-sent event: its lines without the blank line.
type sseEvent struct {
	lines [][]byte
}

// data returns the event's data payload (data lines joined by "\n").
func (e *sseEvent) data() ([]byte, bool) {
	var out []byte
	found := false
	for _, l := range e.lines {
		d, ok := bytes.CutPrefix(l, []byte("data:"))
		if !ok {
			continue
		}
		d = bytes.TrimPrefix(d, []byte(" "))
		if found {
			out = append(out, '\n')
		}
		out = append(out, d...)
		found = true
	}
	return out, found
}

// readEvent reads the next event, skipping blank separators. It returns
// io.EOF at the end of the stream.
func readEvent(r *bufio.Reader) (sseEvent, error) {
	var ev sseEvent
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return ev, errors.New("SSE line too long")
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if len(ev.lines) > 0 {
				return ev, nil
			}
			if err != nil {
				return ev, err
			}
			continue
		}
		ev.lines = append(ev.lines, bytes.Clone(line))
		if err != nil {
			if errors.Is(err, io.EOF) {
				return ev, nil // a last event without its blank line
			}
			return ev, err
		}
	}
}

// streamSSE forwards an SSE answer event by event, flushing after each.
// The first event is read before anything is written: if it is missing
// or not JSON, the answer is unusable and the request can still move.
func (s *Server) streamSSE(w http.ResponseWriter, c *call, ch Choice, resp *http.Response, started time.Time) (int, bool) {
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	first, err := readEvent(br)
	if err != nil {
		return 0, false
	}
	if d, ok := first.data(); !ok || !isJSONDocument(d) {
		return 0, false
	}
	s.success(c, ch, started)
	rc := http.NewResponseController(w)
	h := w.Header()
	if c.jsonArray {
		h.Set("Content-Type", "application/json; charset=UTF-8")
	} else {
		h.Set("Content-Type", "text/event-stream")
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Set("X-Quotatui-Account", ch.Label)
	w.WriteHeader(http.StatusOK)

	var buf bytes.Buffer
	n := 0
	ev := first
	for {
		buf.Reset()
		s.formatEvent(&buf, c, &ev, n)
		n++
		if _, err := w.Write(buf.Bytes()); err != nil {
			return http.StatusOK, true // the client is gone; its context cancels the upstream
		}
		_ = rc.Flush()
		ev, err = readEvent(br)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				s.log.Warn("upstream stream broke after the first byte; ending the client's stream", "account", ch.Label, "model", c.model, "err", err)
			}
			break
		}
	}
	if c.jsonArray {
		_, _ = w.Write([]byte("]\n"))
		_ = rc.Flush()
	}
	return http.StatusOK, true
}

// streamRaw forwards a stream that is not SSE (Code Assist's JSON array
// form) as it arrives, flushing after each read. The first read must
// start a JSON document, else the answer is unusable and can be retried.
func (s *Server) streamRaw(w http.ResponseWriter, c *call, ch Choice, resp *http.Response, started time.Time) (int, bool) {
	buf := make([]byte, 32<<10)
	n, err := io.ReadAtLeast(resp.Body, buf, 1)
	if t := bytes.TrimSpace(buf[:n]); len(t) == 0 || (t[0] != '[' && t[0] != '{') {
		return 0, false
	}
	s.success(c, ch, started)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", cmp.Or(resp.Header.Get("Content-Type"), "application/json; charset=UTF-8"))
	h.Set("X-Quotatui-Account", ch.Label)
	w.WriteHeader(resp.StatusCode)
	for {
		if _, werr := w.Write(buf[:n]); werr != nil {
			return resp.StatusCode, true
		}
		_ = rc.Flush()
		if err != nil {
			return resp.StatusCode, true
		}
		n, err = resp.Body.Read(buf)
		if n == 0 && err != nil {
			return resp.StatusCode, true
		}
	}
}

// formatEvent writes one event for the client: as is for Code Assist, with
// each data payload unwrapped for the Gemini API, or as a JSON array
// element for a Gemini stream without alt=sse.
func (s *Server) formatEvent(buf *bytes.Buffer, c *call, ev *sseEvent, n int) {
	if !c.gemini {
		for _, l := range ev.lines {
			buf.Write(l)
			buf.WriteByte('\n')
		}
		buf.WriteByte('\n')
		return
	}
	d, ok := ev.data()
	if !ok {
		if !c.jsonArray { // comments and other fields pass through
			for _, l := range ev.lines {
				buf.Write(l)
				buf.WriteByte('\n')
			}
			buf.WriteByte('\n')
		}
		return
	}
	d = unwrap(d)
	if c.jsonArray {
		if n == 0 {
			buf.WriteByte('[')
		} else {
			buf.WriteString(",\r\n")
		}
		buf.Write(d)
		return
	}
	buf.WriteString("data: ")
	buf.Write(d)
	buf.WriteString("\r\n\r\n")
}

func slogLevel(status int) slog.Level {
	switch {
	case status >= 500 || status == http.StatusTooManyRequests:
		return slog.LevelWarn
	default:
		return slog.LevelInfo
	}
}
