package proxy

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

type gateKey struct {
	account int64
	family  cloudcode.Family
}

// lowZone keeps an account's last units from being spent twice: every
// generation request counts as in flight on its (account, family) from
// the moment it is picked until the engine's estimate has it (when the
// upstream accepted it, quota.Manager.Charge; with an engine that counts
// only what is recorded, until its attempt is over), and when the
// engine's estimate says k requests are left, at most k are in flight at
// once (the others go to the next account: several requests arriving on a
// just-emptied account within a millisecond are where the last 429s came
// from). An account in the low zone, or within a few requests of empty,
// or spent by the estimate, also takes one request at a time through its
// gate, re-checked against the upstream before each (select.go).
// What is left is the engine's to say (quota.Check.Left, from its
// estimate); the proxy keeps no figures of its own.
type lowZone struct {
	mu sync.Mutex
	// gates allow one request at a time on an (account, family) in the
	// low zone: with the fresh check before each, concurrent requests
	// cannot together spend more than the account has left.
	gates map[gateKey]chan struct{}
	// flying counts the requests in flight per (account, family).
	flying map[gateKey]*flying
}

// flying is one (account, family)'s requests in flight, and a channel
// closed when one ends while others wait for room.
type flying struct {
	n       int
	waiters int
	freed   chan struct{}
}

func newLowZone() *lowZone {
	return &lowZone{gates: map[gateKey]chan struct{}{}, flying: map[gateKey]*flying{}}
}

// errBusy says an account is serving as many requests as it has room for
// (its low-zone gate is taken, or its last units are in flight).
var errBusy = errors.New("account busy with its last requests")

// errRoomFreed says a request that waited for room on an account may
// look again: one in flight there ended. The limit it waited on came
// from an estimate that has fallen since, so it is not reused.
var errRoomFreed = errors.New("a request in flight on the account ended")

// enter counts a request in flight on k when fewer than limit are (limit
// < 0: no limit). When limit are, it answers errBusy, or with wait it
// waits until one of them ends and answers errRoomFreed. The returned
// flight's leave ends the request; it is safe to call more than once.
func (z *lowZone) enter(ctx context.Context, k gateKey, limit int, wait bool) (*flight, error) {
	z.mu.Lock()
	f := z.flying[k]
	if f == nil {
		f = &flying{}
		z.flying[k] = f
	}
	if limit < 0 || f.n < limit {
		f.n++
		z.mu.Unlock()
		return &flight{z: z, k: k}, nil
	}
	if !wait {
		z.mu.Unlock()
		return nil, errBusy
	}
	if f.freed == nil {
		f.freed = make(chan struct{})
	}
	ch := f.freed
	f.waiters++
	z.mu.Unlock()
	err := errRoomFreed
	select {
	case <-ch:
	case <-ctx.Done():
		err = ctx.Err()
	}
	z.mu.Lock()
	f.waiters--
	z.mu.Unlock()
	return nil, err
}

// flight is one request in flight on an (account, family), from enter;
// one allocation where a func with its sync.Once took three.
type flight struct {
	z    *lowZone
	k    gateKey
	left atomic.Bool
}

// leave ends the request in flight; it is safe to call more than once.
func (f *flight) leave() {
	if f.left.CompareAndSwap(false, true) {
		f.z.leave(f.k)
	}
}

// leave ends one request in flight on k and wakes those waiting for room.
func (z *lowZone) leave(k gateKey) {
	z.mu.Lock()
	defer z.mu.Unlock()
	f := z.flying[k]
	if f == nil {
		return
	}
	f.n--
	if f.freed != nil {
		close(f.freed)
		f.freed = nil
	}
	// The entry stays, at zero: one per (account, family) that ever
	// served, where deleting it cost an allocation per request.
}

// inFlight returns how many requests are in flight on k.
func (z *lowZone) inFlight(k gateKey) int {
	z.mu.Lock()
	defer z.mu.Unlock()
	if f := z.flying[k]; f != nil {
		return f.n
	}
	return 0
}

// acquire takes the low-zone gate of an (account, family), waiting for
// the request that holds it to reach the upstream, or with wait false
// returning errBusy at once.
func (z *lowZone) acquire(ctx context.Context, k gateKey, wait bool) (func(), error) {
	z.mu.Lock()
	g, ok := z.gates[k]
	if !ok {
		g = make(chan struct{}, 1)
		z.gates[k] = g
	}
	z.mu.Unlock()
	var once sync.Once
	release := func() { once.Do(func() { <-g }) }
	if !wait {
		select {
		case g <- struct{}{}:
			return release, nil
		default:
			return nil, errBusy
		}
	}
	select {
	case g <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
