package pg

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quotatui/quotatui/internal/store"
)

// inTx runs fn in a transaction and commits it, running it again (up to
// three times) when PostgreSQL aborted it as a deadlock victim or a
// serialization failure: two instances writing the same accounts at once
// may meet that, and a retry is what PostgreSQL asks for.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) (err error) {
	defer func() { err = s.noted(err) }()
	for attempt := 0; ; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, fn)
		if c := sqlState(err); (c == "40P01" || c == "40001") && attempt < 2 && ctx.Err() == nil {
			continue
		}
		return err
	}
}

// RecordSync writes one sync's samples and events (see store.Store's
// RecordSync for the rules).
func (s *Store) RecordSync(ctx context.Context, at time.Time, samples []store.Sample, events []store.Event) error {
	if at.IsZero() {
		at = s.now()
	}
	if err := s.writeBatch(ctx, store.Batch{At: at, Samples: samples, Events: events}); err != nil {
		return fmt.Errorf("store: record sync: %w", err)
	}
	return nil
}

// AddEvents stores events in one transaction; a zero At means now.
func (s *Store) AddEvents(ctx context.Context, events []store.Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := s.writeBatch(ctx, store.Batch{At: s.now(), Events: events}); err != nil {
		return fmt.Errorf("store: add events: %w", err)
	}
	return nil
}

// Write stores b in one transaction with the SQLite store's rules:
// samples add a history row only when the figure changed, marks replace
// (Kind "" deletes), parts of deleted accounts are skipped and reported
// by a *store.SkippedError. The rows of the accounts the batch touches
// are locked in id order first, so two instances writing the same
// accounts take turns instead of interleaving their history rows; the
// counters move last, at commit, and announce the batch to every
// instance.
func (s *Store) Write(ctx context.Context, b store.Batch) error {
	if b.At.IsZero() {
		b.At = s.now()
	}
	if err := s.writeBatch(ctx, b); err != nil {
		return fmt.Errorf("store: write: %w", err)
	}
	return nil
}

