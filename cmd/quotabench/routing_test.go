package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/quota"
)

// TestRoutingSmall runs the policy simulation over a working morning: it
// ends by itself, accounts for every request, learns the buckets' sizes
// from the proxy's own traffic, gives the same figures twice for the same
// demand, and writes its table.
func TestRoutingSmall(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bench", "routing.md")
	c := routingConfig{seed: 3, pool: "pro", load: 1.3, weeks: 1, span: 13 * time.Hour,
		policies: []quota.Policy{quota.PolicyBalanced, quota.PolicyResetAware}, out: out}
	var stdout strings.Builder
	if err := runRouting(context.Background(), c, &stdout); err != nil {
		t.Fatal(err)
	}
	report := stdout.String()
	for _, want := range []string{"| balanced | ", "| reset-aware | ", "units lost at weekly resets", "-policies balanced,reset-aware"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != report {
		t.Errorf("written report differs from the printed one (%v)", err)
	}

	peak := c.load * float64(poolCapacity(c.pool)) / (claudeShare * expectedPerPeak(1))
	reqs := demand(c.seed, c.weeks, peak)
	p := quota.PolicyResetAware
	r1, err := routingRun(context.Background(), c, p, reqs)
	if err != nil {
		t.Fatal(err)
	}
	if r1.requests == 0 || r1.served+r1.client429+r1.otherErrors != r1.requests || r1.otherErrors != 0 {
		t.Errorf("%d requests, %d served, %d 429s, %d other errors (%s)", r1.requests, r1.served, r1.client429, r1.otherErrors, r1.sampleError)
	}
	if r1.learned == 0 {
		t.Error("the engine learned no bucket size from the proxy's traffic")
	}
	r2, err := routingRun(context.Background(), c, p, reqs)
	if err != nil {
		t.Fatal(err)
	}
	r1.took, r2.took = 0, 0
	if r1 != r2 {
		t.Errorf("two runs of the same demand differ:\n%+v\n%+v", r1, r2)
	}
}

func TestParsePolicies(t *testing.T) {
	got, err := parsePolicies("reset-aware, balanced,reset-aware")
	if err != nil || len(got) != 2 || got[0] != quota.PolicyResetAware || got[1] != quota.PolicyBalanced {
		t.Errorf("parsePolicies = %v, %v", got, err)
	}
	if _, err := parsePolicies("balanced,round-robin"); err == nil || !strings.Contains(err.Error(), "round-robin") {
		t.Errorf("an unknown policy: %v", err)
	}
}
