package pg

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quotatui/quotatui/internal/store"
)

// The usage tables (schema 8): what the proxies completed, per (account,
// family, model, client) and flush, rolled up per hour; conversations; the
// cost readings. Same rules as the SQLite store's usage.go and ledger.go
// (store.UsageBatch.Check and Clipped are shared).

const insertUsageQuery = `INSERT INTO token_usage (account_id, family, model, client, holder, at, charged, requests, errors,
		prompt_tokens, candidates_tokens, thoughts_tokens, cached_tokens, total_tokens)
	SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14
	WHERE EXISTS (SELECT 1 FROM accounts WHERE id = $1)`

const upsertSessionQuery = `INSERT INTO token_usage_sessions (session, client, account_id, model, first_at, last_at,
		requests, errors, prompt_tokens, candidates_tokens, thoughts_tokens, cached_tokens, total_tokens)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
	ON CONFLICT (session, client) DO UPDATE SET
		account_id = CASE WHEN excluded.last_at >= token_usage_sessions.last_at THEN excluded.account_id ELSE token_usage_sessions.account_id END,
		model = CASE WHEN excluded.last_at >= token_usage_sessions.last_at THEN excluded.model ELSE token_usage_sessions.model END,
		first_at = LEAST(excluded.first_at, token_usage_sessions.first_at),
		last_at = GREATEST(excluded.last_at, token_usage_sessions.last_at),
		requests = token_usage_sessions.requests + excluded.requests,
		errors = token_usage_sessions.errors + excluded.errors,
		prompt_tokens = token_usage_sessions.prompt_tokens + excluded.prompt_tokens,
		candidates_tokens = token_usage_sessions.candidates_tokens + excluded.candidates_tokens,
		thoughts_tokens = token_usage_sessions.thoughts_tokens + excluded.thoughts_tokens,
		cached_tokens = token_usage_sessions.cached_tokens + excluded.cached_tokens,
		total_tokens = token_usage_sessions.total_tokens + excluded.total_tokens`

// WriteUsage stores one ledger flush in one transaction and moves the
// spend counter, as the SQLite store's WriteUsage does: rows of deleted
// accounts are left out; an invalid row fails the whole batch.
func (s *Store) WriteUsage(ctx context.Context, b store.UsageBatch) error {
	if b.At.IsZero() {
		b.At = s.now()
	}
	if err := b.Check(); err != nil {
		return fmt.Errorf("store: write usage: %w", err)
	}
	if len(b.Rows) == 0 && len(b.Conversations) == 0 {
		return nil
	}
	b = b.Clipped()
	at := ms(b.At)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		for i, r := range b.Rows {
			t := r.Tokens
			if _, err := tx.Exec(ctx, insertUsageQuery, r.AccountID, r.Family, r.Model, r.Client, b.Holder, at,
				r.Charged, r.Requests, r.Errors, t.Prompt, t.Candidates, t.Thoughts, t.Cached, t.Total); err != nil {
				return fmt.Errorf("row %d (account %d %s): %w", i, r.AccountID, r.Model, err)
			}
		}
		for i, c := range b.Conversations {
			t := c.Tokens
			if _, err := tx.Exec(ctx, upsertSessionQuery, c.Session, c.Client, c.AccountID, c.Model, ms(c.First), ms(c.Last),
				c.Requests, c.Errors, t.Prompt, t.Candidates, t.Thoughts, t.Cached, t.Total); err != nil {
				return fmt.Errorf("conversation %d: %w", i, err)
			}
		}
		// The meta row last: its lock is the one every writer takes.
		if len(b.Rows) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE meta SET value = value + 1 WHERE key = 'spend_version'`); err != nil {
				return fmt.Errorf("move spend version: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: write usage: %w", err)
	}
	return nil
}

// SpendVersion returns the counter that moves with every ledger flush.
func (s *Store) SpendVersion(ctx context.Context) (int64, error) {
	return s.counter(ctx, "spend_version")
}

// SpendSince returns what every process other than holder charged to each
// (account, family) after since, per flush, oldest first.
func (s *Store) SpendSince(ctx context.Context, since time.Time, holder string) ([]store.SpendRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT account_id, family, at, SUM(charged) FROM token_usage
		WHERE at > $1 AND NOT rolled_up AND holder <> $2 AND charged > 0
		GROUP BY account_id, family, at ORDER BY at, account_id, family`, ms(since), holder)
	if err != nil {
		return nil, fmt.Errorf("store: spend since: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.SpendRow, error) {
		var sr store.SpendRow
		var at int64
		err := r.Scan(&sr.AccountID, &sr.Family, &at, &sr.Charged)
		sr.At = fromMS(at)
		return sr, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: spend since: %w", err)
	}
	return out, nil
}

