package alert

import (
	"context"
	"testing"
)

// BenchmarkScan measures one read of every account's snapshot and the
// derivations on it (states, pools, and the forecast bookkeeping with no
// figure changed since the last look): what the service costs the process
// after each burst of syncs, with 1000 accounts.
func BenchmarkScan(b *testing.B) {
	specs := proAccounts(1000)
	w := newWorld(b, worldOptions{}, specs...)
	for i := range specs {
		if i%3 == 0 {
			w.sim.SetRemaining(specs[i].Email, gemini, w5h, 0.5)
		}
	}
	if r := w.syncAll(); len(r.Errors) != 0 {
		b.Fatalf("sync: %v", r.Errors)
	}
	emitted := 0
	wt := newWatcher(w.q, w.clk, quiet, true, func(Event) { emitted++ })
	ctx := context.Background()
	wt.scan(ctx) // the first look reads the forecasts of the draining families
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		wt.scan(ctx)
	}
}
