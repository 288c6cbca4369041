package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Sample is one bucket's figure for one account, as written by
// RecordSync and read back by Latest.
type Sample struct {
	AccountID int64
	Family    string // cloudcode.Family.String()
	Window    string // cloudcode.Window ("5h", "weekly")
	Fraction  float64
	ResetTime time.Time // zero when unknown
	// LastSeen is when the figure was last observed. Latest sets it;
	// RecordSync ignores it and uses its at argument.
	LastSeen time.Time
}

// Point is one row of a bucket's history: the figure first seen At and
// still seen at LastSeen. Rolled-up points stand for one hour (At is the
// hour's start) and carry the hour's lowest fraction and last reset time.
type Point struct {
	At, LastSeen time.Time
	Fraction     float64
	ResetTime    time.Time
	RolledUp     bool
}

// SkippedError reports the part of a batch that RecordSync or AddEvents
// left out because its account no longer exists (deleted while a sync was
// running). The rest of the batch was committed. It matches ErrNotFound
// under errors.Is.
type SkippedError struct {
	Samples, Events, Marks, Accounts int
	AccountIDs                       []int64 // the missing accounts, ascending
}

// Error describes what was skipped.
func (e *SkippedError) Error() string {
	return fmt.Sprintf("skipped %d samples, %d events, %d marks and %d sync outcomes of deleted accounts %v",
		e.Samples, e.Events, e.Marks, e.Accounts, e.AccountIDs)
}

// Unwrap makes errors.Is(err, ErrNotFound) true.
func (e *SkippedError) Unwrap() error { return ErrNotFound }

// accountChecker remembers, within one transaction, which account ids exist.
type accountChecker struct {
	stmt      *sql.Stmt
	known     map[int64]bool
	preloaded bool // known holds every account: a missing id does not exist
	skipped   SkippedError
}

