package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Ledger is what a store offers the engine's spend ledger and the usage
// reports (schema 8). Both backends have it; the storetest contract runs
// it against each.
type Ledger interface {
	WriteUsage(ctx context.Context, b UsageBatch) error
	SpendVersion(ctx context.Context) (int64, error)
	SpendSince(ctx context.Context, since time.Time, holder string) ([]SpendRow, error)
	UsageHours(ctx context.Context, since time.Time, accountID int64) ([]UsageHour, error)
	Conversations(ctx context.Context, since time.Time, limit int) ([]Conversation, error)
	CompactUsage(ctx context.Context, now time.Time, rollupAfter, retention time.Duration) error
	AddCostReadings(ctx context.Context, readings []CostReading, keep int) error
	CostReadings(ctx context.Context) ([]CostReading, error)
	CostVersion(ctx context.Context) (int64, error)
}

// The usage tables (schema 8) hold what the proxies completed: token_usage
// per (account, family, model, client), raw per ledger flush and rolled up
// per hour after a day; token_usage_sessions per conversation. The queries
// are plain SQL that ports to PostgreSQL.

// Tokens are the token counts of a response's usageMetadata.
type Tokens struct {
	Prompt, Candidates, Thoughts, Cached, Total int64
}

// Add adds o to t.
func (t *Tokens) Add(o Tokens) {
	t.Prompt += o.Prompt
	t.Candidates += o.Candidates
	t.Thoughts += o.Thoughts
	t.Cached += o.Cached
	t.Total += o.Total
}

// UsageRow is what one process completed for one (account, family, model,
// client) since its last flush.
type UsageRow struct {
	AccountID             int64
	Family, Model, Client string
	// Charged counts the requests the upstream accepted (they spent
	// quota, answered or not), Requests the answered ones, Errors the
	// failed ones. Tokens are the answered requests' only.
	Charged, Requests, Errors int64
	Tokens                    Tokens
}

// Conversation is one conversation's usage: the proxy's session key and
// the client that sent it, the account and model that served it last.
type Conversation struct {
	Session, Client  string
	AccountID        int64
	Model            string
	First, Last      time.Time
	Requests, Errors int64
	Tokens           Tokens
}

// UsageBatch is one ledger flush of one process (Holder, the name it has in
// the poller lease).
type UsageBatch struct {
	At            time.Time
	Holder        string
	Rows          []UsageRow
	Conversations []Conversation
}

// Bounds on the strings the ledger stores: they come from clients.
const (
	maxClientLen  = 64
	maxSessionLen = 128
	maxModelLen   = 128
)

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

const insertUsageQuery = `INSERT INTO token_usage (account_id, family, model, client, holder, at, charged, requests, errors,
		prompt_tokens, candidates_tokens, thoughts_tokens, cached_tokens, total_tokens)
	SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14
	WHERE EXISTS (SELECT 1 FROM accounts WHERE id = ?1)`

// upsertSessionQuery adds a flush's figures to a conversation's.
const upsertSessionQuery = `INSERT INTO token_usage_sessions (session, client, account_id, model, first_at, last_at,
		requests, errors, prompt_tokens, candidates_tokens, thoughts_tokens, cached_tokens, total_tokens)
	VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
	ON CONFLICT (session, client) DO UPDATE SET
		account_id = CASE WHEN excluded.last_at >= token_usage_sessions.last_at THEN excluded.account_id ELSE token_usage_sessions.account_id END,
		model = CASE WHEN excluded.last_at >= token_usage_sessions.last_at THEN excluded.model ELSE token_usage_sessions.model END,
		first_at = CASE WHEN excluded.first_at < token_usage_sessions.first_at THEN excluded.first_at ELSE token_usage_sessions.first_at END,
		last_at = CASE WHEN excluded.last_at > token_usage_sessions.last_at THEN excluded.last_at ELSE token_usage_sessions.last_at END,
		requests = token_usage_sessions.requests + excluded.requests,
		errors = token_usage_sessions.errors + excluded.errors,
		prompt_tokens = token_usage_sessions.prompt_tokens + excluded.prompt_tokens,
		candidates_tokens = token_usage_sessions.candidates_tokens + excluded.candidates_tokens,
		thoughts_tokens = token_usage_sessions.thoughts_tokens + excluded.thoughts_tokens,
		cached_tokens = token_usage_sessions.cached_tokens + excluded.cached_tokens,
		total_tokens = token_usage_sessions.total_tokens + excluded.total_tokens`

