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
		a   *Answer
		err error
	}
	results := make(chan result, len(socks))
	for _, s := range socks {
		go func() {
			a, err := askOne(ctx, s.path)
			if err != nil && isDead(err) {
				removeStale(s)
			}
			results <- result{a, err}
		}()
	}
	// Every goroutine sends once into the buffered channel and stops, so
	// returning early (after cancel) leaves none behind for long; drain
	// them anyway so Ask owns them to the end.
	var first *Answer
	var errs []error
	dead := 0
	for range socks {
		r := <-results
		switch {
		case r.err == nil && polls(r.a):
			if !polls(first) {
				first = r.a
				cancel() // the others need not finish
			}
		case r.err == nil:
			if first == nil {
				first = r.a
			}
		case isDead(r.err):
			dead++
		case first == nil || !errors.Is(r.err, context.Canceled):
			errs = append(errs, r.err)
		}
	}
	switch {
	case first != nil:
		return first, nil
	case dead == len(socks):
		return nil, ErrNotRunning
	}
	return nil, fmt.Errorf("%w: %w", ErrNoAnswer, errors.Join(errs...))
}

// polls reports whether a came from the poller.
func polls(a *Answer) bool { return a != nil && a.Instance != nil && a.Instance.Poller }

// askOne asks the process behind one socket.
func askOne(ctx context.Context, path string) (*Answer, error) {
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://quotatui"+Path, nil)
	if err != nil {
		return nil, err
	}
	req.Close = true
	if err := req.Write(conn); err != nil {
		return nil, askErr(ctx, path, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return nil, askErr(ctx, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return nil, fmt.Errorf("%s answered %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	var a Answer
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(&a); err != nil {
		return nil, fmt.Errorf("%s answered unreadable JSON: %w", path, askErr(ctx, path, err))
	}
	if a.Schema != Schema {
		return nil, fmt.Errorf("%s answered in schema %q, this quotatui reads %q (run the same version)", path, a.Schema, Schema)
	}
	return &a, nil
}

// askErr prefers the context's reason to the I/O error it caused.
func askErr(ctx context.Context, path string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", path, context.Cause(ctx))
	}
	return fmt.Errorf("%s: %w", path, err)
}
