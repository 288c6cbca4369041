package statusapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
)

// The resources a socket serves, read-only: GET Path answers the Answer
// as JSON, LinePath the Line; JSONPath and TablePath answer exactly what
// `status --json` and `status` print, with the summary and the poller in
// headers (Printed), so the client prints them without decoding a
// thousand accounts. Anything else is 404, any other method 405.
const (
	Path      = "/v1/status"
	LinePath  = "/v1/line"
	JSONPath  = "/v1/status.json"
	TablePath = "/v1/status.txt"
)

// The headers of a printed answer (JSONPath, TablePath).
const (
	headerSchema  = "Quotatui-Schema"
	headerSummary = "Quotatui-Summary" // Summary as JSON
	headerPoller  = "Quotatui-Poller"  // "true" or "false"
)

// Options configure a Server.
type Options struct {
	Dir      string    // the state directory (DefaultDir)
	DB       string    // the database the process runs on: names the socket
	Engine   Engine    // what is answered; read at each request, never the upstream
	Judge    Judge     // the dashboard's words
	Instance *Instance // this process (NewInstance)
	Clock    clock.Clock
	Logger   *slog.Logger
}

// Server answers status queries on this process's socket.
type Server struct {
	opt  Options
	ln   *net.UnixListener
	path string
	once sync.Once
}

// Listen binds this process's socket for opt.DB in opt.Dir, removing the
// sockets of dead processes on the same database first. The socket
// appears under its final name only once it listens, so a client never
// mistakes a starting process for a dead one. Serve answers on it; Close
// (or the end of Serve) removes it.
func Listen(opt Options) (*Server, error) {
	if opt.Dir == "" {
		return nil, ErrNoDir
	}
	if opt.Clock == nil {
		opt.Clock = clock.Real{}
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	tightened, err := prepareDir(opt.Dir)
	if err != nil {
		return nil, err
	}
	if tightened {
		opt.Logger.Info("status: closed the state directory to other users (0700)", "dir", opt.Dir)
	}
	k := key(opt.DB)
	if n := sweep(opt.Dir, k); n > 0 {
		opt.Logger.Info("status: removed the sockets of stopped processes", "count", n)
	}
	name := sockName(k)
	final := filepath.Join(opt.Dir, name)
	tmp := filepath.Join(opt.Dir, "."+name+".tmp") // not a name clients look at
	p, done, err := reachable(tmp)
	if err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
	done()
	if err != nil {
		return nil, fmt.Errorf("statusapi: listen on %s: %w", tmp, err)
	}
	ln.SetUnlinkOnClose(false) // it was bound under another name; Close removes the file
	// The directory is closed to others already; 0600 also keeps them out
	// where it is not (connecting needs write permission on Linux).
	if err := os.Chmod(tmp, 0o600); err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("statusapi: %w", err)
	}
	return &Server{opt: opt, ln: ln, path: final}, nil
}

// sweep removes the dead sockets of key k and returns how many.
func sweep(dir, k string) int {
	socks, _ := sockets(dir, k)
	n := 0
	for _, s := range socks {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := dial(ctx, s.path)
		cancel()
		switch {
		case err == nil:
			c.Close()
		case isDead(err):
			removeStale(s)
			n++
		}
	}
	return n
}

// SocketPath returns the socket's path.
func (s *Server) SocketPath() string { return s.path }

// Serve answers on the socket until ctx ends, then removes the socket. It
// returns nil after ctx ended, or the error that stopped it sooner.
func (s *Server) Serve(ctx context.Context) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.opt.Logger.Handler(), slog.LevelDebug),
	}
	// An answer takes well under a millisecond: closing at once loses
	// nothing a client would not retry by syncing.
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	err := srv.Serve(s.ln)
	s.Close()
	if ctx.Err() != nil || errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("statusapi: %w", err)
}

// Close stops listening and removes the socket; safe to call more than
// once and after Serve.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.ln.Close()
		os.Remove(s.path)
	})
	return nil
}

// Handler returns the HTTP handler the socket serves.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case Path, LinePath, JSONPath, TablePath:
		default:
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "read-only: GET "+r.URL.Path, http.StatusMethodNotAllowed)
			return
		}
		a := Build(s.opt.Engine, s.opt.Judge, s.opt.Instance, s.opt.Clock.Now())
		buf, _ := bodies.Get().(*[]byte)
		if buf == nil {
			buf = new([]byte)
		}
		b, err := s.encode((*buf)[:0], w.Header(), r.URL.Path, a)
		defer func() {
			if cap(b) <= maxPooled {
				*buf = b
				bodies.Put(buf)
			}
		}()
		if err != nil {
			s.opt.Logger.Warn("status: answer not encoded", "err", err)
			http.Error(w, "answer not encoded", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		if r.Method == http.MethodHead {
			return
		}
		if _, err := w.Write(b); err != nil {
			s.opt.Logger.Debug("status: answer not sent", "err", err)
		}
	})
}

// encode appends resource's body made from a to buf, and sets its
// headers in h.
func (s *Server) encode(buf []byte, h http.Header, resource string, a *Answer) ([]byte, error) {
	switch resource {
	case LinePath:
		h.Set("Content-Type", "application/json")
		l := LineOf(a)
		return json.Marshal(&l)
	case Path:
		h.Set("Content-Type", "application/json")
		return appendAnswer(buf, a)
	}
	sum, err := json.Marshal(a.Summary)
	if err != nil {
		return nil, err
	}
	h.Set(headerSchema, Schema)
	h.Set(headerSummary, string(sum))
	h.Set(headerPoller, strconv.FormatBool(a.Instance != nil && a.Instance.Poller))
	if resource == JSONPath {
		h.Set("Content-Type", "application/json")
		return appendJSON(buf, a.Accounts)
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	b := bytes.NewBuffer(buf)
	err = WriteStatus(b, a)
	return b.Bytes(), err
}

// bodies are the buffers answers are encoded in, reused: a thousand
// accounts' JSON is 2 MB, and a fresh one per answer cost the serving
// process as much as the encoding (clearing it, and collecting it).
var bodies sync.Pool // of *[]byte

// maxPooled bounds the buffers kept for the next answer.
const maxPooled = 16 << 20