func (s *Store) writeBatch(ctx context.Context, b store.Batch) error {
	if err := b.Check(); err != nil {
		return err
	}
	var skipped store.Skipped
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		skipped = store.Skipped{}
		exists, err := lockAccounts(ctx, tx, batchAccounts(b))
		if err != nil {
			return err
		}
		known := func(id int64) bool {
			if exists[id] {
				return true
			}
			skipped.Account(id)
			return false
		}
		if err := writeSamples(ctx, tx, b.At, b.Samples, known, &skipped); err != nil {
			return err
		}
		if err := insertEvents(ctx, tx, b.Events, b.At, known, &skipped); err != nil {
			return err
		}
		if err := writeMarksAndSyncs(ctx, tx, b, known, &skipped); err != nil {
			return err
		}
		if len(b.Samples) > 0 || len(b.Accounts) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE meta SET value = value + 1 WHERE key = 'sync_version'`); err != nil {
				return fmt.Errorf("move sync version: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(skipped.AccountIDs)
	return skipped.Err()
}

// batchAccounts lists every account id a batch names.
func batchAccounts(b store.Batch) []int64 {
	var ids []int64
	for _, x := range b.Samples {
		ids = append(ids, x.AccountID)
	}
	for _, e := range b.Events {
		if e.AccountID != 0 {
			ids = append(ids, e.AccountID)
		}
	}
	for _, m := range b.Marks {
		ids = append(ids, m.AccountID)
	}
	for _, a := range b.Accounts {
		ids = append(ids, a.AccountID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// lockAccounts locks the rows of ids (those that exist) until the
// transaction ends, in id order, and returns which exist.
func lockAccounts(ctx context.Context, tx pgx.Tx, ids []int64) (map[int64]bool, error) {
	exists := make(map[int64]bool, len(ids))
	if len(ids) == 0 {
		return exists, nil
	}
	rows, err := tx.Query(ctx, `SELECT id FROM accounts WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`, ids)
	if err != nil {
		return nil, fmt.Errorf("lock accounts: %w", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("lock accounts: %w", err)
	}
	for _, id := range got {
		exists[id] = true
	}
	return exists, nil
}

// seriesKey names one (account, family, window) series.
type seriesKey struct {
	account        int64
	family, bucket string
}

// latestRow is the newest history row of a series (id 0: added by this
// batch).
type latestRow struct {
	id       int64
	fraction float64
	reset    int64
}

// writeSamples applies RecordSync's rule to each sample: a new row when
// the figure or its reset changed, else the newest row seen again.
func writeSamples(ctx context.Context, tx pgx.Tx, at time.Time, samples []store.Sample, known func(int64) bool, skipped *store.Skipped) error {
	if len(samples) == 0 {
		return nil
	}
	var ids []int64
	for _, smp := range samples {
		ids = append(ids, smp.AccountID)
	}
	rows, err := tx.Query(ctx, `SELECT l.account_id, l.family, l.bucket, h.id, h.fraction, h.reset_time
		FROM quota_latest l JOIN quota_history h ON h.id = l.history_id WHERE l.account_id = ANY($1)`, ids)
	if err != nil {
		return fmt.Errorf("read latest: %w", err)
	}
	latest := map[seriesKey]latestRow{}
	var k seriesKey
	var r latestRow
	_, err = pgx.ForEachRow(rows, []any{&k.account, &k.family, &k.bucket, &r.id, &r.fraction, &r.reset}, func() error {
		latest[k] = r
		return nil
	})
	if err != nil {
		return fmt.Errorf("read latest: %w", err)
	}
	var touched []int64
	var ins struct {
		account        []int64
		family, bucket []string
		fraction       []float64
		reset, atMS    []int64
		lastSeen       []int64
	}
	atMS := ms(at)
	for _, smp := range samples {
		if !known(smp.AccountID) {
			skipped.Samples++
			continue
		}
		k := seriesKey{smp.AccountID, smp.Family, smp.Window}
		reset := ms(smp.ResetTime)
		if old, ok := latest[k]; ok && old.fraction == smp.Fraction && store.SameReset(old.reset, reset) {
			if old.id != 0 {
				touched = append(touched, old.id)
			}
			continue
		}
		ins.account = append(ins.account, smp.AccountID)
		ins.family = append(ins.family, smp.Family)
		ins.bucket = append(ins.bucket, smp.Window)
		ins.fraction = append(ins.fraction, smp.Fraction)
		ins.reset = append(ins.reset, reset)
		ins.atMS = append(ins.atMS, atMS)
		ins.lastSeen = append(ins.lastSeen, atMS)
		latest[k] = latestRow{fraction: smp.Fraction, reset: reset}
	}
	if len(touched) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE quota_history SET last_seen = GREATEST(last_seen, $1) WHERE id = ANY($2)`, atMS, touched); err != nil {
			return fmt.Errorf("update last seen: %w", err)
		}
	}
	if len(ins.account) == 0 {
		return nil
	}
	// Identity values follow the order of the rows inserted, so the
	// highest id of a series is the batch's last sample of it.
	_, err = tx.Exec(ctx, `WITH ins AS (
			INSERT INTO quota_history (account_id, family, bucket, fraction, reset_time, at, last_seen)
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::float8[], $5::bigint[], $6::bigint[], $7::bigint[])
			RETURNING id, account_id, family, bucket)
		INSERT INTO quota_latest (account_id, family, bucket, history_id)
		SELECT account_id, family, bucket, max(id) FROM ins GROUP BY account_id, family, bucket
		ON CONFLICT (account_id, family, bucket) DO UPDATE SET history_id = excluded.history_id`,
		ins.account, ins.family, ins.bucket, ins.fraction, ins.reset, ins.atMS, ins.lastSeen)
	if err != nil {
		return fmt.Errorf("insert history: %w", err)
	}
	return nil
}

