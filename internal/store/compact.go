package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
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
// reset time and its last sighting; one transaction per 50 accounts. The
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
	if err := s.prune(ctx, now, retention); err != nil {
		return err
	}
	return s.rollup(ctx, ms(now.Add(-rollupAfter).Truncate(time.Hour)), s.rollupAccounts)
}

// prune deletes what Compact keeps no longer: history and events past
// retention, ended marks.
func (s *Store) prune(ctx context.Context, now time.Time, retention time.Duration) error {
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
	return nil
}

// rollup rolls up the raw rows older than cut of every account that has
// some, s.rollupBatch accounts per call of batch (one transaction each).
func (s *Store) rollup(ctx context.Context, cut int64, batch func(ctx context.Context, ids []int64, cut int64) error) error {
	ids, err := s.accountsToRollUp(ctx, cut)
	if err != nil {
		return fmt.Errorf("store: compact: %w", err)
	}
	for part := range slices.Chunk(ids, s.rollupBatch) {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("store: compact: %w", err)
		}
		if err := batch(ctx, part, cut); err != nil {
			return fmt.Errorf("store: compact: roll up accounts %d–%d: %w", part[0], part[len(part)-1], err)
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
// Each account is one seek into the raw rows older than the cut, so the
// day of raw rows after it is never read.
const accountsToRollUpQuery = `SELECT a.id FROM accounts a WHERE EXISTS (
	SELECT 1 FROM quota_history h INDEXED BY quota_history_raw
	WHERE h.account_id = a.id AND h.rolled_up = 0 AND h.at < ?1
	AND h.id NOT IN (SELECT history_id FROM quota_latest l WHERE l.account_id = a.id))
	ORDER BY a.id`

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

const hourMS = int64(time.Hour / time.Millisecond)

// defaultRollupBatch bounds how many accounts one rollup transaction takes: at
// the worst (every series changed every 5 minutes of the hour) that is
// 50 × 48 rows, a few milliseconds of the writer, so a sync waiting for
// it waits little; the ~20 transactions of a 1000-account hour write far
// fewer WAL frames than one per account did.
const defaultRollupBatch = 50

// The rollup of one batch of accounts, in SQL, through a temp table on the
// writer's connection (emptied before each commit):
//
//   - rollupRawQuery collects the accounts' raw rows older than the cut
//     (?1), except each series' newest (RecordSync may still extend it),
//     with their hour; ?2 holds the account ids as a JSON array;
//   - rollupRolledQuery adds the rows already rolled up for those hours (a
//     series' newest row is rolled up later than the rest of its hour);
//   - rollupInsertQuery writes one row per (account, family, window, hour):
//     the lowest fraction, the last sighting and the reset time of the
//     hour's latest row (ties: a raw row before a rolled-up one, then the
//     higher id);
//   - rollupDeleteQuery deletes the collected rows.
const (
	rollupTempTable = `CREATE TEMP TABLE IF NOT EXISTS rollup (
		id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL, family TEXT NOT NULL, bucket TEXT NOT NULL,
		hour INTEGER NOT NULL, fraction REAL NOT NULL, reset_time INTEGER NOT NULL, at INTEGER NOT NULL,
		last_seen INTEGER NOT NULL, rolled_up INTEGER NOT NULL)`
	rollupRawQuery = `INSERT INTO temp.rollup (id, account_id, family, bucket, hour, fraction, reset_time, at, last_seen, rolled_up)
	SELECT id, account_id, family, bucket, at - at % 3600000, fraction, reset_time, at, last_seen, 0
	FROM quota_history INDEXED BY quota_history_raw
	WHERE account_id IN (SELECT value FROM json_each(?2)) AND rolled_up = 0 AND at < ?1
	AND id NOT IN (SELECT history_id FROM quota_latest WHERE account_id IN (SELECT value FROM json_each(?2)))`
	rollupRolledQuery = `INSERT INTO temp.rollup (id, account_id, family, bucket, hour, fraction, reset_time, at, last_seen, rolled_up)
	SELECT h.id, h.account_id, h.family, h.bucket, g.hour, h.fraction, h.reset_time, h.at, h.last_seen, 1
	FROM (SELECT DISTINCT account_id, family, bucket, hour FROM temp.rollup) g
	JOIN quota_history h INDEXED BY quota_history_series
		ON h.account_id = g.account_id AND h.family = g.family AND h.bucket = g.bucket
		AND h.at >= g.hour AND h.at < g.hour + 3600000
	WHERE h.rolled_up = 1`
	rollupInsertQuery = `INSERT INTO quota_history (account_id, family, bucket, fraction, reset_time, at, last_seen, rolled_up)
	SELECT account_id, family, bucket, min(fraction), max(CASE WHEN rn = 1 THEN reset_time END), hour, max(last_seen), 1
	FROM (SELECT *, row_number() OVER (PARTITION BY account_id, family, bucket, hour
		ORDER BY at DESC, rolled_up ASC, id DESC) AS rn FROM temp.rollup)
	GROUP BY account_id, family, bucket, hour
	ORDER BY account_id, family, bucket, hour`
	rollupDeleteQuery = `DELETE FROM quota_history WHERE id IN (SELECT id FROM temp.rollup)`
	rollupClearQuery  = `DELETE FROM temp.rollup`
)

// rollupAccounts rolls up the raw rows older than cut (an hour boundary)
// of the given accounts in one transaction. Each hour that holds a raw
// row is merged with any row already rolled up for that hour.
func (s *Store) rollupAccounts(ctx context.Context, ids []int64, cut int64) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, rollupTempTable); err != nil {
		return fmt.Errorf("temp table: %w", err)
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	steps := []struct {
		what, query string
		args        []any
	}{
		{"clear", rollupClearQuery, nil}, // empty already, unless a commit failed
		{"collect raw rows", rollupRawQuery, []any{cut, string(list)}},
		{"collect rolled-up rows", rollupRolledQuery, nil},
		{"insert rollups", rollupInsertQuery, nil},
		{"delete rolled rows", rollupDeleteQuery, nil},
		{"clear", rollupClearQuery, nil},
	}
	for _, st := range steps {
		if _, err := tx.ExecContext(ctx, st.query, st.args...); err != nil {
			return fmt.Errorf("%s: %w", st.what, err)
		}
	}
	return tx.Commit()
}
