package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Compaction defaults, used when Compact gets a zero or negative duration.
const (
	DefaultRollupAfter = 24 * time.Hour
	DefaultRetention   = 30 * 24 * time.Hour
)

// defaultPruneChunk is how many rows one pruning transaction deletes, so
// a big prune never holds the writer for long: syncs interleave between
// chunks.
const defaultPruneChunk = 5000

// The pruning statements delete one chunk (?2 rows) older than ?1. A
// history row goes when it was last seen before the cut; since last_seen
// >= at, the "at < ?1" term changes nothing but lets the scan use the at
// index. The row that was current at the cut is kept.
const (
	pruneHistoryQuery = `DELETE FROM quota_history WHERE id IN (
		SELECT id FROM quota_history WHERE at < ?1 AND last_seen < ?1 LIMIT ?2)`
	pruneEventsQuery = `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < ?1 LIMIT ?2)`
)

// Compact keeps the database small. First it deletes history rows last
// seen before now-retention and events older than that, 5000 rows
// per transaction. Then it rolls the raw history rows older than
// now-rollupAfter (rounded down to the hour) up into one row per hour per
// (account, family, window), with the hour's lowest fraction, its last
// reset time and its last sighting; one transaction per account. The
// newest row of each series is never rolled up, since RecordSync keeps
// extending it.
func (s *Store) Compact(ctx context.Context, now time.Time, rollupAfter, retention time.Duration) (err error) {
	defer func() { err = s.noted(err) }()
	if rollupAfter <= 0 {
		rollupAfter = DefaultRollupAfter
	}
	if retention <= 0 {
		retention = DefaultRetention
	}
	cut := ms(now.Add(-retention))
	if err := s.deleteChunked(ctx, "history", pruneHistoryQuery, cut); err != nil {
		return err
	}
	if err := s.deleteChunked(ctx, "events", pruneEventsQuery, cut); err != nil {
		return err
	}
	// Marks that ended are worth nothing: a restart ignores them already.
	if _, err := s.write.ExecContext(ctx, `DELETE FROM marks WHERE until <= ?`, ms(now)); err != nil {
		return fmt.Errorf("store: compact: prune marks: %w", err)
	}
	rollupCut := now.Add(-rollupAfter).Truncate(time.Hour)
	ids, err := s.accountsToRollUp(ctx, ms(rollupCut))
	if err != nil {
		return fmt.Errorf("store: compact: %w", err)
	}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("store: compact: %w", err)
		}
		if err := s.rollupAccount(ctx, id, ms(rollupCut)); err != nil {
			return fmt.Errorf("store: compact: roll up account %d: %w", id, err)
		}
	}
	return nil
}

// deleteChunked runs query (parameters: cutoff, chunk size) until it
// deletes fewer than a chunk, each run in its own transaction.
func (s *Store) deleteChunked(ctx context.Context, what, query string, cut int64) error {
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("store: compact: prune %s: %w", what, err)
		}
		res, err := s.write.ExecContext(ctx, query, cut, s.pruneChunk)
		if err != nil {
			return fmt.Errorf("store: compact: prune %s: %w", what, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("store: compact: prune %s: %w", what, err)
		}
		if n < int64(s.pruneChunk) {
			return nil
		}
	}
}

// accountsToRollUpQuery finds the accounts with raw rows older than ?1
// that are not their series' newest: the only ones a rollup changes. Most
// hours that is a few accounts, and the others cost no write transaction.
const accountsToRollUpQuery = `SELECT DISTINCT account_id FROM quota_history INDEXED BY quota_history_raw
	WHERE rolled_up = 0 AND at < ?1
	AND id NOT IN (SELECT history_id FROM quota_latest)
	ORDER BY account_id`

func (s *Store) accountsToRollUp(ctx context.Context, cut int64) ([]int64, error) {
	rows, err := s.read.QueryContext(ctx, accountsToRollUpQuery, cut)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
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

const hourMS = int64(time.Hour / time.Millisecond)

// rawRowsQuery finds an account's (?1) raw rows older than ?2, except the
// newest of each series. The partial index on raw rows makes this cheap
// however long the rolled-up history is.
const rawRowsQuery = `SELECT id, family, bucket, fraction, reset_time, at, last_seen, rolled_up
	FROM quota_history INDEXED BY quota_history_raw
	WHERE account_id = ?1 AND rolled_up = 0 AND at < ?2
	AND id NOT IN (SELECT history_id FROM quota_latest WHERE account_id = ?1)`

// rollupAccount rolls up one account's raw rows older than cut (an hour
// boundary) in one transaction. Each hour that holds a raw row is merged
// with any row already rolled up for that hour (a series' newest row is
// rolled up later than the rest of its hour).
func (s *Store) rollupAccount(ctx context.Context, accountID, cut int64) error {
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
