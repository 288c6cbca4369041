package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestSoakSmall runs the soak for a few seconds with every fault kind at a
// high rate: it must stop by itself, judge every answer, leave no
// goroutine behind, and say so in its report.
func TestSoakSmall(t *testing.T) {
	c := soakConfig{duration: 4 * time.Second, speed: 600, rate: 40, clients: 4, accounts: 3, units: 40, seed: 3,
		sample: time.Second, dir: t.TempDir(),
		faults: faultMix{bare: 0.1, capacity: 0.05, hang: 0.02, cut: 0.05, expireEvery: 500 * time.Millisecond}}
	r, err := soak(context.Background(), c, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	var sum [numKinds]int
	for _, m := range r.minutes {
		for k, v := range m.outcomes {
			sum[k] += v
		}
	}
	if total(sum) < 40 || sum[okAnswer] == 0 {
		t.Fatalf("outcomes %v: the soak barely ran", sum)
	}
	if sum[servable] != 0 {
		t.Errorf("%d errors another account could have served: %q", sum[servable], r.samples)
	}
	if r.endGoroutines > r.baseline.goroutines {
		t.Errorf("%d goroutines after the stack closed, %d before it started", r.endGoroutines, r.baseline.goroutines)
	}
	report := r.markdown("quotasoak -test")
	for _, want := range []string{"## Soak run", "| RSS (MB) |", "SERVABLE ERRORS", "none left", "How to read it"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}

// TestFiguresSmall runs the two figures' scenarios briefly.
func TestFiguresSmall(t *testing.T) {
	ctx := context.Background()
	bc := burstConfig{rates: []float64{0.3}, accounts: 4, clients: 4, requests: 60, rate: 200, simLatency: time.Millisecond, seed: 1}
	rs, err := bursts(ctx, bc)
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].requests != 60 || rs[0].upstream429 == 0 {
		t.Errorf("bursts: %+v, want 60 requests and some upstream 429s", rs[0])
	}
	if !strings.Contains(renderBursts(bc, rs, "x"), "| 30 % | 60 |") {
		t.Error("bursts report lacks its row")
	}
	hc := hangConfig{accounts: 4, firstByte: 200 * time.Millisecond, every: 10 * time.Millisecond, lasting: 500 * time.Millisecond, simLatency: time.Millisecond}
	hs, err := hangs(ctx, hc)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if h.times[0] < hc.firstByte || h.failed != 0 || h.hungCalls != 1 {
			t.Errorf("hang %s: first %s, %d failed, %d calls to the hung account; want the timeout once, no failure, 1 call", h.how, h.times[0], h.failed, h.hungCalls)
		}
	}
}
