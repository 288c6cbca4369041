package quota

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

func TestRankAgainstSimulator(t *testing.T) {
	specs := []struct {
		email  string
		tier   string
		fiveH  float64
		forbid bool
	}{
		{"ultra-unreadable", "g1-ultra-tier", 1, true},
		{"ultra-spent", "g1-ultra-tier", 0, false},
		{"free-full", "free-tier", 1, false},
		{"pro-50-touched", "g1-pro-tier", 0.5, false},
		{"pro-50", "g1-pro-tier", 0.5, false},
		{"pro-80", "g1-pro-tier", 0.8, false},
		{"ultra-low", "g1-ultra-tier", 0.05, false},
	}
	var as []cloudcodetest.AccountSpec
	for _, s := range specs {
		as = append(as, cloudcodetest.AccountSpec{Email: s.email + "@example.com", TierID: s.tier})
	}
	e := newEnv(t, cloudcodetest.Options{}, Options{}, as...)
	for _, s := range specs {
		email := s.email + "@example.com"
		e.srv.SetRemaining(email, cloudcode.FamilyGemini, cloudcode.Window5h, s.fiveH)
		if s.forbid {
			e.srv.Forbid(email, "")
		}
	}
	e.m.SyncAll(context.Background())
	e.m.Touch(e.id("pro-50-touched@example.com"), t0)
	want := []string{
		"ultra-low",        // usable, best tier, even if low
		"pro-80",           // then most remaining
		"pro-50",           // tie on remaining: least recently used first
		"pro-50-touched",   //
		"free-full",        // lower tier loses despite 100 %
		"ultra-unreadable", // 403s on every read: usable on the reactive path, tier never read
		"ultra-spent",      // unusable
	}
	for run := range 3 { // deterministic
		got := e.m.Rank("gemini-3-flash")
		if len(got) != len(want) {
			t.Fatalf("ranked %d accounts, want %d", len(got), len(want))
		}
		for i, w := range want {
			if got[i].Label != w+"@example.com" {
				t.Errorf("run %d: rank %d = %s, want %s", run, i, got[i].Label, w)
			}
		}
	}
	if best, ok := e.m.Best("gemini-3-flash"); !ok || best.Label != "ultra-low@example.com" {
		t.Errorf("Best = %s (ok %v), want the first usable of Rank, ultra-low", best.Label, ok)
	}
	// Taking the best ones away one by one, Best keeps agreeing with Rank.
	for _, gone := range []string{"ultra-low", "pro-80", "pro-50"} {
		e.m.MarkCooldown(e.id(gone+"@example.com"), cloudcode.FamilyGemini, t0.Add(time.Hour), "test")
		var first string
		for _, c := range e.m.Rank("gemini-3-flash") {
			if c.Check.Usable {
				first = c.Label
				break
			}
		}
		if best, _ := e.m.Best("gemini-3-flash"); best.Label != first {
			t.Errorf("without %s: Best = %s, Rank's first usable = %s", gone, best.Label, first)
		}
	}
	if n := e.srv.TotalRequests("fetchAvailableModels"); n != len(specs)-1 {
		t.Errorf("Rank asked the upstream: %d fetches", n)
	}
}

func TestRankLess(t *testing.T) {
	known := func(v float64) cloudcode.Fraction { return cloudcode.KnownFraction(v) }
	c := func(id int64, usable bool, tier cloudcode.Tier, rem cloudcode.Fraction, used int) Candidate {
		var lu time.Time
		if used > 0 {
			lu = t0.Add(time.Duration(used) * time.Minute)
		}
		return Candidate{AccountID: id, Tier: tier, LastUsed: lu, Check: Check{Usable: usable, Remaining: rem}}
	}
	tests := []struct {
		name   string
		before Candidate
		after  Candidate
	}{
		{"usable beats tier", c(2, true, cloudcode.TierFree, known(0.2), 0), c(1, false, cloudcode.TierUltra, known(1), 0)},
		{"ultra beats pro", c(2, true, cloudcode.TierUltra, known(0.2), 0), c(1, true, cloudcode.TierPro, known(1), 0)},
		{"pro beats free", c(2, true, cloudcode.TierPro, known(0.2), 0), c(1, true, cloudcode.TierFree, known(1), 0)},
		{"free beats unknown tier", c(2, true, cloudcode.TierFree, known(0.2), 0), c(1, true, cloudcode.TierUnknown, known(1), 0)},
		{"known beats unknown remaining", c(2, true, cloudcode.TierPro, known(0.01), 0), c(1, true, cloudcode.TierPro, cloudcode.Fraction{}, 0)},
		{"more remaining first", c(2, true, cloudcode.TierPro, known(0.6), 9), c(1, true, cloudcode.TierPro, known(0.5), 0)},
		{"least recently used first", c(2, true, cloudcode.TierPro, known(0.5), 1), c(1, true, cloudcode.TierPro, known(0.5), 2)},
		{"never used first", c(2, true, cloudcode.TierPro, known(0.5), 0), c(1, true, cloudcode.TierPro, known(0.5), 1)},
		{"id breaks the last tie", c(1, true, cloudcode.TierPro, known(0.5), 3), c(2, true, cloudcode.TierPro, known(0.5), 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !rankLess(&tt.before, &tt.after) || rankLess(&tt.after, &tt.before) {
				t.Errorf("want %+v before %+v", tt.before, tt.after)
			}
		})
	}
}