// preload reads every account id in one scan.
func (c *accountChecker) preload(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM accounts`)
	if err != nil {
		return fmt.Errorf("read account ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("read account ids: %w", err)
		}
		c.known[id] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read account ids: %w", err)
	}
	c.preloaded = true
	return nil
}

func newAccountChecker(ctx context.Context, tx *sql.Tx) (*accountChecker, error) {
	stmt, err := tx.PrepareContext(ctx, `SELECT EXISTS (SELECT 1 FROM accounts WHERE id = ?)`)
	if err != nil {
		return nil, err
	}
	return &accountChecker{stmt: stmt, known: make(map[int64]bool)}, nil
}

func (c *accountChecker) exists(ctx context.Context, id int64) (bool, error) {
	if ok, seen := c.known[id]; seen || c.preloaded {
		if !seen {
			c.known[id] = false
			c.skipped.AccountIDs = append(c.skipped.AccountIDs, id)
		}
		return ok, nil
	}
	var ok bool
	if err := c.stmt.QueryRowContext(ctx, id).Scan(&ok); err != nil {
		return false, fmt.Errorf("check account %d: %w", id, err)
	}
	c.known[id] = ok
	if !ok {
		c.skipped.AccountIDs = append(c.skipped.AccountIDs, id)
	}
	return ok, nil
}

// err returns the SkippedError when anything was skipped, else nil.
func (c *accountChecker) err() error {
	if c.skipped.Samples == 0 && c.skipped.Events == 0 && c.skipped.Marks == 0 && c.skipped.Accounts == 0 {
		return nil
	}
	e := c.skipped
	slices.Sort(e.AccountIDs)
	return &e
}

func (c *accountChecker) close() { c.stmt.Close() }

// RecordSync writes one sync's samples and events in one transaction. A
// sample adds a history row only when its fraction differs from the newest
// row of its (account, family, window), or its reset time by more than
// ResetTolerance; otherwise that row's last_seen moves to at. Events with a zero At get at; a zero at
// means now.
//
// Samples and events of accounts that no longer exist are skipped: the
// rest of the batch is committed and the returned error is a
// *SkippedError (errors.Is(err, ErrNotFound)). Any other error writes
// nothing. An invalid sample (no family or window, or a fraction that is
// not a finite number) fails the whole batch, naming its index.
func (s *Store) RecordSync(ctx context.Context, at time.Time, samples []Sample, events []Event) error {
	if at.IsZero() {
		at = s.now()
	}
	if err := s.writeBatch(ctx, Batch{At: at, Samples: samples, Events: events}); err != nil {
		return fmt.Errorf("store: record sync: %w", err)
	}
	return nil
}

// Batch is one write of the quota engine, made in one transaction: a
// sync's figures and events, and the marks learned from 429s since the
// last write. At is when (zero: now).
type Batch struct {
	At       time.Time
	Samples  []Sample
	Events   []Event
	Marks    []Mark
	Accounts []AccountSync
}

// AccountSync is what one sync learned about an account beside its
// figures, written with them: when it ran and how it ended, and the tier
// and engine state when they changed. It never touches the user's columns.
type AccountSync struct {
	AccountID       int64
	At              time.Time // synced_at
	Error           string    // "" after a success
	Unreadable      string
	UnreadableCause string
	UnreadableUntil time.Time

	// Tier is set when loadCodeAssist was asked (an empty ProjectID keeps
	// the stored project, as SetTier does).
	Tier *TierUpdate
	// State is set when the engine's state changed.
	State *StateUpdate
}

// TierUpdate is a loadCodeAssist outcome, as SetTier takes it.
type TierUpdate struct {
	ProjectID, TierID, TierName, Tier string
	CheckedAt                         time.Time
}

// StateUpdate is an engine state change, as SetState takes it.
type StateUpdate struct {
	State         AccountState
	Reason        string
	ValidationURL string
	At            time.Time
}

// Write stores b in one transaction, with RecordSync's rules for samples
// and events; each mark replaces the stored mark of its (account, family),
// and a mark of Kind "" deletes it. Parts of accounts that no longer exist
// are skipped and reported by a *SkippedError, the rest committed. An
// invalid sample or mark fails the whole batch, naming its index.
func (s *Store) Write(ctx context.Context, b Batch) error {
	if b.At.IsZero() {
		b.At = s.now()
	}
	if err := s.writeBatch(ctx, b); err != nil {
		return fmt.Errorf("store: write: %w", err)
	}
	return nil
}

// writeAccountSyncs applies each AccountSync inside tx, skipping accounts
// that no longer exist.
func writeAccountSyncs(ctx context.Context, tx *sql.Tx, check *accountChecker, syncs []AccountSync) error {
	for i, as := range syncs {
		ok, err := check.exists(ctx, as.AccountID)
		if err != nil {
			return fmt.Errorf("account sync %d: %w", i, err)
		}
		if !ok {
			check.skipped.Accounts++
			continue
		}
		set := []string{"sync_error = ?", "unreadable = ?", "unreadable_cause = ?", "unreadable_until = ?"}
		args := []any{as.Error, as.Unreadable, as.UnreadableCause, ms(as.UnreadableUntil)}
		if !as.At.IsZero() {
			set = append(set, "synced_at = ?")
			args = append(args, ms(as.At))
		}
		if t := as.Tier; t != nil {
			set = append(set, "project_id = CASE WHEN ? = '' THEN project_id ELSE ? END", "tier_id = ?", "tier_name = ?", "tier = ?", "tier_checked_at = ?")
			args = append(args, t.ProjectID, t.ProjectID, t.TierID, t.TierName, t.Tier, ms(t.CheckedAt))
		}
		if st := as.State; st != nil {
			set = append(set, "state = ?", "state_reason = ?", "validation_url = ?", "state_at = ?")
			args = append(args, string(st.State), st.Reason, st.ValidationURL, ms(st.At))
		}
		args = append(args, as.AccountID)
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET `+strings.Join(set, ", ")+` WHERE id = ?`, args...); err != nil {
			return fmt.Errorf("account sync %d (account %d): %w", i, as.AccountID, err)
		}
	}
	return nil
}

