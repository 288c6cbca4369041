package pg

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Bindings keeps the proxy's session bindings (which account a
// conversation is on) in the database, so a conversation keeps its
// account whichever instance its requests reach. Reads are served from a
// local cache; a binding's owner changing (a new conversation, a move) is
// written through at once and announced, and every other instance drops
// its cached copy when the announcement arrives (within milliseconds). A
// binding that merely goes on being used is written at most every
// touchEvery, enough for idle expiry (proxy.session_idle) to see it.
// Keys are stored as hashes: a client's session id is not kept.
type Bindings struct {
	s      *Store
	idle   time.Duration
	touch  time.Duration
	origin string // this Bindings' mark on its own announcements

	mu    sync.Mutex
	cache map[string]cachedBinding // by hashed key
}

// cachedBinding is what this instance knows of one binding.
type cachedBinding struct {
	account  int64
	lastUsed time.Time // last use seen here (or read from the table)
	stored   time.Time // last_used as written to the table
}

// Bindings returns the store's session bindings for a proxy whose
// sessions end after idle without a request. The first call starts the
// listener (Close stops it).
func (s *Store) Bindings(idle time.Duration) *Bindings {
	b := make([]byte, 6)
	rand.Read(b) // never fails
	bs := &Bindings{s: s, idle: idle, touch: min(max(idle/10, time.Second), time.Minute),
		origin: hex.EncodeToString(b), cache: map[string]cachedBinding{}}
	s.subscribe(bs.notified)
	return bs
}

// notified drops what another instance changed ("" = anything).
func (b *Bindings) notified(payload string) {
	if payload == "" {
		b.mu.Lock()
		clear(b.cache)
		b.mu.Unlock()
		return
	}
	rest, ok := strings.CutPrefix(payload, "s:")
	if !ok {
		return
	}
	origin, h, ok := strings.Cut(rest, ":")
	if !ok || origin == b.origin {
		return
	}
	b.mu.Lock()
	delete(b.cache, h)
	b.mu.Unlock()
}

// hashKey is the stored form of a session key.
func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}

// Bound returns the account the session key is bound to, 0 when none or
// when it has been idle for longer than the idle time. When the table
// cannot be read it answers from the cache and returns the error too.
func (b *Bindings) Bound(ctx context.Context, key string, now time.Time) (int64, error) {
	h := hashKey(key)
	b.mu.Lock()
	c, ok := b.cache[h]
	b.mu.Unlock()
	if ok && now.Sub(c.lastUsed) <= b.idle {
		return c.account, nil
	}
	// Not here, or idle here: another instance may have used it since.
	var account, last int64
	err := b.s.pool.QueryRow(ctx, `SELECT account_id, last_used FROM session_bindings WHERE key = $1`, h).Scan(&account, &last)
	if isNoRows(err) {
		b.forget(h)
		return 0, nil
	}
	if err != nil {
		if ok && now.Sub(c.lastUsed) <= b.idle {
			return c.account, fmt.Errorf("store: session binding: %w", err)
		}
		return 0, fmt.Errorf("store: session binding: %w", err)
	}
	at := fromMS(last)
	if now.Sub(at) > b.idle {
		b.forget(h)
		return 0, nil
	}
	b.mu.Lock()
	b.cache[h] = cachedBinding{account: account, lastUsed: at, stored: at}
	b.mu.Unlock()
	return account, nil
}

func (b *Bindings) forget(h string) {
	b.mu.Lock()
	delete(b.cache, h)
	b.mu.Unlock()
}

// Bind binds the session key to account at now. conversation is false for
// a client's quota-free calls kept together (not counted by Active).
func (b *Bindings) Bind(ctx context.Context, key string, account int64, conversation bool, now time.Time) error {
	h := hashKey(key)
	b.mu.Lock()
	c, ok := b.cache[h]
	if ok && c.account == account && now.Sub(c.stored) < b.touch {
		c.lastUsed = now
		b.cache[h] = c
		b.mu.Unlock()
		return nil
	}
	b.mu.Unlock()
	if ok && c.account == account {
		// Still in use: move last_used on, unless another instance moved
		// the session meanwhile (then its binding stands, and the next
		// request reads it).
		tag, err := b.s.pool.Exec(ctx, `UPDATE session_bindings SET last_used = GREATEST(last_used, $2)
			WHERE key = $1 AND account_id = $3`, h, ms(now), account)
		if err != nil {
			return fmt.Errorf("store: session binding: %w", b.s.noted(err))
		}
		b.mu.Lock()
		if tag.RowsAffected() == 0 {
			delete(b.cache, h)
		} else {
			b.cache[h] = cachedBinding{account: account, lastUsed: now, stored: now}
		}
		b.mu.Unlock()
		return nil
	}
	// A new binding or a move: written and announced in one statement.
	_, err := b.s.pool.Exec(ctx, `WITH up AS (
			INSERT INTO session_bindings (key, account_id, last_used, quota_free) VALUES ($1, $2, $3, $4)
			ON CONFLICT (key) DO UPDATE SET account_id = excluded.account_id, last_used = excluded.last_used
			RETURNING 1)
		SELECT pg_notify($5, $6) FROM up`, h, account, ms(now), !conversation, b.s.channel(), "s:"+b.origin+":"+h)
	if err != nil {
		b.forget(h)
		return fmt.Errorf("store: session binding: %w", b.s.noted(err))
	}
	b.mu.Lock()
	b.cache[h] = cachedBinding{account: account, lastUsed: now, stored: now}
	b.mu.Unlock()
	return nil
}

// Sweep forgets the bindings idle for longer than the idle time, here
// and in the table.
func (b *Bindings) Sweep(ctx context.Context, now time.Time) error {
	b.mu.Lock()
	for h, c := range b.cache {
		if now.Sub(c.lastUsed) > b.idle {
			delete(b.cache, h)
		}
	}
	b.mu.Unlock()
	if _, err := b.s.pool.Exec(ctx, `DELETE FROM session_bindings WHERE last_used < $1`, ms(now.Add(-b.idle))); err != nil {
		return fmt.Errorf("store: sweep session bindings: %w", b.s.noted(err))
	}
	return nil
}

// Active counts the conversations with a live binding, across every
// instance.
func (b *Bindings) Active(ctx context.Context, now time.Time) (int, error) {
	var n int
	if err := b.s.pool.QueryRow(ctx, `SELECT count(*) FROM session_bindings WHERE NOT quota_free AND last_used >= $1`,
		ms(now.Add(-b.idle))).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: active sessions: %w", err)
	}
	return n, nil
}
