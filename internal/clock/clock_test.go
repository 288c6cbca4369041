package clock

import (
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestFakeAdvanceAndSet(t *testing.T) {
	f := NewFake(t0)
	f.Advance(90 * time.Minute)
	if got, want := f.Now(), t0.Add(90*time.Minute); !got.Equal(want) {
		t.Fatalf("after Advance: %v, want %v", got, want)
	}
	f.Set(t0)
	if !f.Now().Equal(t0) {
		t.Fatalf("after Set: %v, want %v", f.Now(), t0)
	}
}

func TestFakeConcurrentUse(t *testing.T) {
	f := NewFake(t0)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				f.Advance(time.Second)
				_ = f.Now()
			}
		})
	}
	wg.Wait()
	if got, want := f.Now(), t0.Add(800*time.Second); !got.Equal(want) {
		t.Fatalf("after 800 concurrent one-second advances: %v, want %v", got, want)
	}
}

func TestScaledRunsFasterAndAdvances(t *testing.T) {
	s := NewScaled(t0, 3600) // one simulated hour per real second
	if s.Factor() != 3600 {
		t.Fatalf("Factor = %v", s.Factor())
	}
	first := s.Now()
	if first.Before(t0) {
		t.Fatalf("scaled clock starts before its start: %v", first)
	}
	// Poll (no sleep-and-hope): the scaled clock must move at least a
	// simulated minute within a real second.
	deadline := time.Now().Add(2 * time.Second)
	for s.Now().Sub(first) < time.Minute {
		if time.Now().After(deadline) {
			t.Fatalf("scaled clock moved only %v in 2 s of real time", s.Now().Sub(first))
		}
		time.Sleep(time.Millisecond)
	}
	before := s.Now()
	s.Advance(24 * time.Hour)
	if d := s.Now().Sub(before); d < 24*time.Hour {
		t.Fatalf("Advance(24h) moved the clock by %v", d)
	}
}

func TestRealIsWallClock(t *testing.T) {
	if d := time.Since(Real{}.Now()); d < 0 || d > time.Minute {
		t.Fatalf("Real.Now is %v away from time.Now", d)
	}
}
