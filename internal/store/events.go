package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Event is a stored happening: a warning, a switch, an error.
type Event struct {
	ID        int64
	At        time.Time
	AccountID int64  // 0 when not about one account
	Kind      string // quota.EventKind.String()
	Family    string // "" when not about one family
	Message   string
}

// AddEvents stores events in one transaction. A zero At means now.
// Events of accounts that no longer exist are skipped and reported by a
// *SkippedError, the others committed (see RecordSync).
func (s *Store) AddEvents(ctx context.Context, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := s.writeBatch(ctx, Batch{At: s.now(), Events: events}); err != nil {
		return fmt.Errorf("store: add events: %w", err)
	}
	return nil
}

// insertEvents writes events inside tx; a zero At becomes at.
func insertEvents(ctx context.Context, tx *sql.Tx, check *accountChecker, events []Event, at time.Time) error {
	if len(events) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO events (at, account_id, kind, family, message) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("prepare event insert: %w", err)
	}
	defer stmt.Close()
	for i, e := range events {
		var acct sql.NullInt64
		if e.AccountID != 0 {
			ok, err := check.exists(ctx, e.AccountID)
			if err != nil {
				return fmt.Errorf("event %d: %w", i, err)
			}
			if !ok {
				check.skipped.Events++
				continue
			}
			acct = sql.NullInt64{Int64: e.AccountID, Valid: true}
		}
		when := e.At
		if when.IsZero() {
			when = at
		}
		if _, err := stmt.ExecContext(ctx, ms(when), acct, e.Kind, e.Family, e.Message); err != nil {
			return fmt.Errorf("event %d (%s): %w", i, e.Kind, err)
		}
	}
	return nil
}

// Events returns up to limit events, newest first: those of accountID,
// or of every account (and none) when accountID is 0. A limit of 0 or
// less means no limit.
func (s *Store) Events(ctx context.Context, accountID int64, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	var rows *sql.Rows
	var err error
	if accountID == 0 {
		rows, err = s.read.QueryContext(ctx, `SELECT id, at, coalesce(account_id, 0), kind, family, message
			FROM events ORDER BY at DESC, id DESC LIMIT ?`, limit)
	} else {
		rows, err = s.read.QueryContext(ctx, `SELECT id, at, account_id, kind, family, message
			FROM events WHERE account_id = ? ORDER BY at DESC, id DESC LIMIT ?`, accountID, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.AccountID, &e.Kind, &e.Family, &e.Message); err != nil {
			return nil, fmt.Errorf("store: events: %w", err)
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	return out, nil
}

// Counters returns every saved counter by name.
func (s *Store) Counters(ctx context.Context) (map[string]int64, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT name, value FROM counters`)
	if err != nil {
		return nil, fmt.Errorf("store: counters: %w", err)
	}
	defer rows.Close()
	out := make(map[string]int64)
	for rows.Next() {
		var name string
		var v int64
		if err := rows.Scan(&name, &v); err != nil {
			return nil, fmt.Errorf("store: counters: %w", err)
		}
		out[name] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: counters: %w", err)
	}
	return out, nil
}

// SaveCounters sets the named counters to the given values in one
// transaction (values replace, they are not added). Counters not in c are
// left as they are.
func (s *Store) SaveCounters(ctx context.Context, c map[string]int64) (err error) {
	defer func() { err = s.noted(err) }()
	if len(c) == 0 {
		return nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: save counters: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO counters (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`)
	if err != nil {
		return fmt.Errorf("store: save counters: %w", err)
	}
	defer stmt.Close()
	for name, v := range c {
		if _, err := stmt.ExecContext(ctx, name, v); err != nil {
			return fmt.Errorf("store: save counter %q: %w", name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: save counters: commit: %w", err)
	}
	return nil
}
