package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/store"
)

// testCompactMatchesSQLite writes the same randomized history to the
// backend and to a SQLite store, compacts both again and again as it
// grows, and compares every series' history and the latest figures. The
// SQLite rollup is itself checked against the pre-issue-18 algorithm
// (store's TestRollupMatchesReference), so this pins every backend to
// that result: figures that repeat (rows extended), rows on the hour and
// two syncs at one moment (the reset's ties), series whose newest row is
// old (merged into a rolled-up hour later), pruning, and more accounts
// than one rollup transaction takes (50).
func testCompactMatchesSQLite(t *testing.T, open Opener) {
	s, _ := open(t)
	ref, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "ref.db"))
	must(t, err)
	t.Cleanup(func() { ref.Close() })
	ctx := context.Background()
	const accounts = 60
	ids, refIDs := addAccounts(t, s, accounts), addAccounts(t, ref, accounts)
	rng := rand.New(rand.NewPCG(18, 0x5eed))
	families, windows := []string{"gemini", "claude-gpt"}, []string{"5h", "weekly"}
	fractions := []float64{0, 0.25, 0.5, 0.75, 1}
	type key struct {
		i    int
		f, w string
	}
	current := map[key]store.Sample{}
	at, onHour := t0, true
	for step := range 60 {
		change := 2 // in 10: figures change seldom, so rows live long
		switch r := rng.IntN(10); {
		case r == 0 || onHour && r < 5: // the same moment again
			change = 7
		case r == 1:
			at = at.Truncate(time.Hour).Add(time.Hour)
		default:
			at = at.Add(time.Duration(5+rng.IntN(40)) * time.Minute)
		}
		onHour = at.Equal(at.Truncate(time.Hour))
		var samples, refSamples []store.Sample
		for i := range accounts {
			if rng.IntN(3) == 0 {
				continue
			}
			for _, f := range families {
				for _, w := range windows {
					k := key{i, f, w}
					if _, ok := current[k]; !ok || rng.IntN(10) < change {
						current[k] = store.Sample{Family: f, Window: w, Fraction: fractions[rng.IntN(len(fractions))],
							ResetTime: t0.Add(time.Duration(rng.IntN(4)) * 7 * time.Hour)}
					}
					smp := current[k]
					smp.AccountID = ids[i]
					samples = append(samples, smp)
					smp.AccountID = refIDs[i]
					refSamples = append(refSamples, smp)
				}
			}
		}
		must(t, s.RecordSync(ctx, at, samples, nil))
		must(t, ref.RecordSync(ctx, at, refSamples, nil))
		if step%10 != 9 {
			continue
		}
		rollupAfter := time.Duration(1+rng.IntN(3)) * time.Hour
		retention := time.Duration(12+rng.IntN(12)) * time.Hour
		now := at.Add(time.Duration(rng.IntN(60)) * time.Minute)
		must(t, s.Compact(ctx, now, rollupAfter, retention))
		must(t, ref.Compact(ctx, now, rollupAfter, retention))
		for i := range accounts {
			for _, f := range families {
				for _, w := range windows {
					got, err := s.History(ctx, ids[i], f, w, time.Time{})
					must(t, err)
					want, err := ref.History(ctx, refIDs[i], f, w, time.Time{})
					must(t, err)
					t.Run(fmt.Sprintf("step %d account %d %s %s", step, i, f, w), func(t *testing.T) { assertPoints(t, got, want) })
				}
			}
		}
	}
	latest, err := s.Latest(ctx)
	must(t, err)
	refLatest, err := ref.Latest(ctx)
	must(t, err)
	if len(latest) != len(refLatest) {
		t.Fatalf("%d latest figures, the SQLite store has %d", len(latest), len(refLatest))
	}
	for i := range latest {
		g, w := latest[i], refLatest[i]
		if g.Family != w.Family || g.Window != w.Window || g.Fraction != w.Fraction || !g.ResetTime.Equal(w.ResetTime) || !g.LastSeen.Equal(w.LastSeen) {
			t.Errorf("latest %d = %+v, the SQLite store has %+v", i, g, w)
		}
	}
}
