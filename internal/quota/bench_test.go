package quota

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// benchHitEnv returns a manager whose cache holds one fresh entry.
func benchHitEnv(b *testing.B) (*Manager, int64) {
	b.Helper()
	const email = "bench@example.com"
	e := newEnv(b, cloudcodetest.Options{Clock: clock.Real{}}, Options{Clock: clock.Real{}, CacheTTL: time.Hour},
		cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	e.check(email, "gemini-3-flash")
	return e.m, e.id(email)
}

func BenchmarkCheckQuotaHit(b *testing.B) {
	m, id := benchHitEnv(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if c, err := m.CheckQuota(ctx, id, "gemini-3-flash"); err != nil || !c.Usable {
			b.Fatalf("check: %+v %v", c, err)
		}
	}
}

func BenchmarkCheckQuotaHitParallel(b *testing.B) {
	m, id := benchHitEnv(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if c, err := m.CheckQuota(ctx, id, "gemini-3-flash"); err != nil || !c.Usable {
				b.Errorf("check: %+v %v", c, err)
				return
			}
		}
	})
}

// BenchmarkSyncAll1000 syncs 1000 simulator accounts with 100 ms of
// latency per upstream call. Every run starts with a cold tier cache, so an
// account costs two round trips (loadCodeAssist, then the two quota calls
// at once). efficiency-% = sum of per-account sync times / (wall time ×
// pool size); pool-efficiency-% leaves out the store write at the end
// (persist-s). Run it with -benchtime 1x: one run takes seconds. The
// hanging cases report how much 10 accounts that never answer cost: on a
// first run, and in the steady state where the previous run's slowest
// accounts are started first.
func BenchmarkSyncAll1000(b *testing.B) {
	const n, latency = 1000, 100 * time.Millisecond
	specs := make([]cloudcodetest.AccountSpec, n)
	for i := range specs {
		specs[i] = cloudcodetest.AccountSpec{Email: fmt.Sprintf("acct%04d@example.com", i), TierID: "g1-pro-tier"}
	}
	e := newEnv(b, cloudcodetest.Options{Latency: latency}, Options{}, specs...)
	ctx := context.Background()
	cases := []struct {
		name        string
		concurrency int
		hanging     int
		timeout     time.Duration
		warm        bool // run once untimed first, as the monitor would have
	}{
		{"concurrency=16", 16, 0, 30 * time.Second, false},
		{"concurrency=64", 64, 0, 30 * time.Second, false},
		{"concurrency=64/hanging=10/timeout=2s/first", 64, 10, 2 * time.Second, false},
		{"concurrency=64/hanging=10/timeout=2s/steady", 64, 10, 2 * time.Second, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			m, err := NewManager(ctx, e.up, e.tokens, e.st, Options{Clock: e.clk, Logger: e.m.log,
				Concurrency: c.concurrency, AccountTimeout: c.timeout})
			if err != nil {
				b.Fatal(err)
			}
			for i := range c.hanging {
				e.srv.SetHang(specs[i*(n/c.hanging)].Email, true)
			}
			defer func() {
				for i := range c.hanging {
					e.srv.SetHang(specs[i*(n/c.hanging)].Email, false)
				}
			}()
			if c.warm {
				m.SyncAll(ctx)
			}
			var eff, pool, wall, persist float64
			for b.Loop() {
				b.StopTimer()
				if err := m.ClearTierCache(ctx); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				res := m.SyncAll(ctx)
				if res.OK != n-c.hanging || len(res.Errors) != c.hanging {
					b.Fatalf("synced %d, %d errors, want %d and %d", res.OK, len(res.Errors), n-c.hanging, c.hanging)
				}
				eff += float64(res.AccountTime) / (float64(res.Took) * float64(res.Workers))
				pool += float64(res.AccountTime) / (float64(res.Took-res.Persist) * float64(res.Workers))
				wall += res.Took.Seconds()
				persist += res.Persist.Seconds()
			}
			b.ReportMetric(100*pool/float64(b.N), "pool-efficiency-%")
			b.ReportMetric(persist/float64(b.N), "persist-s")
			b.ReportMetric(100*eff/float64(b.N), "efficiency-%")
			b.ReportMetric(wall/float64(b.N), "wall-s")
		})
	}
}