// insertEvents writes events; a zero At becomes at.
func insertEvents(ctx context.Context, tx pgx.Tx, events []store.Event, at time.Time, known func(int64) bool, skipped *store.Skipped) error {
	var (
		when           []int64
		acct           []*int64
		kind, fam, msg []string
	)
	for _, e := range events {
		var id *int64
		if e.AccountID != 0 {
			if !known(e.AccountID) {
				skipped.Events++
				continue
			}
			id = &e.AccountID
		}
		t := e.At
		if t.IsZero() {
			t = at
		}
		when, acct, kind, fam, msg = append(when, ms(t)), append(acct, id), append(kind, e.Kind), append(fam, e.Family), append(msg, e.Message)
	}
	if len(when) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO events (at, account_id, kind, family, message)
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[])`, when, acct, kind, fam, msg); err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	return nil
}

// writeMarksAndSyncs upserts or deletes the marks and applies the sync
// outcomes, sent to the server in one round trip.
func writeMarksAndSyncs(ctx context.Context, tx pgx.Tx, b store.Batch, known func(int64) bool, skipped *store.Skipped) error {
	var q pgx.Batch
	var what []string
	for i, m := range b.Marks {
		if !known(m.AccountID) {
			skipped.Marks++
			continue
		}
		if m.Kind == "" {
			q.Queue(`DELETE FROM marks WHERE account_id = $1 AND family = $2`, m.AccountID, m.Family)
		} else {
			q.Queue(`INSERT INTO marks (account_id, family, kind, until, since, reason) VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (account_id, family) DO UPDATE SET kind = excluded.kind, until = excluded.until,
					since = excluded.since, reason = excluded.reason`,
				m.AccountID, m.Family, m.Kind, ms(m.Until), ms(m.Since), m.Reason)
		}
		what = append(what, fmt.Sprintf("mark %d (account %d %s)", i, m.AccountID, m.Family))
	}
	for i, as := range b.Accounts {
		if !known(as.AccountID) {
			skipped.Accounts++
			continue
		}
		set := []string{"sync_error = $1", "unreadable = $2", "unreadable_cause = $3", "unreadable_until = $4"}
		args := []any{as.Error, as.Unreadable, as.UnreadableCause, ms(as.UnreadableUntil)}
		arg := func(v any) string {
			args = append(args, v)
			return fmt.Sprintf("$%d", len(args))
		}
		if !as.At.IsZero() {
			set = append(set, "synced_at = "+arg(ms(as.At)))
		}
		if t := as.Tier; t != nil {
			p := arg(t.ProjectID)
			set = append(set, "project_id = CASE WHEN "+p+" = '' THEN project_id ELSE "+p+" END",
				"tier_id = "+arg(t.TierID), "tier_name = "+arg(t.TierName), "tier = "+arg(t.Tier), "tier_checked_at = "+arg(ms(t.CheckedAt)))
		}
		if st := as.State; st != nil {
			set = append(set, "state = "+arg(string(st.State)), "state_reason = "+arg(st.Reason),
				"validation_url = "+arg(st.ValidationURL), "state_at = "+arg(ms(st.At)))
		}
		q.Queue(`UPDATE accounts SET `+strings.Join(set, ", ")+` WHERE id = `+arg(as.AccountID), args...)
		what = append(what, fmt.Sprintf("account sync %d (account %d)", i, as.AccountID))
	}
	if q.Len() == 0 {
		return nil
	}
	res := tx.SendBatch(ctx, &q)
	for _, w := range what {
		if _, err := res.Exec(); err != nil {
			res.Close()
			return fmt.Errorf("%s: %w", w, err)
		}
	}
	return res.Close()
}

// historyQuery reads one series since $4, with the point current then.
const historyQuery = `
	(SELECT at, last_seen, fraction, reset_time, rolled_up, id FROM quota_history
		WHERE account_id = $1 AND family = $2 AND bucket = $3 AND at < $4 AND last_seen >= $4
		AND id = (SELECT id FROM quota_history WHERE account_id = $1 AND family = $2 AND bucket = $3 AND at < $4
			ORDER BY at DESC, id DESC LIMIT 1))
	UNION ALL
	(SELECT at, last_seen, fraction, reset_time, rolled_up, id FROM quota_history
		WHERE account_id = $1 AND family = $2 AND bucket = $3 AND at >= $4)
	ORDER BY at, id`

// History returns one series' points seen since since, oldest first.
func (s *Store) History(ctx context.Context, accountID int64, family, window string, since time.Time) ([]store.Point, error) {
	rows, err := s.pool.Query(ctx, historyQuery, accountID, family, window, ms(since))
	if err != nil {
		return nil, fmt.Errorf("store: history of account %d %s %s: %w", accountID, family, window, err)
	}
	var out []store.Point
	var at, seen, reset, id int64
	var p store.Point
	_, err = pgx.ForEachRow(rows, []any{&at, &seen, &p.Fraction, &reset, &p.RolledUp, &id}, func() error {
		p.At, p.LastSeen, p.ResetTime = fromMS(at), fromMS(seen), fromMS(reset)
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: history of account %d %s %s: %w", accountID, family, window, err)
	}
	return out, nil
}

// Latest returns the newest figure of every series, by account, family
// and window.
func (s *Store) Latest(ctx context.Context) ([]store.Sample, error) {
	rows, err := s.pool.Query(ctx, `SELECT l.account_id, l.family, l.bucket, h.fraction, h.reset_time, h.last_seen
		FROM quota_latest l JOIN quota_history h ON h.id = l.history_id
		ORDER BY l.account_id, l.family, l.bucket`)
	if err != nil {
		return nil, fmt.Errorf("store: latest: %w", err)
	}
	var out []store.Sample
	var smp store.Sample
	var reset, seen int64
	_, err = pgx.ForEachRow(rows, []any{&smp.AccountID, &smp.Family, &smp.Window, &smp.Fraction, &reset, &seen}, func() error {
		smp.ResetTime, smp.LastSeen = fromMS(reset), fromMS(seen)
		out = append(out, smp)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: latest: %w", err)
	}
	return out, nil
}

// Marks returns the marks in force at now, by account and family.
func (s *Store) Marks(ctx context.Context, now time.Time) ([]store.Mark, error) {
	rows, err := s.pool.Query(ctx, `SELECT account_id, family, kind, until, since, reason FROM marks
		WHERE until > $1 ORDER BY account_id, family`, ms(now))
	if err != nil {
		return nil, fmt.Errorf("store: marks: %w", err)
	}
	var out []store.Mark
	var m store.Mark
	var until, since int64
	_, err = pgx.ForEachRow(rows, []any{&m.AccountID, &m.Family, &m.Kind, &until, &since, &m.Reason}, func() error {
		m.Until, m.Since = fromMS(until), fromMS(since)
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: marks: %w", err)
	}
	return out, nil
}

// Events returns up to limit events, newest first: accountID's, or all
// when accountID is 0. A limit of 0 or less means no limit.
func (s *Store) Events(ctx context.Context, accountID int64, limit int) ([]store.Event, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	var rows pgx.Rows
	var err error
	if accountID == 0 {
		rows, err = s.pool.Query(ctx, `SELECT id, at, coalesce(account_id, 0), kind, family, message
			FROM events ORDER BY at DESC, id DESC LIMIT $1`, lim)
	} else {
		rows, err = s.pool.Query(ctx, `SELECT id, at, account_id, kind, family, message
			FROM events WHERE account_id = $1 ORDER BY at DESC, id DESC LIMIT $2`, accountID, lim)
	}
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	var out []store.Event
	var e store.Event
	var at int64
	_, err = pgx.ForEachRow(rows, []any{&e.ID, &at, &e.AccountID, &e.Kind, &e.Family, &e.Message}, func() error {
		e.At = fromMS(at)
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	return out, nil
}

// Counters returns every saved counter by name.
func (s *Store) Counters(ctx context.Context) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, value FROM counters`)
	if err != nil {
		return nil, fmt.Errorf("store: counters: %w", err)
	}
	out := map[string]int64{}
	var name string
	var v int64
	_, err = pgx.ForEachRow(rows, []any{&name, &v}, func() error {
		out[name] = v
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: counters: %w", err)
	}
	return out, nil
}

// SaveCounters sets the named counters to the given values in one
// transaction; counters not in c are left as they are.
func (s *Store) SaveCounters(ctx context.Context, c map[string]int64) error {
	if len(c) == 0 {
		return nil
	}
	names := make([]string, 0, len(c))
	vals := make([]int64, 0, len(c))
	for k, v := range c {
		names, vals = append(names, k), append(vals, v)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO counters (name, value) SELECT * FROM unnest($1::text[], $2::bigint[])
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`, names, vals)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: save counters: %w", err)
	}
	return nil
}

// AddCounters adds deltas to the named counters in one statement, so two
// instances saving at once both count (SaveCounters' read-then-write
// could lose one's minute).
func (s *Store) AddCounters(ctx context.Context, delta map[string]int64) error {
	if len(delta) == 0 {
		return nil
	}
	names := make([]string, 0, len(delta))
	vals := make([]int64, 0, len(delta))
	for k, v := range delta {
		names, vals = append(names, k), append(vals, v)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO counters (name, value) SELECT * FROM unnest($1::text[], $2::bigint[])
			ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value`, names, vals)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: add counters: %w", err)
	}
	return nil
}
