package proxy

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// logInterval is how often one kind of line about one account may reach
// the log: an operator learns that an account keeps timing out without a
// line per request.
const logInterval = time.Minute

// logLimiter lets one line per key through per interval, and counts the
// lines it held back so the next line can say how many there were.
type logLimiter struct {
	every time.Duration

	mu   sync.Mutex
	last map[string]*logSlot
}

type logSlot struct {
	at   time.Time
	held int
}

func newLogLimiter(every time.Duration) *logLimiter {
	return &logLimiter{every: every, last: map[string]*logSlot{}}
}

// allow reports whether a line for key may go out now, and how many were
// held back since the last one that did.
func (l *logLimiter) allow(key string, now time.Time) (held int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.last[key]
	if s != nil && now.Sub(s.at) < l.every {
		s.held++
		return 0, false
	}
	if s == nil {
		if len(l.last) > 4096 {
			clear(l.last) // keys are per account and kind; this only bounds a leak
		}
		s = &logSlot{}
		l.last[key] = s
	}
	held, s.at, s.held = s.held, now, 0
	return held, true
}

// logLimited logs a line about an account at most once per logInterval per
// (kind, account), saying how many like it were held back.
func (s *Server) logLimited(level slog.Level, kind, account, msg string, args ...any) {
	logLimitedTo(s.log, s.logs, level, kind, account, msg, args...)
}

func logLimitedTo(log *slog.Logger, lim *logLimiter, level slog.Level, kind, account, msg string, args ...any) {
	held, ok := lim.allow(kind+"\x00"+account, time.Now())
	if !ok {
		return
	}
	args = append(args, "account", account)
	if held > 0 {
		args = append(args, "similar_lines_held_back", held)
	}
	log.Log(context.Background(), level, msg, args...)
}
