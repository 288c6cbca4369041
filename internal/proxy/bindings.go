package proxy

import (
	"bytes"
	"context"
	"log/slog"
	"time"
)

// Bindings keeps which account each conversation is on, by session key
// (the session and the model family). The proxy's own is in memory, for
// one process (SQLite); several instances on one PostgreSQL database share
// theirs in it (*pg.Bindings), so a conversation keeps its account
// whichever instance its requests reach. Options.Bindings picks; nil is
// the in-memory one.
type Bindings interface {
	// Bound returns the account the key is bound to, 0 when none or when
	// it has been idle for longer than the proxy's session idle time.
	// With an error it may still answer (from a cache).
	Bound(ctx context.Context, key string, now time.Time) (int64, error)
	// Bind binds key to account at now; conversation is false for a
	// client's quota-free calls kept together, which Active leaves out.
	Bind(ctx context.Context, key string, account int64, conversation bool, now time.Time) error
	// Sweep forgets the bindings idle for longer than the idle time.
	Sweep(ctx context.Context, now time.Time) error
	// Active counts the conversations with a live binding.
	Active(ctx context.Context, now time.Time) (int, error)
}

// bindingsTimeout bounds one call to a shared Bindings: a request that
// cannot learn its conversation's account in that time picks afresh.
const bindingsTimeout = 2 * time.Second

// memBindings is the in-memory Bindings (sessions.go).
type memBindings struct{ s *sessions }

func (b memBindings) Bound(_ context.Context, key string, now time.Time) (int64, error) {
	return b.s.bound(key, now), nil
}

func (b memBindings) Bind(_ context.Context, key string, account int64, _ bool, now time.Time) error {
	b.s.bind(key, account, now)
	return nil
}

func (b memBindings) Sweep(_ context.Context, now time.Time) error {
	b.s.sweep(now)
	return nil
}

func (b memBindings) Active(_ context.Context, now time.Time) (int, error) {
	return b.s.active(now), nil
}

// bound is the session's bound account (0 for no session); a failure of
// shared bindings is logged (at most once a minute) and the request
// picks on what Bound could still say.
func (m *TokenManager) bound(ctx context.Context, key []byte, now time.Time) int64 {
	if len(key) == 0 {
		return 0
	}
	if mem, ok := m.sessions.(memBindings); ok {
		return mem.s.boundBytes(key, now) // no I/O: no timeout to set (a timer per request)
	}
	ctx, cancel := context.WithTimeout(ctx, bindingsTimeout)
	defer cancel()
	id, err := m.sessions.Bound(ctx, string(key), now)
	if err != nil {
		m.logLimited(slog.LevelWarn, "bindings", "", "the shared session bindings cannot be read; a conversation may change account", "err", err)
	}
	return id
}

// bind binds the session to account (nothing for no session).
func (m *TokenManager) bind(ctx context.Context, key []byte, account int64, now time.Time) {
	if len(key) == 0 {
		return
	}
	if mem, ok := m.sessions.(memBindings); ok {
		mem.s.bindBytes(key, account, now) // no I/O: no timeout to set
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bindingsTimeout)
	defer cancel()
	if err := m.sessions.Bind(ctx, string(key), account, !bytes.HasPrefix(key, []byte(affinityPrefix)), now); err != nil {
		m.logLimited(slog.LevelWarn, "bindings", "", "the shared session bindings cannot be written; another instance may move this conversation", "err", err)
	}
}
