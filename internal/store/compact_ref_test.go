package store

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// The rollup as it was before issue 18 (rows read into Go, grouped there,
// one transaction per account), kept as the reference the SQL rollup must
// match: TestRollupMatchesReference.

// oldRollup is a batch function for Store.rollup that runs the reference
// rollup account by account.
func (s *Store) oldRollup(ctx context.Context, ids []int64, cut int64) error {
	for _, id := range ids {
		if err := s.oldRollupAccount(ctx, id, cut); err != nil {
			return fmt.Errorf("account %d: %w", id, err)
		}
	}
	return nil
}

// histRow is one quota_history row during a rollup.
type histRow struct {
	id              int64
	family, bucket  string
	fraction        float64
	reset, at, seen int64
	rolledUp        bool
}

// hourKey names one rollup group.
type hourKey struct {
	family, bucket string
	hour           int64 // Unix ms of the hour's start
}

// rawRowsQuery finds an account's (?1) raw rows older than ?2, except the
// newest of each series. The partial index on raw rows makes this cheap
// however long the rolled-up history is.
const rawRowsQuery = `SELECT id, family, bucket, fraction, reset_time, at, last_seen, rolled_up
	FROM quota_history INDEXED BY quota_history_raw
	WHERE account_id = ?1 AND rolled_up = 0 AND at < ?2
	AND id NOT IN (SELECT history_id FROM quota_latest WHERE account_id = ?1)`

// oldRollupAccount rolls up one account's raw rows older than cut (an hour
// boundary) in one transaction. Each hour that holds a raw row is merged
// with any row already rolled up for that hour (a series' newest row is
// rolled up later than the rest of its hour).
func (s *Store) oldRollupAccount(ctx context.Context, accountID, cut int64) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	raw, err := queryHistRows(ctx, tx, rawRowsQuery, accountID, cut)
	if err != nil {
		return err
	}
	if len(raw) == 0 {
		return nil
	}
	groups := make(map[hourKey][]histRow)
	var order []hourKey
	for _, r := range raw {
		k := hourKey{r.family, r.bucket, r.at - r.at%hourMS}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	rolled, err := tx.PrepareContext(ctx, `SELECT id, family, bucket, fraction, reset_time, at, last_seen, rolled_up
		FROM quota_history WHERE account_id = ? AND family = ? AND bucket = ? AND at >= ? AND at < ? AND rolled_up = 1`)
	if err != nil {
		return err
	}
	defer rolled.Close()
	del, err := tx.PrepareContext(ctx, `DELETE FROM quota_history WHERE id = ?`)
	if err != nil {
		return err
	}
	defer del.Close()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO quota_history (account_id, family, bucket, fraction, reset_time, at, last_seen, rolled_up)
		VALUES (?, ?, ?, ?, ?, ?, ?, 1)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	for _, k := range order {
		rows, err := scanHistRows(rolled.QueryContext(ctx, accountID, k.family, k.bucket, k.hour, k.hour+hourMS))
		if err != nil {
			return err
		}
		rows = append(rows, groups[k]...)
		agg := histRow{fraction: rows[0].fraction}
		var lastAt int64 = -1
		for _, r := range rows {
			agg.fraction = min(agg.fraction, r.fraction)
			agg.seen = max(agg.seen, r.seen)
			if r.at >= lastAt { // ties: the later row (raw after rolled, then by id)
				lastAt, agg.reset = r.at, r.reset
			}
			if _, err := del.ExecContext(ctx, r.id); err != nil {
				return fmt.Errorf("delete row %d: %w", r.id, err)
			}
		}
		if _, err := ins.ExecContext(ctx, accountID, k.family, k.bucket, agg.fraction, agg.reset, k.hour, agg.seen); err != nil {
			return fmt.Errorf("insert rollup: %w", err)
		}
	}
	return tx.Commit()
}

func queryHistRows(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]histRow, error) {
	return scanHistRows(tx.QueryContext(ctx, query, args...))
}

