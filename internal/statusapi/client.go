package statusapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// ErrNotRunning is returned by Ask when no process on the database is
// alive to answer.
var ErrNotRunning = errors.New("no quotatui is running on this database")

// ErrNoAnswer is returned (wrapped, with the reasons) by Ask when a
// process is there but none answered in time or answered something
// unreadable.
var ErrNoAnswer = errors.New("no running quotatui answered")

// maxAnswer bounds what is read from a socket (1000 accounts are about
// 1 MiB).
const maxAnswer = 64 << 20

// Ask asks the processes running on db (their sockets in dir) for their
// answer. Several may run (a dashboard beside a serve): they are asked at
// once and the poller's answer is taken as soon as it comes, since the
// others adopt its figures a moment later; without one, the first answer.
// Sockets left by dead processes are removed on the way. ctx bounds the
// wait.
func Ask(ctx context.Context, dir, db string) (*Answer, error) {
	return askAll(ctx, dir, db, Path, decodeJSON[Answer], func(a *Answer) (bool, error) {
		if a.Schema != Schema {
			return false, schemaErr(a.Schema)
		}
		return a.Instance != nil && a.Instance.Poller, nil
	})
}

// AskLine is Ask for the line only: the instance sums its accounts up
// itself, so a status bar's question stays small with a thousand of them.
func AskLine(ctx context.Context, dir, db string) (*Line, error) {
	return askAll(ctx, dir, db, LinePath, decodeJSON[Line], func(l *Line) (bool, error) {
		if l.Schema != Schema {
			return false, schemaErr(l.Schema)
		}
		return l.Poller, nil
	})
}

func schemaErr(got string) error {
	return fmt.Errorf("in schema %q, this quotatui reads %q (run the same version)", got, Schema)
}

// askAll asks every live socket of db for path and returns the first
// answer that polls says is the poller's, else the first answer.
func askAll[T any](ctx context.Context, dir, db, path string, read reader[T], polls func(*T) (bool, error)) (*T, error) {
	socks, err := sockets(dir, key(db))
	if err != nil {
		return nil, err
	}
	if len(socks) == 0 {
		return nil, ErrNotRunning
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		v      *T
		poller bool
		err    error
	}
	results := make(chan result, len(socks))
	for _, s := range socks {
		go func() {
			var r result
			if r.v, r.err = askOne(ctx, s.path, path, read); r.err == nil {
				if r.poller, r.err = polls(r.v); r.err != nil {
					r.err = fmt.Errorf("%s answered %w", s.path, r.err)
				}
			}
			if r.err != nil && isDead(r.err) {
				removeStale(s)
			}
			results <- r
		}()
	}
	// Every goroutine sends once into the buffered channel and stops;
	// they are all received, so none outlives askAll.
	var first result
	var errs []error
	dead := 0
	for range socks {
		r := <-results
		switch {
		case r.err == nil && r.poller:
			if !first.poller {
				first = r
				cancel() // the others need not finish
			}
		case r.err == nil:
			if first.v == nil {
				first = r
			}
		case isDead(r.err):
			dead++
		case first.v == nil || !errors.Is(r.err, context.Canceled):
			errs = append(errs, r.err)
		}
	}
	switch {
	case first.v != nil:
		return first.v, nil
	case dead == len(socks):
		return nil, ErrNotRunning
	}
	return nil, fmt.Errorf("%w: %w", ErrNoAnswer, errors.Join(errs...))
}

// A reader takes a T from an answer whose status is 200 OK.
type reader[T any] func(*http.Response) (*T, error)

// askOne asks the process behind one socket for resource.
func askOne[T any](ctx context.Context, path, resource string, read reader[T]) (*T, error) {
	conn, err := dial(ctx, path)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// A cancelled ctx unblocks the reads at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://quotatui"+resource, nil)
	if err != nil {
		return nil, err
	}
	req.Close = true
	if err := req.Write(conn); err != nil {
		return nil, askErr(ctx, path, err)
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 64<<10), req)
	if err != nil {
		return nil, askErr(ctx, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return nil, fmt.Errorf("%s answered %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	v, err := read(resp)
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, askErr(ctx, path, err)
	case err != nil:
		return nil, fmt.Errorf("%s answered %w", path, err)
	}
	return v, nil
}

func decodeJSON[T any](resp *http.Response) (*T, error) {
	var v T
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(&v); err != nil {
		return nil, fmt.Errorf("unreadable JSON: %w", err)
	}
	return &v, nil
}

// Printed is what `status` or `status --json` prints, as a running
// instance wrote it (AskPrinted).
type Printed struct {
	Summary Summary // for the exit status
	Poller  bool    // the instance polls the upstream
	Text    []byte  // exactly what is printed
}

// AskPrinted is Ask for what status prints: resource is JSONPath or
// TablePath. The instance writes the text and sums up, so a thousand
// accounts are neither decoded nor encoded again here. The text is read
// whole, to its announced length, before it is returned: a short or
// malformed answer is an error, never half a table.
func AskPrinted(ctx context.Context, dir, db, resource string) (*Printed, error) {
	return askAll(ctx, dir, db, resource, readPrinted, func(p *Printed) (bool, error) { return p.Poller, nil })
}

// readPrinted reads a printed answer and checks its headers and length.
func readPrinted(resp *http.Response) (*Printed, error) {
	h := resp.Header
	if got := h.Get(headerSchema); got != Schema {
		return nil, schemaErr(got)
	}
	p := &Printed{}
	switch h.Get(headerPoller) {
	case "true":
		p.Poller = true
	case "false":
	default:
		return nil, fmt.Errorf("no %s header", headerPoller)
	}
	if err := json.Unmarshal([]byte(h.Get(headerSummary)), &p.Summary); err != nil {
		return nil, fmt.Errorf("an unreadable %s header: %w", headerSummary, err)
	}
	n := resp.ContentLength
	if n <= 0 || n > maxAnswer {
		return nil, fmt.Errorf("a text of unknown or unlikely length (%d bytes)", n)
	}
	p.Text = make([]byte, n)
	if got, err := io.ReadFull(resp.Body, p.Text); err != nil {
		return nil, fmt.Errorf("%d of %d bytes: %w", got, n, err)
	}
	if p.Text[n-1] != '\n' {
		return nil, errors.New("a text that does not end its last line")
	}
	return p, nil
}

// askErr prefers the context's reason to the I/O error it caused.
func askErr(ctx context.Context, path string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", path, context.Cause(ctx))
	}
	return fmt.Errorf("%s: %w", path, err)
}
