package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

// addAccounts stores n accounts and returns their ids.
func addAccounts(t testing.TB, s *Store, n int) []int64 {
	t.Helper()
	in := make([]Account, n)
	for i := range in {
		in[i] = Account{Email: fmt.Sprintf("user%04d@example.com", i), RefreshToken: "rt"}
	}
	out, err := s.UpsertAccounts(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, n)
	for i, a := range out {
		ids[i] = a.ID
	}
	return ids
}

// bothLookups runs f on a store that looks every series up one by one
// and on one that preloads them all (RecordSync picks by batch size).
func bothLookups(t *testing.T, f func(t *testing.T, s *Store)) {
	for _, tt := range []struct {
		name string
		bulk int
	}{{"per sample", math.MaxInt}, {"preloaded", 1}} {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTest(t)
			s.bulkSamples = tt.bulk
			f(t, s)
		})
	}
}

func TestRecordSyncStoresChangesOnly(t *testing.T) { bothLookups(t, testRecordSyncStoresChangesOnly) }

func testRecordSyncStoresChangesOnly(t *testing.T, s *Store) {
	ctx := context.Background()
	id := addAccounts(t, s, 1)[0]
	reset1, reset2 := t0.Add(5*time.Hour), t0.Add(10*time.Hour)
	min5 := func(n int) time.Time { return t0.Add(time.Duration(n) * 5 * time.Minute) }
	steps := []struct {
		fraction float64
		reset    time.Time
	}{
		{0.9, reset1}, // new row
		{0.9, reset1}, // unchanged: last_seen moves
		{0.9, reset1},
		{0.5, reset1}, // fraction changed
		{0.5, reset2}, // reset time changed
		{0.5, reset2},
		{0.9, reset1}, // back to an old figure: still a change
	}
	for i, st := range steps {
		smp := Sample{AccountID: id, Family: "gemini", Window: "5h", Fraction: st.fraction, ResetTime: st.reset}
		if err := s.RecordSync(ctx, min5(i), []Sample{smp}, nil); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.History(ctx, id, "gemini", "5h", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Point{
		{At: min5(0), LastSeen: min5(2), Fraction: 0.9, ResetTime: reset1},
		{At: min5(3), LastSeen: min5(3), Fraction: 0.5, ResetTime: reset1},
		{At: min5(4), LastSeen: min5(5), Fraction: 0.5, ResetTime: reset2},
		{At: min5(6), LastSeen: min5(6), Fraction: 0.9, ResetTime: reset1},
	}
	assertPoints(t, got, want)
	latest, err := s.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(latest) != 1 || latest[0].Fraction != 0.9 || !latest[0].ResetTime.Equal(reset1) || !latest[0].LastSeen.Equal(min5(6)) {
		t.Errorf("latest = %+v", latest)
	}
}

func assertPoints(t *testing.T, got, want []Point) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d points, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.At.Equal(w.At) || !g.LastSeen.Equal(w.LastSeen) || g.Fraction != w.Fraction || !g.ResetTime.Equal(w.ResetTime) || g.RolledUp != w.RolledUp {
			t.Errorf("point %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestRecordSyncSameSeriesTwiceInABatch(t *testing.T) {
	bothLookups(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		id := addAccounts(t, s, 1)[0]
		smp := func(f float64) Sample { return Sample{AccountID: id, Family: "gemini", Window: "5h", Fraction: f} }
		if err := s.RecordSync(ctx, t0, []Sample{smp(0.5), smp(0.5), smp(0.4)}, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordSync(ctx, t0.Add(time.Minute), []Sample{smp(0.4)}, nil); err != nil {
			t.Fatal(err)
		}
		got, err := s.History(ctx, id, "gemini", "5h", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		// The batch's last sample is the latest; the next sync only extends it.
		if len(got) != 2 || got[1].Fraction != 0.4 || !got[1].LastSeen.Equal(t0.Add(time.Minute)) {
			t.Errorf("history = %+v", got)
		}
	})
}

func TestHistorySince(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	id := addAccounts(t, s, 1)[0]
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	// 0.8 from hour 0 (still seen at hour 2), 0.6 from hour 3, still seen at hour 5.
	record := func(h int, f float64) {
		t.Helper()
		if err := s.RecordSync(ctx, at(h), []Sample{{AccountID: id, Family: "gemini", Window: "weekly", Fraction: f}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	record(0, 0.8)
	record(2, 0.8)
	record(3, 0.6)
	record(5, 0.6)
	p08 := Point{At: at(0), LastSeen: at(2), Fraction: 0.8}
	p06 := Point{At: at(3), LastSeen: at(5), Fraction: 0.6}
	tests := []struct {
		name  string
		since time.Time
		want  []Point
	}{
		{"everything", time.Time{}, []Point{p08, p06}},
		{"inside the first point's span keeps it", at(1), []Point{p08, p06}},
		{"at the first point's last sighting", at(2), []Point{p08, p06}},
		{"after the first point's last sighting", at(2).Add(time.Minute), []Point{p06}},
		{"a figure unchanged for hours still shows", at(4), []Point{p06}},
		{"after the last sighting", at(6), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.History(ctx, id, "gemini", "weekly", tt.since)
			if err != nil {
				t.Fatal(err)
			}
			assertPoints(t, got, tt.want)
		})
	}
	if got, _ := s.History(ctx, id, "gemini", "5h", time.Time{}); len(got) != 0 {
		t.Errorf("other window's history = %+v", got)
	}
}

func TestRecordSyncSkipsDeletedAccounts(t *testing.T) {
	bothLookups(t, testRecordSyncSkipsDeletedAccounts)
}

func testRecordSyncSkipsDeletedAccounts(t *testing.T, s *Store) {
	ctx := context.Background()
	ids := addAccounts(t, s, 2)
	const deleted = 9999
	samples := []Sample{
		{AccountID: ids[0], Family: "gemini", Window: "5h", Fraction: 0.5},
		{AccountID: deleted, Family: "gemini", Window: "5h", Fraction: 0.5},
		{AccountID: deleted, Family: "gemini", Window: "weekly", Fraction: 0.5},
		{AccountID: ids[1], Family: "gemini", Window: "5h", Fraction: 0.7},
	}
	events := []Event{{Kind: "x", AccountID: deleted}, {Kind: "y", AccountID: ids[1]}, {Kind: "z"}}
	err := s.RecordSync(ctx, t0, samples, events)
	var skipped *SkippedError
	if !errors.As(err, &skipped) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want a *SkippedError matching ErrNotFound", err)
	}
	if skipped.Samples != 2 || skipped.Events != 1 || len(skipped.AccountIDs) != 1 || skipped.AccountIDs[0] != deleted {
		t.Errorf("skipped = %+v", skipped)
	}
	latest, _ := s.Latest(ctx)
	if len(latest) != 2 {
		t.Errorf("latest after a partly skipped batch = %+v, want the 2 existing accounts' samples", latest)
	}
	evs, _ := s.Events(ctx, 0, 0)
	if len(evs) != 2 {
		t.Errorf("events after a partly skipped batch = %+v", evs)
	}
	if err := s.AddEvents(ctx, []Event{{Kind: "x", AccountID: deleted}}); !errors.As(err, &skipped) || skipped.Events != 1 {
		t.Errorf("AddEvents for a deleted account: %v", err)
	}
}

func TestRecordSyncRejectsBadSamplesWholly(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	id := addAccounts(t, s, 1)[0]
	good := Sample{AccountID: id, Family: "gemini", Window: "5h", Fraction: 0.5}
	tests := []struct {
		name string
		bad  Sample
		want string
	}{
		{"no family", Sample{AccountID: id, Window: "5h"}, "sample 1: empty family"},
		{"no window", Sample{AccountID: id, Family: "gemini"}, "sample 1: empty window"},
		{"NaN", Sample{AccountID: id, Family: "gemini", Window: "weekly", Fraction: math.NaN()}, "sample 1: fraction NaN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.RecordSync(ctx, t0, []Sample{good, tt.bad}, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
			if latest, _ := s.Latest(ctx); len(latest) != 0 {
				t.Errorf("a rejected batch wrote %+v", latest)
			}
		})
	}
}

func TestEventsOrderAndFilter(t *testing.T) {
	s, now := openTest(t)
	*now = t0.Add(time.Hour)
	ctx := context.Background()
	ids := addAccounts(t, s, 2)
	var events []Event
	for i := range 6 {
		events = append(events, Event{At: t0.Add(time.Duration(i) * time.Minute), AccountID: ids[i%2], Kind: fmt.Sprint("k", i), Family: "gemini"})
	}
	events = append(events, Event{Kind: "global"}) // zero At: now, the newest
	if err := s.AddEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		account   int64
		limit     int
		wantKinds string
	}{
		{"all", 0, 0, "global k5 k4 k3 k2 k1 k0"},
		{"limited", 0, 2, "global k5"},
		{"one account", ids[1], 0, "k5 k3 k1"},
		{"one account limited", ids[0], 1, "k4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Events(ctx, tt.account, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, e := range got {
				kinds = append(kinds, e.Kind)
			}
			if k := strings.Join(kinds, " "); k != tt.wantKinds {
				t.Errorf("kinds = %q, want %q", k, tt.wantKinds)
			}
		})
	}
}

func TestCounters(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	if err := s.SaveCounters(ctx, map[string]int64{"a": 1, "b": 2}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveCounters(ctx, map[string]int64{"b": 5, "c": 7}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got["a"] != 1 || got["b"] != 5 || got["c"] != 7 {
		t.Errorf("counters = %v, want a=1 b=5 c=7", got)
	}
}

// TestConcurrentReadersWhileWriting runs readers beside the writer: under
// -race it checks the store's own state, and the readers check that a
// sync is visible all at once or not at all.
func TestConcurrentReadersWhileWriting(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	const accounts = 10
	ids := addAccounts(t, s, accounts)
	const syncs = 12
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				latest, err := s.Latest(ctx)
				if err != nil {
					errs <- err
					return
				}
				// Every sync writes 2 series per account in one transaction,
				// with one fraction for the whole sync.
				if n := len(latest); n != 0 && n != 2*accounts {
					errs <- fmt.Errorf("reader %d saw %d latest rows: a half-written sync", r, n)
					return
				}
				for _, l := range latest[min(1, len(latest)):] {
					if l.Fraction != latest[0].Fraction {
						errs <- fmt.Errorf("reader %d saw fractions %v and %v in one snapshot", r, latest[0].Fraction, l.Fraction)
						return
					}
				}
				if _, err := s.History(ctx, ids[r], "gemini", "5h", time.Time{}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for i := range syncs {
		var samples []Sample
		f := float64(i) / syncs
		for _, id := range ids {
			samples = append(samples,
				Sample{AccountID: id, Family: "gemini", Window: "5h", Fraction: f},
				Sample{AccountID: id, Family: "gemini", Window: "weekly", Fraction: f})
		}
		if err := s.RecordSync(ctx, t0.Add(time.Duration(i)*time.Minute), samples, []Event{{Kind: "sync_finished"}}); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, err := s.History(ctx, ids[0], "gemini", "5h", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != syncs {
		t.Errorf("%d history points, want %d", len(got), syncs)
	}
}

// A reset time that jitters by a second between answers is the same
// reset: no history row per sync. A window that rolled over is a new row.
func TestRecordSyncToleratesResetJitter(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	accts, err := s.UpsertAccounts(ctx, []Account{{Email: "j@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	id := accts[0].ID
	reset := t0.Add(5 * time.Hour)
	for i, r := range []time.Time{reset, reset.Add(time.Second), reset.Add(-time.Second), reset.Add(1500 * time.Millisecond)} {
		smp := Sample{AccountID: id, Family: "gemini", Window: "5h", Fraction: 0.5, ResetTime: r}
		if err := s.RecordSync(ctx, t0.Add(time.Duration(i)*time.Minute), []Sample{smp}, nil); err != nil {
			t.Fatal(err)
		}
	}
	h, err := s.History(ctx, id, "gemini", "5h", t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || !h[0].LastSeen.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("history %+v, want one row seen until the last sync", h)
	}
	next := Sample{AccountID: id, Family: "gemini", Window: "5h", Fraction: 0.5, ResetTime: reset.Add(5 * time.Hour)}
	if err := s.RecordSync(ctx, t0.Add(time.Hour), []Sample{next}, nil); err != nil {
		t.Fatal(err)
	}
	if h, _ = s.History(ctx, id, "gemini", "5h", t0.Add(-time.Hour)); len(h) != 2 {
		t.Errorf("a rolled-over window did not add a row: %+v", h)
	}
}