func scanHistRows(rows *sql.Rows, err error) ([]histRow, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []histRow
	for rows.Next() {
		var r histRow
		if err := rows.Scan(&r.id, &r.family, &r.bucket, &r.fraction, &r.reset, &r.at, &r.seen, &r.rolledUp); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// TestRollupMatchesReference compacts the same randomized history with the
// SQL rollup and with the reference one, again and again as it grows, and
// compares every row and what quota_latest points at. The history has
// what the rules are about: figures that repeat (rows extended), rows on
// the hour and several rows at the same moment (the reset's ties), series
// whose newest row is old (rolled up later, merged into a rolled-up
// hour), pruning, and more accounts than one rollup batch takes.
func TestRollupMatchesReference(t *testing.T) {
	for seed := range uint64(2) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(seed, 0x5eed))
			sqlStore, _ := openTest(t)
			refStore, _ := openTest(t)
			sqlStore.rollupBatch, refStore.rollupBatch = 4, 4
			const accounts = 15
			ids := addAccounts(t, sqlStore, accounts)
			if refIDs := addAccounts(t, refStore, accounts); !slices.Equal(ids, refIDs) {
				t.Fatalf("account ids differ: %v, %v", ids, refIDs)
			}
			families, windows := []string{"gemini", "claude-gpt"}, []string{"5h", "weekly"}
			fractions := []float64{0, 0.25, 0.5, 0.75, 1}
			type seriesKey struct {
				id   int64
				f, w string
			}
			current := map[seriesKey]Sample{}
			at, onHour := t0, true
			compactions := 0
			for step := range 120 {
				// Figures change seldom, so rows live long and some stay
				// a series' newest past the cut; often on the hour
				// itself, where a second sync at the same moment makes
				// the reset's ties (raw and rolled-up rows of one hour
				// both at its start).
				change := 2
				switch r := rng.IntN(10); {
				case r == 0 || onHour && r < 5: // the same moment again
					change = 7
				case r == 1: // on the hour
					at = at.Truncate(time.Hour).Add(time.Hour)
				default:
					at = at.Add(time.Duration(1+rng.IntN(20)) * time.Minute)
				}
				onHour = at.Equal(at.Truncate(time.Hour))
				var samples []Sample
				for _, id := range ids {
					if rng.IntN(3) == 0 {
						continue // not synced this time
					}
					for _, f := range families {
						for _, w := range windows {
							if rng.IntN(4) == 0 {
								continue
							}
							k := seriesKey{id, f, w}
							if _, ok := current[k]; !ok || rng.IntN(10) < change {
								current[k] = Sample{AccountID: id, Family: f, Window: w,
									Fraction:  fractions[rng.IntN(len(fractions))],
									ResetTime: t0.Add(time.Duration(rng.IntN(4)) * 7 * time.Hour)}
							}
							samples = append(samples, current[k])
						}
					}
				}
				for _, s := range []*Store{sqlStore, refStore} {
					if err := s.RecordSync(ctx, at, samples, nil); err != nil {
						t.Fatal(err)
					}
				}
				if step%8 != 7 {
					continue
				}
				compactions++
				rollupAfter := time.Duration(1+rng.IntN(3)) * time.Hour
				retention := time.Duration(12+rng.IntN(24)) * time.Hour
				now := at.Add(time.Duration(rng.IntN(60)) * time.Minute)
				if err := sqlStore.Compact(ctx, now, rollupAfter, retention); err != nil {
					t.Fatal(err)
				}
				if err := refStore.prune(ctx, now, retention); err != nil {
					t.Fatal(err)
				}
				if err := refStore.rollup(ctx, ms(now.Add(-rollupAfter).Truncate(time.Hour)), refStore.oldRollup); err != nil {
					t.Fatal(err)
				}
				got, want := dumpHistory(t, sqlStore), dumpHistory(t, refStore)
				if !slices.Equal(got, want) {
					t.Fatalf("after compaction %d (step %d): the SQL rollup left\n%s\nthe reference\n%s",
						compactions, step, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
			var rolled int
			if err := sqlStore.read.QueryRowContext(ctx, `SELECT count(*) FROM quota_history WHERE rolled_up = 1`).Scan(&rolled); err != nil {
				t.Fatal(err)
			}
			if rolled == 0 {
				t.Fatal("nothing was rolled up: the test tests nothing")
			}
		})
	}
}

// dumpHistory lists every history row (without its id) in a stable
// order, a row quota_latest points at marked "latest".
func dumpHistory(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.read.QueryContext(context.Background(), `
		SELECT h.account_id, h.family, h.bucket, h.at, h.rolled_up, h.fraction, h.reset_time, h.last_seen, l.history_id IS NOT NULL
		FROM quota_history h LEFT JOIN quota_latest l ON l.history_id = h.id
		ORDER BY h.account_id, h.family, h.bucket, h.at, h.rolled_up, h.fraction, h.reset_time, h.last_seen`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var account, at, rolled, reset, seen int64
		var family, bucket string
		var fraction float64
		var latest bool
		if err := rows.Scan(&account, &family, &bucket, &at, &rolled, &fraction, &reset, &seen, &latest); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d %s %s at=%d rolled=%d f=%v reset=%d seen=%d latest=%v",
			account, family, bucket, at, rolled, fraction, reset, seen, latest))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
