package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Mark kinds as stored.
const (
	MarkCooldown  = "cooldown"
	MarkExhausted = "exhausted"
)

// Mark is an (account, family) taken out of rotation until Until after an
// upstream 429. Kind "" in a Batch deletes the stored mark.
type Mark struct {
	AccountID int64
	Family    string // cloudcode.Family.String()
	Kind      string // MarkCooldown, MarkExhausted, or "" to clear
	Until     time.Time
	Since     time.Time // when the error that set it was received
	Reason    string
}

// Marks returns the marks still in force at now (Until after now),
// ordered by account and family. Expired rows are left for Compact.
func (s *Store) Marks(ctx context.Context, now time.Time) ([]Mark, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT account_id, family, kind, until, since, reason FROM marks
		WHERE until > ? ORDER BY account_id, family`, ms(now))
	if err != nil {
		return nil, fmt.Errorf("store: marks: %w", err)
	}
	defer rows.Close()
	var out []Mark
	for rows.Next() {
		var m Mark
		var until, since int64
		if err := rows.Scan(&m.AccountID, &m.Family, &m.Kind, &until, &since, &m.Reason); err != nil {
			return nil, fmt.Errorf("store: marks: %w", err)
		}
		m.Until, m.Since = fromMS(until), fromMS(since)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: marks: %w", err)
	}
	return out, nil
}

// validate checks a mark before anything is written.
func (m Mark) validate() error {
	switch {
	case m.Family == "":
		return fmt.Errorf("empty family")
	case m.Kind != "" && m.Kind != MarkCooldown && m.Kind != MarkExhausted:
		return fmt.Errorf("unknown kind %q", m.Kind)
	case m.Kind != "" && m.Until.IsZero():
		return fmt.Errorf("no until time")
	}
	return nil
}

// writeMarks upserts or deletes marks inside tx, skipping those of
// accounts that no longer exist.
func writeMarks(ctx context.Context, tx *sql.Tx, check *accountChecker, marks []Mark) error {
	if len(marks) == 0 {
		return nil
	}
	up, err := tx.PrepareContext(ctx, `INSERT INTO marks (account_id, family, kind, until, since, reason) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (account_id, family) DO UPDATE SET kind = excluded.kind, until = excluded.until,
			since = excluded.since, reason = excluded.reason`)
	if err != nil {
		return fmt.Errorf("prepare mark upsert: %w", err)
	}
	defer up.Close()
	for i, m := range marks {
		ok, err := check.exists(ctx, m.AccountID)
		if err != nil {
			return fmt.Errorf("mark %d: %w", i, err)
		}
		if !ok {
			check.skipped.Marks++
			continue
		}
		if m.Kind == "" {
			_, err = tx.ExecContext(ctx, `DELETE FROM marks WHERE account_id = ? AND family = ?`, m.AccountID, m.Family)
		} else {
			_, err = up.ExecContext(ctx, m.AccountID, m.Family, m.Kind, ms(m.Until), ms(m.Since), m.Reason)
		}
		if err != nil {
			return fmt.Errorf("mark %d (account %d %s): %w", i, m.AccountID, m.Family, err)
		}
	}
	return nil
}
