package store

import (
	"context"
	"testing"
	"time"
)

// TestCompactRollsUpAndPrunes records six hours of 5-minute samples that
// all differ, then compacts with a 2h rollup and a 4h retention: the
// first two hours are deleted (in several small chunks), the next two
// rolled up to one point per hour, the last two left raw. (Real settings
// are days; the rules are the same and the test stays fast.)
func TestCompactRollsUpAndPrunes(t *testing.T) {
	s, _ := openTest(t)
	s.pruneChunk = 5 // 24 rows to prune: several chunks
	ctx := context.Background()
	id := addAccounts(t, s, 1)[0]
	const step = 5 * time.Minute
	const n = 6 * 12
	type rec struct {
		at, reset time.Time
		fraction  float64
	}
	recs := make([]rec, n)
	for i := range recs {
		recs[i] = rec{
			at:       t0.Add(time.Duration(i) * step),
			reset:    t0.Add(time.Duration(i/5+1) * time.Hour), // changes inside each hour
			fraction: float64((i*7)%100) / 100,                 // never equal to the previous one
		}
		smp := Sample{AccountID: id, Family: "gemini", Window: "5h", Fraction: recs[i].fraction, ResetTime: recs[i].reset}
		if err := s.RecordSync(ctx, recs[i].at, []Sample{smp}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddEvents(ctx, []Event{{At: t0, Kind: "old"}, {At: t0.Add(2*time.Hour + time.Minute), Kind: "recent"}}); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(6 * time.Hour)
	if err := s.Compact(ctx, now, 2*time.Hour, 4*time.Hour); err != nil {
		t.Fatal(err)
	}

	// What the rules say, computed the simple way.
	var want []Point
	pruneCut, rollCut := t0.Add(2*time.Hour), t0.Add(4*time.Hour)
	for h := pruneCut; h.Before(rollCut); h = h.Add(time.Hour) {
		p := Point{At: h, Fraction: 2, RolledUp: true}
		for _, r := range recs {
			if !r.at.Before(h) && r.at.Before(h.Add(time.Hour)) {
				p.Fraction = min(p.Fraction, r.fraction)
				p.ResetTime, p.LastSeen = r.reset, r.at // the last one in the hour wins
			}
		}
		want = append(want, p)
	}
	for _, r := range recs {
		if !r.at.Before(rollCut) {
			want = append(want, Point{At: r.at, LastSeen: r.at, Fraction: r.fraction, ResetTime: r.reset})
		}
	}
	got, err := s.History(ctx, id, "gemini", "5h", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	assertPoints(t, got, want)

	evs, err := s.Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Kind != "recent" {
		t.Errorf("events after compaction = %+v, want only the recent one", evs)
	}

	// Compacting again changes nothing.
	if err := s.Compact(ctx, now, 2*time.Hour, 4*time.Hour); err != nil {
		t.Fatal(err)
	}
	again, err := s.History(ctx, id, "gemini", "5h", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	assertPoints(t, again, want)
}

// TestCompactKeepsNewestRowThenMergesIt checks that the newest row of a
// series is left raw while RecordSync may still extend it, and is merged
// into its hour once a newer row replaces it.
func TestCompactKeepsNewestRowThenMergesIt(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	id := addAccounts(t, s, 1)[0]
	record := func(at time.Time, f float64) {
		t.Helper()
		if err := s.RecordSync(ctx, at, []Sample{{AccountID: id, Family: "claude-gpt", Window: "weekly", Fraction: f}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	compact := func(now time.Time) {
		t.Helper()
		if err := s.Compact(ctx, now, 24*time.Hour, 0); err != nil {
			t.Fatal(err)
		}
	}
	history := func() []Point {
		t.Helper()
		got, err := s.History(ctx, id, "claude-gpt", "weekly", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	record(t0.Add(10*time.Minute), 0.5)
	record(t0.Add(20*time.Minute), 0.4)
	record(t0.Add(29*time.Hour), 0.4) // unchanged: extends the 0:20 row
	compact(t0.Add(30 * time.Hour))
	assertPoints(t, history(), []Point{
		{At: t0, LastSeen: t0.Add(10 * time.Minute), Fraction: 0.5, RolledUp: true},
		{At: t0.Add(20 * time.Minute), LastSeen: t0.Add(29 * time.Hour), Fraction: 0.4},
	})

	record(t0.Add(30*time.Hour), 0.3)
	compact(t0.Add(30 * time.Hour))
	want := []Point{
		{At: t0, LastSeen: t0.Add(29 * time.Hour), Fraction: 0.4, RolledUp: true},
		{At: t0.Add(30 * time.Hour), LastSeen: t0.Add(30 * time.Hour), Fraction: 0.3},
	}
	assertPoints(t, history(), want)
	latest, err := s.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(latest) != 1 || latest[0].Fraction != 0.3 {
		t.Errorf("latest after compaction = %+v", latest)
	}
	// The default retention (30 days) later removes everything last seen
	// before it, and the series' latest entry with it.
	compact(t0.Add(32 * 24 * time.Hour))
	if got := history(); len(got) != 0 {
		t.Errorf("history past retention = %+v", got)
	}
	if latest, _ := s.Latest(ctx); len(latest) != 0 {
		t.Errorf("latest past retention = %+v", latest)
	}
}
