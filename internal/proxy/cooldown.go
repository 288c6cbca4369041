package proxy

import (
	"sync"
	"time"
)

// backoff sizes the cooldown of an (account, family) after a short-lived
// refusal (a 429 without details, a timeout): short the first time, twice
// as long at each repeat up to max, and short again after a success or
// once the refusals stop for a while. A burst of detail-less 429s then
// takes an account out for a moment, not for ten seconds, and the pool
// stays up.
type backoff struct {
	first, max time.Duration

	mu     sync.Mutex
	streak map[gateKey]*streak
}

// streak is one (account, family)'s run of refusals.
type streak struct {
	n    int       // refusals in a row
	last time.Time // the last one
}

func newBackoff(first, max time.Duration) *backoff {
	return &backoff{first: first, max: max, streak: map[gateKey]*streak{}}
}

// next records a refusal at now and returns how long to cool down.
func (b *backoff) next(k gateKey, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.streak[k]
	if s == nil || now.Sub(s.last) > 2*b.max {
		s = &streak{}
		b.streak[k] = s
	}
	d := b.first
	for range s.n {
		if d *= 2; d >= b.max {
			d = b.max
			break
		}
	}
	s.n++
	s.last = now
	return d
}

// reset forgets the streak after a success.
func (b *backoff) reset(k gateKey) {
	b.mu.Lock()
	if len(b.streak) > 0 {
		delete(b.streak, k)
	}
	b.mu.Unlock()
}

// suspects are accounts that let a call time out. They rank after every
// other account until a request on them succeeds, so that once its
// cooldown ends a hung account does not make the next conversation wait
// out the first-byte timeout again while other accounts can serve. (A
// successful quota sync proves nothing here: an account whose generation
// hangs after its headers still answers its quota reads.) A suspect is
// still used when no other account can serve, and cleared when it answers.
type suspects struct {
	mu    sync.Mutex
	since map[int64]time.Time
}

func newSuspects() *suspects { return &suspects{since: map[int64]time.Time{}} }

func (s *suspects) add(id int64, at time.Time) {
	s.mu.Lock()
	if _, ok := s.since[id]; !ok {
		s.since[id] = at
	}
	s.mu.Unlock()
}

func (s *suspects) clear(id int64) {
	s.mu.Lock()
	if len(s.since) > 0 {
		delete(s.since, id)
	}
	s.mu.Unlock()
}

// is reports whether id is suspect.
func (s *suspects) is(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.since[id]
	return ok
}

// any reports whether there is any suspect (the common case is none).
func (s *suspects) any() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.since) > 0
}