func TestForecast(t *testing.T) {
	const email = "a@example.com"
	e := newEnv(t, cloudcodetest.Options{AccessTokenTTL: 100 * time.Hour}, Options{},
		cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	ctx := context.Background()
	id := e.id(email)
	reset := e.srv.ResetTime(email, cloudcode.FamilyGemini, cloudcode.Window5h)
	// A steady drain of 10 % every 10 minutes: 0.6 per hour.
	for i, f := range []float64{1.0, 0.9, 0.8, 0.7} {
		if i > 0 {
			e.clk.Advance(10 * time.Minute)
		}
		e.srv.SetRemaining(email, cloudcode.FamilyGemini, cloudcode.Window5h, f)
		e.sync(email)
		fc, err := e.m.Forecast(ctx, id, cloudcode.FamilyGemini)
		if err != nil {
			t.Fatal(err)
		}
		if i < 3 {
			if fc.Enough || fc.RunsOutFirst || fc.EmptyIn != 0 {
				t.Errorf("with %d points: forecast %+v, want none yet", i+1, fc)
			}
			continue
		}
		if !fc.Enough || math.Abs(fc.BurnPerHour-0.6) > 1e-9 {
			t.Fatalf("forecast %+v, want a burn of 0.6/h", fc)
		}
		if want := 70 * time.Minute; (fc.EmptyIn - want).Abs() > time.Second {
			t.Errorf("empty in %s, want %s", fc.EmptyIn, want)
		}
		if want := reset.Sub(e.clk.Now()); fc.ResetIn != want || !fc.RunsOutFirst {
			t.Errorf("reset in %s (want %s), runs out first %v (want true)", fc.ResetIn, want, fc.RunsOutFirst)
		}
	}
	hist, err := e.m.History(ctx, id, cloudcode.FamilyGemini, t0)
	if err != nil {
		t.Fatal(err)
	}
	var got []float64
	for _, p := range hist {
		got = append(got, p.Fraction)
	}
	if len(got) < 4 || got[0] != 1 || got[1] != 0.9 || got[2] != 0.8 || got[3] != 0.7 {
		t.Errorf("effective history %v, want 1 0.9 0.8 0.7", got)
	}
}

func TestForecastNotShown(t *testing.T) {
	tests := []struct {
		name      string
		step      time.Duration
		fractions []float64
		resetAt   int // sync index before which the window resets (0 = never)
	}{
		{"four points over six minutes", 2 * time.Minute, []float64{1, 0.9, 0.8, 0.7}, 0},
		{"flat", 10 * time.Minute, []float64{0.5, 0.5, 0.5, 0.5, 0.5}, 0},
		{"rising", 10 * time.Minute, []float64{0.5, 0.6, 0.7, 0.8}, 0},
		{"earlier window ignored", 10 * time.Minute, []float64{1, 0.9, 0.8, 0.7, 0.6}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const email = "a@example.com"
			e := newEnv(t, cloudcodetest.Options{AccessTokenTTL: 100 * time.Hour}, Options{},
				cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
			for i, f := range tt.fractions {
				if i > 0 {
					e.clk.Advance(tt.step)
				}
				if tt.resetAt > 0 && i == tt.resetAt {
					e.clk.Set(e.srv.ResetTime(email, cloudcode.FamilyGemini, cloudcode.Window5h).Add(time.Second))
				}
				e.srv.SetRemaining(email, cloudcode.FamilyGemini, cloudcode.Window5h, f)
				e.sync(email)
			}
			fc, err := e.m.Forecast(context.Background(), e.id(email), cloudcode.FamilyGemini)
			if err != nil || fc.Enough || fc.RunsOutFirst || fc.EmptyIn != 0 {
				t.Errorf("forecast %+v %v, want none", fc, err)
			}
			if fc.ResetIn <= 0 {
				t.Errorf("reset in %s: the reset countdown is known regardless", fc.ResetIn)
			}
		})
	}
}

func TestMonitor(t *testing.T) {
	const email = "a@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	id := e.id(email)

	// Without a monitor, ResyncSoon drops the request and starts nothing.
	e.m.ResyncSoon(id)
	if ms := e.m.MonitorStats(); ms.ResyncDropped != 1 || ms.Monitoring {
		t.Fatalf("ResyncSoon without a monitor: %+v", ms)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.m.StartMonitor(ctx, time.Hour) }()
	waitFor(t, "the first sync", func() bool { return e.m.MonitorStats().SyncsRun == 1 })
	ms := e.m.MonitorStats()
	if next := ms.NextSync.Sub(t0); next < 54*time.Minute || next > 66*time.Minute {
		t.Errorf("next sync in %s, want an hour ±10%%", next)
	}
	if !ms.Monitoring || ms.LastSyncOK != 1 || ms.Cache.Active != 2 {
		t.Errorf("stats after the first sync: %+v", ms)
	}
	if err := e.m.StartMonitor(ctx, time.Hour); !errors.Is(err, ErrMonitorRunning) {
		t.Errorf("second monitor: %v", err)
	}
	e.m.ResyncSoon(id)
	waitFor(t, "the resync", func() bool { return e.srv.Requests(email, "fetchAvailableModels") == 2 })
	e.m.Publish(Event{Kind: EventSwitch, AccountID: id, Message: "switched"})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("StartMonitor returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("StartMonitor did not return after cancel")
	}
	if ms := e.m.MonitorStats(); ms.Monitoring {
		t.Error("still monitoring after stop")
	}
	evs, err := e.m.RecentEvents(context.Background(), id, 1)
	if err != nil || len(evs) != 1 || evs[0].Kind != EventSwitch {
		t.Errorf("event published while stopping not persisted: %+v %v", evs, err)
	}

	// A short interval: syncs keep coming until stopped.
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { done <- e.m.StartMonitor(ctx2, 10*time.Millisecond) }()
	waitFor(t, "repeated syncs", func() bool { return e.m.MonitorStats().SyncsRun >= 4 })
	cancel2()
	if err := <-done; err != nil {
		t.Errorf("second run returned %v", err)
	}
}