// UsageHours returns the usage since a time (taken down to its hour) per
// (account, family, model, client) and hour, oldest first; accountID 0
// means every account. Raw and rolled-up rows sum alike.
func (s *Store) UsageHours(ctx context.Context, since time.Time, accountID int64) ([]store.UsageHour, error) {
	from := ms(since)
	from -= from % hourMS
	rows, err := s.pool.Query(ctx, `SELECT account_id, family, model, client, at - at % $3 AS hour,
			SUM(charged)::BIGINT, SUM(requests)::BIGINT, SUM(errors)::BIGINT, SUM(prompt_tokens)::BIGINT, SUM(candidates_tokens)::BIGINT,
			SUM(thoughts_tokens)::BIGINT, SUM(cached_tokens)::BIGINT, SUM(total_tokens)::BIGINT
		FROM token_usage WHERE at >= $1 AND ($2 = 0 OR account_id = $2)
		GROUP BY account_id, family, model, client, hour
		ORDER BY hour, account_id, family, model, client`, from, accountID, hourMS)
	if err != nil {
		return nil, fmt.Errorf("store: usage: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.UsageHour, error) {
		var u store.UsageHour
		var hour int64
		t := &u.Tokens
		err := r.Scan(&u.AccountID, &u.Family, &u.Model, &u.Client, &hour, &u.Charged, &u.Requests, &u.Errors,
			&t.Prompt, &t.Candidates, &t.Thoughts, &t.Cached, &t.Total)
		u.Hour = fromMS(hour)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: usage: %w", err)
	}
	return out, nil
}

// Conversations returns the conversations seen since a time, the most
// tokens first, at most limit (all when limit ≤ 0).
func (s *Store) Conversations(ctx context.Context, since time.Time, limit int) ([]store.Conversation, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.pool.Query(ctx, `SELECT session, client, account_id, model, first_at, last_at, requests, errors,
			prompt_tokens, candidates_tokens, thoughts_tokens, cached_tokens, total_tokens
		FROM token_usage_sessions WHERE last_at >= $1 ORDER BY total_tokens DESC, last_at DESC, session
		LIMIT CASE WHEN $2::BIGINT < 0 THEN NULL ELSE $2::BIGINT END`, ms(since), limit)
	if err != nil {
		return nil, fmt.Errorf("store: conversations: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Conversation, error) {
		var c store.Conversation
		var first, last int64
		t := &c.Tokens
		err := r.Scan(&c.Session, &c.Client, &c.AccountID, &c.Model, &first, &last, &c.Requests, &c.Errors,
			&t.Prompt, &t.Candidates, &t.Thoughts, &t.Cached, &t.Total)
		c.First, c.Last = fromMS(first), fromMS(last)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: conversations: %w", err)
	}
	return out, nil
}

// CompactUsage keeps the usage tables as Compact keeps quota history
// (rows past retention deleted in chunks, raw rows past rollupAfter rolled
// up per hour in one transaction), as the SQLite store's CompactUsage.
// Several instances may compact at once: the rollup takes a transaction
// advisory lock, so they take turns and none rolls a row up twice.
func (s *Store) CompactUsage(ctx context.Context, now time.Time, rollupAfter, retention time.Duration) error {
	if rollupAfter <= 0 {
		rollupAfter = store.DefaultRollupAfter
	}
	if retention <= 0 {
		retention = store.DefaultRetention
	}
	cut := ms(now.Add(-retention))
	if err := s.deleteChunked(ctx, "usage", `DELETE FROM token_usage WHERE id IN (
		SELECT id FROM token_usage WHERE at < $1 LIMIT $2)`, cut); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM token_usage_sessions WHERE last_at < $1`, cut); err != nil {
		return s.noted(fmt.Errorf("store: compact usage: prune conversations: %w", err))
	}
	rollupCut := ms(now.Add(-rollupAfter).Truncate(time.Hour))
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, s.lockKey("usage rollup", 0)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `WITH gone AS (
				DELETE FROM token_usage WHERE NOT rolled_up AND at < $1
				RETURNING account_id, family, model, client, at, charged, requests, errors,
					prompt_tokens, candidates_tokens, thoughts_tokens, cached_tokens, total_tokens)
			INSERT INTO token_usage (account_id, family, model, client, holder, at, charged, requests, errors,
				prompt_tokens, candidates_tokens, thoughts_tokens, cached_tokens, total_tokens, rolled_up)
			SELECT account_id, family, model, client, '', at - at % $2, SUM(charged), SUM(requests), SUM(errors),
				SUM(prompt_tokens), SUM(candidates_tokens), SUM(thoughts_tokens), SUM(cached_tokens), SUM(total_tokens), true
			FROM gone GROUP BY account_id, family, model, client, at - at % $2`, rollupCut, hourMS)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: compact usage: roll up: %w", err)
	}
	return nil
}

// AddCostReadings stores readings in one transaction, keeps only the
// newest keep of each (tier, family, window) (keep ≤ 0: all) and moves
// the cost counter; an invalid reading fails the whole batch.
func (s *Store) AddCostReadings(ctx context.Context, readings []store.CostReading, keep int) error {
	if err := store.CheckCostReadings(readings); err != nil {
		return fmt.Errorf("store: add cost readings: %w", err)
	}
	if len(readings) == 0 {
		return nil
	}
	type key struct{ tier, family, window string }
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var touched []key
		seen := map[key]bool{}
		for i, r := range readings {
			if _, err := tx.Exec(ctx, `INSERT INTO cost_readings (tier, family, bucket, at, requests, fell) VALUES ($1, $2, $3, $4, $5, $6)`,
				r.Tier, r.Family, r.Window, ms(r.At), r.Requests, r.Fell); err != nil {
				return fmt.Errorf("reading %d: %w", i, err)
			}
			if k := (key{r.Tier, r.Family, r.Window}); !seen[k] {
				seen[k] = true
				touched = append(touched, k)
			}
		}
		if keep > 0 {
			for _, k := range touched {
				if _, err := tx.Exec(ctx, `DELETE FROM cost_readings WHERE tier = $1 AND family = $2 AND bucket = $3 AND id NOT IN (
					SELECT id FROM cost_readings WHERE tier = $1 AND family = $2 AND bucket = $3 ORDER BY at DESC, id DESC LIMIT $4)`,
					k.tier, k.family, k.window, keep); err != nil {
					return fmt.Errorf("prune readings: %w", err)
				}
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE meta SET value = value + 1 WHERE key = 'cost_version'`); err != nil {
			return fmt.Errorf("move cost version: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: add cost readings: %w", err)
	}
	return nil
}

// CostReadings returns every stored reading, oldest first per key.
func (s *Store) CostReadings(ctx context.Context) ([]store.CostReading, error) {
	rows, err := s.pool.Query(ctx, `SELECT tier, family, bucket, at, requests, fell FROM cost_readings
		ORDER BY tier, family, bucket, at, id`)
	if err != nil {
		return nil, fmt.Errorf("store: cost readings: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.CostReading, error) {
		var c store.CostReading
		var at int64
		err := r.Scan(&c.Tier, &c.Family, &c.Window, &at, &c.Requests, &c.Fell)
		c.At = fromMS(at)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: cost readings: %w", err)
	}
	return out, nil
}

// CostVersion returns the counter that moves with every AddCostReadings.
func (s *Store) CostVersion(ctx context.Context) (int64, error) {
	return s.counter(ctx, "cost_version")
}
