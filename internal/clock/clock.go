// Package clock provides the time source that quotatui's parts share, so
// tests can move time instead of sleeping and the demo can run time faster.
package clock

import (
	"fmt"
	"sync"
	"time"
)

// Clock tells the current time.
type Clock interface {
	Now() time.Time
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now.
func (Real) Now() time.Time { return time.Now() }

// Fake is a manually driven clock for tests. The zero value starts at the
// zero time; use NewFake to start somewhere useful. It is safe for
// concurrent use.
type Fake struct {
	mu  sync.Mutex
	now time.Time
}

// NewFake returns a Fake clock set to t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the fake time forward by d.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// Set moves the fake time to t.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	f.now = t
	f.mu.Unlock()
}

// Scaled runs Factor times faster than the wall clock from the moment it was
// made, starting at Start. The demo uses it so a 5-hour window passes in
// minutes. It is safe for concurrent use.
type Scaled struct {
	mu     sync.Mutex
	start  time.Time
	origin time.Time
	factor float64
	skew   time.Duration
}

// NewScaled returns a clock that reads start now and advances factor times
// faster than real time.
func NewScaled(start time.Time, factor float64) *Scaled {
	return &Scaled{start: start, origin: time.Now(), factor: factor}
}

// Now returns the scaled time.
func (s *Scaled) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	elapsed := time.Since(s.origin)
	return s.start.Add(time.Duration(float64(elapsed)*s.factor) + s.skew)
}

// Advance jumps the scaled clock forward by d.
func (s *Scaled) Advance(d time.Duration) {
	s.mu.Lock()
	s.skew += d
	s.mu.Unlock()
}

// Factor reports how many times faster than real time the clock runs.
func (s *Scaled) Factor() float64 { return s.factor }

// Short renders d in at most two units, the way a countdown is read at a
// glance: "3d4h", "2h10m", "4m05s", "12s". Negative durations read "0s".
func Short(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", d/time.Hour, (d%time.Hour)/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%02ds", d/time.Minute, (d%time.Minute)/time.Second)
	default:
		return fmt.Sprintf("%ds", d/time.Second)
	}
}