// writeBatch is Write, RecordSync and AddEvents: one transaction for
// samples, events, marks and sync outcomes, skipping those of deleted
// accounts (see RecordSync).
func (s *Store) writeBatch(ctx context.Context, b Batch) (err error) {
	defer func() { err = s.noted(err) }()
	at, samples, events, mks := b.At, b.Samples, b.Events, b.Marks
	if err := b.Check(); err != nil {
		return err
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	check, err := newAccountChecker(ctx, tx)
	if err != nil {
		return err
	}
	defer check.close()
	if len(samples) > 0 {
		w, err := prepareHistoryWriter(ctx, tx)
		if err != nil {
			return err
		}
		defer w.close()
		if len(samples) >= s.bulkSamples {
			if err := w.preload(ctx); err != nil {
				return err
			}
			if err := check.preload(ctx, tx); err != nil {
				return err
			}
		}
		atMS := ms(at)
		for i, smp := range samples {
			ok, err := check.exists(ctx, smp.AccountID)
			if err != nil {
				return fmt.Errorf("sample %d: %w", i, err)
			}
			if !ok {
				check.skipped.Samples++
				continue
			}
			if err := w.record(ctx, smp); err != nil {
				return fmt.Errorf("sample %d (account %d %s %s): %w", i, smp.AccountID, smp.Family, smp.Window, err)
			}
		}
		if err := w.flush(ctx, atMS); err != nil {
			return err
		}
	}
	if err := insertEvents(ctx, tx, check, events, at); err != nil {
		return err
	}
	if err := writeMarks(ctx, tx, check, mks); err != nil {
		return err
	}
	if err := writeAccountSyncs(ctx, tx, check, b.Accounts); err != nil {
		return err
	}
	if len(samples) > 0 || len(b.Accounts) > 0 {
		// The processes that do not poll read the figures when this moves.
		if _, err := tx.ExecContext(ctx, `UPDATE meta SET value = value + 1 WHERE key = 'sync_version'`); err != nil {
			return fmt.Errorf("move sync version: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return check.err()
}

func (smp Sample) validate() error {
	switch {
	case strings.TrimSpace(smp.Family) == "":
		return errors.New("empty family")
	case strings.TrimSpace(smp.Window) == "":
		return errors.New("empty window")
	case math.IsNaN(smp.Fraction) || math.IsInf(smp.Fraction, 0):
		return fmt.Errorf("fraction %v is not a number", smp.Fraction)
	}
	return nil
}

// defaultBulkSamples is the batch size from which RecordSync reads every
// series' latest row and every account id up front, in two scans, instead
// of one indexed lookup per sample: a full sync touches nearly all of them.
const defaultBulkSamples = 64

// seriesKey names one (account, family, window) series.
type seriesKey struct {
	account        int64
	family, bucket string
}

// latestRow is the newest history row of a series.
type latestRow struct {
	id       int64
	fraction float64
	reset    int64
}

// historyWriter applies RecordSync's samples inside one transaction. It
// decides per sample in Go, then writes in a few set-based statements:
// one per insertChunk new rows, one for all the last_seen updates and one
// for the quota_latest pointers, instead of one or two per sample.
type historyWriter struct {
	tx        *sql.Tx
	latest    *sql.Stmt
	rows      map[seriesKey]latestRow // known latest rows (all of them when preloaded)
	preloaded bool
	touched   []int64  // rows whose last_seen moves to the sync's time
	inserts   []Sample // new rows, in batch order
}

// insertChunk is how many rows one multi-row INSERT writes (7 parameters
// each, well under SQLite's limit of 32766).
const insertChunk = 100

func prepareHistoryWriter(ctx context.Context, tx *sql.Tx) (*historyWriter, error) {
	stmt, err := tx.PrepareContext(ctx, `SELECT h.id, h.fraction, h.reset_time FROM quota_latest l JOIN quota_history h ON h.id = l.history_id
		WHERE l.account_id = ? AND l.family = ? AND l.bucket = ?`)
	if err != nil {
		return nil, err
	}
	return &historyWriter{tx: tx, latest: stmt, rows: make(map[seriesKey]latestRow)}, nil
}

func (w *historyWriter) close() { w.latest.Close() }

// preload reads every series' latest row in one scan.
func (w *historyWriter) preload(ctx context.Context) error {
	rows, err := w.tx.QueryContext(ctx, `SELECT l.account_id, l.family, l.bucket, h.id, h.fraction, h.reset_time
		FROM quota_latest l JOIN quota_history h ON h.id = l.history_id`)
	if err != nil {
		return fmt.Errorf("read latest: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k seriesKey
		var r latestRow
		if err := rows.Scan(&k.account, &k.family, &k.bucket, &r.id, &r.fraction, &r.reset); err != nil {
			return fmt.Errorf("read latest: %w", err)
		}
		w.rows[k] = r
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read latest: %w", err)
	}
	w.preloaded = true
	return nil
}

func (w *historyWriter) lookup(ctx context.Context, k seriesKey) (latestRow, bool, error) {
	if r, ok := w.rows[k]; ok || w.preloaded {
		return r, ok, nil
	}
	var r latestRow
	err := w.latest.QueryRowContext(ctx, k.account, k.family, k.bucket).Scan(&r.id, &r.fraction, &r.reset)
	if errors.Is(err, sql.ErrNoRows) {
		return latestRow{}, false, nil
	}
	if err != nil {
		return latestRow{}, false, fmt.Errorf("read latest: %w", err)
	}
	w.rows[k] = r
	return r, true, nil
}

// ResetTolerance is how far apart two reset times of one bucket may be
// and still name the same reset: the upstream's reset times jitter by a
// second or so between answers. The quota engine uses the same tolerance
// to tell a window that rolled over from jitter.
const ResetTolerance = time.Minute

// sameReset reports whether two reset times (Unix ms, 0 = unknown) are
// the same reset.
func sameReset(a, b int64) bool {
	if a == 0 || b == 0 {
		return a == b
	}
	d := a - b
	return d <= ResetTolerance.Milliseconds() && d >= -ResetTolerance.Milliseconds()
}

// record decides what smp needs: nothing written yet, only queued.
func (w *historyWriter) record(ctx context.Context, smp Sample) error {
	k := seriesKey{smp.AccountID, smp.Family, smp.Window}
	reset := ms(smp.ResetTime)
	old, ok, err := w.lookup(ctx, k)
	if err != nil {
		return err
	}
	if ok && old.fraction == smp.Fraction && sameReset(old.reset, reset) {
		if old.id != 0 { // 0: queued in this batch, inserted already seen at the sync's time
			w.touched = append(w.touched, old.id)
		}
		return nil
	}
	w.inserts = append(w.inserts, smp)
	// A later sample of the series in this batch compares with this one.
	w.rows[k] = latestRow{fraction: smp.Fraction, reset: reset}
	return nil
}

// flush writes what record queued, all rows first seen and last seen at atMS.
func (w *historyWriter) flush(ctx context.Context, atMS int64) error {
	if len(w.touched) > 0 {
		// The ids are integers, so JSON carries them exactly.
		ids, err := json.Marshal(w.touched)
		if err != nil {
			return fmt.Errorf("update last seen: %w", err)
		}
		if _, err := w.tx.ExecContext(ctx, `UPDATE quota_history SET last_seen = max(last_seen, ?)
			WHERE id IN (SELECT value FROM json_each(?))`, atMS, string(ids)); err != nil {
			return fmt.Errorf("update last seen: %w", err)
		}
	}
	if len(w.inserts) == 0 {
		return nil
	}
	// New rowids are above every existing one (SQLite allocates max+1), so
	// "id > before" is exactly this batch's rows.
	var before int64
	if err := w.tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM quota_history`).Scan(&before); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	var full *sql.Stmt // the statement for a whole chunk, reused
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	args := make([]any, 0, 7*insertChunk)
	for rest := w.inserts; len(rest) > 0; {
		n := min(len(rest), insertChunk)
		args = args[:0]
		for _, smp := range rest[:n] {
			// Fractions are bound as float64, never formatted: a comparison
			// with the next sync must see exactly the same number.
			args = append(args, smp.AccountID, smp.Family, smp.Window, smp.Fraction, ms(smp.ResetTime), atMS, atMS)
		}
		query := `INSERT INTO quota_history (account_id, family, bucket, fraction, reset_time, at, last_seen) VALUES ` +
			strings.Repeat("(?, ?, ?, ?, ?, ?, ?), ", n-1) + "(?, ?, ?, ?, ?, ?, ?)"
		var err error
		switch {
		case n < insertChunk:
			_, err = w.tx.ExecContext(ctx, query, args...)
		case full == nil:
			if full, err = w.tx.PrepareContext(ctx, query); err == nil {
				_, err = full.ExecContext(ctx, args...)
			}
		default:
			_, err = full.ExecContext(ctx, args...)
		}
		if err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		rest = rest[n:]
	}
	// The batch's last row of a series (the highest id) is its latest.
	if _, err := w.tx.ExecContext(ctx, `INSERT INTO quota_latest (account_id, family, bucket, history_id)
		SELECT account_id, family, bucket, max(id) FROM quota_history WHERE id > ? GROUP BY account_id, family, bucket
		ON CONFLICT (account_id, family, bucket) DO UPDATE SET history_id = excluded.history_id`, before); err != nil {
		return fmt.Errorf("set latest: %w", err)
	}
	return nil
}

// historyQuery reads one series since ?4. Both halves are range scans of
// the (account, family, bucket, at) index.
const historyQuery = `
	SELECT at, last_seen, fraction, reset_time, rolled_up, id FROM (
		SELECT at, last_seen, fraction, reset_time, rolled_up, id FROM quota_history
		WHERE account_id = ?1 AND family = ?2 AND bucket = ?3 AND at < ?4
		ORDER BY at DESC, id DESC LIMIT 1)
	WHERE last_seen >= ?4
	UNION ALL
	SELECT at, last_seen, fraction, reset_time, rolled_up, id FROM quota_history
	WHERE account_id = ?1 AND family = ?2 AND bucket = ?3 AND at >= ?4
	ORDER BY at, id`

// History returns the points of one (account, family, window) series seen
// since since, oldest first, raw and rolled-up alike. The point that was
// current at since (first seen before it, still seen after) is included,
// so a figure that has not changed for a day still shows.
func (s *Store) History(ctx context.Context, accountID int64, family, window string, since time.Time) ([]Point, error) {
	rows, err := s.read.QueryContext(ctx, historyQuery, accountID, family, window, ms(since))
	if err != nil {
		return nil, fmt.Errorf("store: history of account %d %s %s: %w", accountID, family, window, err)
	}
	defer rows.Close()
	var out []Point
	for rows.Next() {
		var at, seen, reset, id int64
		var p Point
		// id only orders rows of one sync (a series sampled twice in a batch).
		if err := rows.Scan(&at, &seen, &p.Fraction, &reset, &p.RolledUp, &id); err != nil {
			return nil, fmt.Errorf("store: history of account %d %s %s: %w", accountID, family, window, err)
		}
		p.At, p.LastSeen, p.ResetTime = fromMS(at), fromMS(seen), fromMS(reset)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: history of account %d %s %s: %w", accountID, family, window, err)
	}
	return out, nil
}

// latestQuery walks quota_latest in key order and fetches each row by id.
const latestQuery = `
	SELECT l.account_id, l.family, l.bucket, h.fraction, h.reset_time, h.last_seen
	FROM quota_latest l JOIN quota_history h ON h.id = l.history_id
	ORDER BY l.account_id, l.family, l.bucket`

// Latest returns the newest figure of every (account, family, window),
// ordered by account, family and window. It reads the quota_latest table
// that RecordSync maintains, never the history itself.
func (s *Store) Latest(ctx context.Context) ([]Sample, error) {
	rows, err := s.read.QueryContext(ctx, latestQuery)
	if err != nil {
		return nil, fmt.Errorf("store: latest: %w", err)
	}
	defer rows.Close()
	var out []Sample
	for rows.Next() {
		var smp Sample
		var reset, seen int64
		if err := rows.Scan(&smp.AccountID, &smp.Family, &smp.Window, &smp.Fraction, &reset, &seen); err != nil {
			return nil, fmt.Errorf("store: latest: %w", err)
		}
		smp.ResetTime, smp.LastSeen = fromMS(reset), fromMS(seen)
		out = append(out, smp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: latest: %w", err)
	}
	return out, nil
}