// WriteUsage stores one ledger flush in one transaction and moves the
// spend counter (SpendVersion). Rows of accounts that no longer exist are
// left out. A row without family or model, or with a negative count, fails
// the whole batch, naming its index; nothing is written then.
func (s *Store) WriteUsage(ctx context.Context, b UsageBatch) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("store: write usage: %w", err)
		}
	}()
	if b.At.IsZero() {
		b.At = s.now()
	}
	if err := b.Check(); err != nil {
		return err
	}
	if len(b.Rows) == 0 && len(b.Conversations) == 0 {
		return nil
	}
	defer func() { err = s.noted(err) }()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if len(b.Rows) > 0 {
		ins, err := tx.PrepareContext(ctx, insertUsageQuery)
		if err != nil {
			return err
		}
		defer ins.Close()
		at, holder := ms(b.At), clip(b.Holder, maxClientLen*2)
		for i, r := range b.Rows {
			t := r.Tokens
			if _, err := ins.ExecContext(ctx, r.AccountID, r.Family, clip(r.Model, maxModelLen), clip(r.Client, maxClientLen), holder, at,
				r.Charged, r.Requests, r.Errors, t.Prompt, t.Candidates, t.Thoughts, t.Cached, t.Total); err != nil {
				return fmt.Errorf("row %d (account %d %s): %w", i, r.AccountID, r.Model, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE meta SET value = value + 1 WHERE key = 'spend_version'`); err != nil {
			return fmt.Errorf("move spend version: %w", err)
		}
	}
	if len(b.Conversations) > 0 {
		up, err := tx.PrepareContext(ctx, upsertSessionQuery)
		if err != nil {
			return err
		}
		defer up.Close()
		for i, c := range b.Conversations {
			first, last := c.First, c.Last
			if first.IsZero() {
				first = b.At
			}
			if last.IsZero() {
				last = b.At
			}
			t := c.Tokens
			if _, err := up.ExecContext(ctx, clip(c.Session, maxSessionLen), clip(c.Client, maxClientLen), c.AccountID, clip(c.Model, maxModelLen),
				ms(first), ms(last), c.Requests, c.Errors, t.Prompt, t.Candidates, t.Thoughts, t.Cached, t.Total); err != nil {
				return fmt.Errorf("conversation %d: %w", i, err)
			}
		}
	}
	return tx.Commit()
}

func (r UsageRow) validate() error {
	switch {
	case strings.TrimSpace(r.Family) == "":
		return errors.New("empty family")
	case strings.TrimSpace(r.Model) == "":
		return errors.New("empty model")
	case r.Charged < 0 || r.Requests < 0 || r.Errors < 0:
		return errors.New("negative count")
	case r.Tokens.Prompt < 0 || r.Tokens.Candidates < 0 || r.Tokens.Thoughts < 0 || r.Tokens.Cached < 0 || r.Tokens.Total < 0:
		return errors.New("negative token count")
	}
	return nil
}

// SpendVersion returns a counter that moves with every ledger flush: the
// other processes read the spending again when it moved.
func (s *Store) SpendVersion(ctx context.Context) (int64, error) {
	return s.metaValue(ctx, "spend_version")
}

// metaValue reads one of the meta counters.
func (s *Store) metaValue(ctx context.Context, key string) (int64, error) {
	var v int64
	if err := s.read.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: %s: %w", key, err)
	}
	return v, nil
}

// SpendRow is the requests one flush charged to an (account, family).
type SpendRow struct {
	AccountID int64
	Family    string
	At        time.Time
	Charged   int64
}

// spendSinceQuery reads the raw rows of the other processes since ?1.
const spendSinceQuery = `SELECT account_id, family, at, SUM(charged) FROM token_usage
	WHERE at > ?1 AND rolled_up = 0 AND holder <> ?2 AND charged > 0
	GROUP BY account_id, family, at ORDER BY at`

// SpendSince returns what every process other than holder charged to each
// (account, family) after since, per flush, oldest first: the engine
// brings its figures forward with the requests the other processes sent
// since them.
func (s *Store) SpendSince(ctx context.Context, since time.Time, holder string) ([]SpendRow, error) {
	rows, err := s.read.QueryContext(ctx, spendSinceQuery, ms(since), holder)
	if err != nil {
		return nil, fmt.Errorf("store: spend since: %w", err)
	}
	defer rows.Close()
	var out []SpendRow
	for rows.Next() {
		var r SpendRow
		var at int64
		if err := rows.Scan(&r.AccountID, &r.Family, &at, &r.Charged); err != nil {
			return nil, fmt.Errorf("store: spend since: %w", err)
		}
		r.At = fromMS(at)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: spend since: %w", err)
	}
	return out, nil
}

// UsageHour is the usage of one (account, family, model, client) in one
// hour.
type UsageHour struct {
	AccountID             int64
	Family, Model, Client string
	Hour                  time.Time // the hour's start
	Charged, Requests     int64
	Errors                int64
	Tokens                Tokens
}

// usageHoursQuery sums the rows at or after ?1 per hour; ?2 names one
// account, 0 every one.
const usageHoursQuery = `SELECT account_id, family, model, client, at - (at % 3600000) AS hour,
		SUM(charged), SUM(requests), SUM(errors), SUM(prompt_tokens), SUM(candidates_tokens),
		SUM(thoughts_tokens), SUM(cached_tokens), SUM(total_tokens)
	FROM token_usage WHERE at >= ?1 AND (?2 = 0 OR account_id = ?2)
	GROUP BY account_id, family, model, client, at - (at % 3600000)
	ORDER BY hour, account_id, family, model, client`

// UsageHours returns the usage since a time per (account, family, model,
// client) and hour, oldest first; accountID 0 means every account. Raw rows
// and rolled-up ones sum alike, so a span across the rollup reads as one.
// Since is taken down to its hour: a report from 14:20 starts at 14:00,
// since rolled-up hours cannot be cut.
func (s *Store) UsageHours(ctx context.Context, since time.Time, accountID int64) ([]UsageHour, error) {
	from := ms(since)
	from -= from % hourMS
	rows, err := s.read.QueryContext(ctx, usageHoursQuery, from, accountID)
	if err != nil {
		return nil, fmt.Errorf("store: usage: %w", err)
	}
	defer rows.Close()
	var out []UsageHour
	for rows.Next() {
		var u UsageHour
		var hour int64
		t := &u.Tokens
		if err := rows.Scan(&u.AccountID, &u.Family, &u.Model, &u.Client, &hour, &u.Charged, &u.Requests, &u.Errors,
			&t.Prompt, &t.Candidates, &t.Thoughts, &t.Cached, &t.Total); err != nil {
			return nil, fmt.Errorf("store: usage: %w", err)
		}
		u.Hour = fromMS(hour)
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: usage: %w", err)
	}
	return out, nil
}

// Conversations returns the conversations seen since a time, the most
// tokens first, at most limit (all when limit ≤ 0).
func (s *Store) Conversations(ctx context.Context, since time.Time, limit int) ([]Conversation, error) {
	q := `SELECT session, client, account_id, model, first_at, last_at, requests, errors,
		prompt_tokens, candidates_tokens, thoughts_tokens, cached_tokens, total_tokens
		FROM token_usage_sessions WHERE last_at >= ?1 ORDER BY total_tokens DESC, last_at DESC, session`
	args := []any{ms(since)}
	if limit > 0 {
		q += ` LIMIT ?2`
		args = append(args, limit)
	}
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: conversations: %w", err)
	}
	defer rows.Close()
	var out []Conversation
	for rows.Next() {
		var c Conversation
		var first, last int64
		t := &c.Tokens
		if err := rows.Scan(&c.Session, &c.Client, &c.AccountID, &c.Model, &first, &last, &c.Requests, &c.Errors,
			&t.Prompt, &t.Candidates, &t.Thoughts, &t.Cached, &t.Total); err != nil {
			return nil, fmt.Errorf("store: conversations: %w", err)
		}
		c.First, c.Last = fromMS(first), fromMS(last)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: conversations: %w", err)
	}
	return out, nil
}

// The usage compaction's statements. The rollup groups the raw rows older
// than ?1 (an hour boundary) per hour; the delete that follows in the same
// transaction removes them (the new rows are rolled up, so untouched).
const (
	rollupUsageQuery = `INSERT INTO token_usage (account_id, family, model, client, holder, at, charged, requests, errors,
		prompt_tokens, candidates_tokens, thoughts_tokens, cached_tokens, total_tokens, rolled_up)
	SELECT account_id, family, model, client, '', at - (at % 3600000), SUM(charged), SUM(requests), SUM(errors),
		SUM(prompt_tokens), SUM(candidates_tokens), SUM(thoughts_tokens), SUM(cached_tokens), SUM(total_tokens), 1
	FROM token_usage WHERE rolled_up = 0 AND at < ?1
	GROUP BY account_id, family, model, client, at - (at % 3600000)`
	deleteRolledUsageQuery = `DELETE FROM token_usage WHERE rolled_up = 0 AND at < ?1`
	pruneUsageQuery        = `DELETE FROM token_usage WHERE id IN (SELECT id FROM token_usage WHERE at < ?1 LIMIT ?2)`
	pruneSessionsQuery     = `DELETE FROM token_usage_sessions WHERE last_at < ?1`
)

// CompactUsage keeps the usage tables as Compact keeps quota history:
// rows older than retention are deleted (and conversations last seen
// before it), in chunks; raw rows older than rollupAfter (from the hour
// boundary before it) are rolled up into one row per hour per (account,
// family, model, client), in one transaction. Zero durations take
// Compact's defaults.
func (s *Store) CompactUsage(ctx context.Context, now time.Time, rollupAfter, retention time.Duration) (err error) {
	defer func() { err = s.noted(err) }()
	if rollupAfter <= 0 {
		rollupAfter = DefaultRollupAfter
	}
	if retention <= 0 {
		retention = DefaultRetention
	}
	cut := ms(now.Add(-retention))
	if err := s.deleteChunked(ctx, "usage", pruneUsageQuery, cut); err != nil {
		return err
	}
	// One row per conversation: few enough to go in one statement.
	if _, err := s.write.ExecContext(ctx, pruneSessionsQuery, cut); err != nil {
		return fmt.Errorf("store: compact usage: prune conversations: %w", err)
	}
	rollupCut := ms(now.Add(-rollupAfter).Truncate(time.Hour))
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: compact usage: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, rollupUsageQuery, rollupCut); err != nil {
		return fmt.Errorf("store: compact usage: roll up: %w", err)
	}
	if _, err := tx.ExecContext(ctx, deleteRolledUsageQuery, rollupCut); err != nil {
		return fmt.Errorf("store: compact usage: roll up: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: compact usage: %w", err)
	}
	return nil
}
