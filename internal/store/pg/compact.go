package pg

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quotatui/quotatui/internal/store"
)

// defaultPruneChunk is how many rows one pruning statement deletes.
const defaultPruneChunk = 5000

// Compact prunes and rolls up as the SQLite store's Compact does: history
// rows last seen before now-retention and older events go (in chunks),
// ended marks and idle instances' heartbeats too; raw history rows older
// than now-rollupAfter (to the hour) become one row per hour per series
// with the hour's lowest fraction, last reset and last sighting, one
// transaction per 50 accounts; a series' newest row is never rolled up.
// Several instances may compact at once: a rollup locks its accounts'
// rows, so they take turns.
func (s *Store) Compact(ctx context.Context, now time.Time, rollupAfter, retention time.Duration) error {
	if rollupAfter <= 0 {
		rollupAfter = store.DefaultRollupAfter
	}
	if retention <= 0 {
		retention = store.DefaultRetention
	}
	cut := ms(now.Add(-retention))
	prunes := []struct{ what, query string }{
		{"history", `DELETE FROM quota_history WHERE id IN (
			SELECT id FROM quota_history WHERE at < $1 AND last_seen < $1 LIMIT $2)`},
		{"events", `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < $1 LIMIT $2)`},
	}
	for _, p := range prunes {
		if err := s.deleteChunked(ctx, p.what, p.query, cut); err != nil {
			return err
		}
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM marks WHERE until <= $1`, ms(now)); err != nil {
		return s.noted(fmt.Errorf("store: compact: prune marks: %w", err))
	}
	rollupCut := ms(now.Add(-rollupAfter).Truncate(time.Hour))
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT account_id FROM quota_history h
		WHERE NOT rolled_up AND at < $1 AND NOT EXISTS (SELECT 1 FROM quota_latest l WHERE l.history_id = h.id)
		ORDER BY account_id`, rollupCut)
	if err != nil {
		return fmt.Errorf("store: compact: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("store: compact: %w", err)
	}
	for batch := range slices.Chunk(ids, s.rollupBatch) {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("store: compact: %w", err)
		}
		if err := s.inTx(ctx, func(tx pgx.Tx) error { return rollupAccounts(ctx, tx, batch, rollupCut) }); err != nil {
			return fmt.Errorf("store: compact: roll up accounts %d–%d: %w", batch[0], batch[len(batch)-1], err)
		}
	}
	return nil
}

func (s *Store) deleteChunked(ctx context.Context, what, query string, cut int64) error {
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("store: compact: prune %s: %w", what, err)
		}
		tag, err := s.pool.Exec(ctx, query, cut, s.pruneChunk)
		if err != nil {
			return s.noted(fmt.Errorf("store: compact: prune %s: %w", what, err))
		}
		if tag.RowsAffected() < int64(s.pruneChunk) {
			return nil
		}
	}
}

const hourMS = int64(time.Hour / time.Millisecond)

// defaultRollupBatch is how many accounts one rollup transaction takes,
// as in the SQLite store: a bounded transaction, and a twentieth of the
// round trips of one per account at 1000 accounts.
const defaultRollupBatch = 50

// rollupAccounts rolls the given accounts' raw rows older than cut into
// hourly rows, merging each hour with a row already rolled up for it. The
// hour's reset is the one of its latest row (a raw row after a rolled-up
// one of the same time, then the higher id), as the SQLite store takes it.
// The accounts' rows are locked first, in id order (so two instances
// compacting at once take turns without deadlocking); accounts deleted
// meanwhile are skipped, history and all.
func rollupAccounts(ctx context.Context, tx pgx.Tx, ids []int64, cut int64) error {
	rows, err := tx.Query(ctx, `SELECT id FROM accounts WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`, ids)
	if err != nil {
		return err
	}
	locked, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || len(locked) == 0 {
		return err
	}
	_, err = tx.Exec(ctx, `
		WITH hours AS (
			SELECT DISTINCT account_id, family, bucket, at - at % $3 AS hour FROM quota_history h
			WHERE account_id = ANY($1) AND NOT rolled_up AND at < $2
			AND NOT EXISTS (SELECT 1 FROM quota_latest l WHERE l.history_id = h.id)),
		doomed AS (
			SELECT h.id, h.account_id, h.family, h.bucket, hours.hour, h.fraction, h.reset_time, h.at, h.last_seen, h.rolled_up
			FROM quota_history h JOIN hours USING (account_id, family, bucket)
			WHERE h.at >= hours.hour AND h.at < hours.hour + $3 AND h.at - h.at % $3 = hours.hour
			AND (h.rolled_up OR (h.at < $2 AND NOT EXISTS (SELECT 1 FROM quota_latest l WHERE l.history_id = h.id)))),
		gone AS (DELETE FROM quota_history WHERE id IN (SELECT id FROM doomed))
		INSERT INTO quota_history (account_id, family, bucket, fraction, reset_time, at, last_seen, rolled_up)
		SELECT account_id, family, bucket, min(fraction),
			(array_agg(reset_time ORDER BY at DESC, rolled_up ASC, id DESC))[1], hour, max(last_seen), true
		FROM doomed GROUP BY account_id, family, bucket, hour`, locked, cut, hourMS)
	return err
}
