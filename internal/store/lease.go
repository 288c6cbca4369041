package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Several processes (a dashboard, a serve, a second serve) may run on one
// database. Only one of them should read every account's quota from the
// upstream on a schedule; the others read the figures it writes. The lease
// row elects it: the holder renews it (a heartbeat) well before it
// expires, and when the holder stops or dies, any process may take it once
// it expired. Times are wall-clock: processes share no other clock.

// TryLease takes the poller lease for holder, or renews it if holder has
// it, until now+ttl, and reports whether holder holds it. A lease held by
// another holder and not yet expired is left alone. It is one immediate
// transaction, so two processes asking at once cannot both win.
func (s *Store) TryLease(ctx context.Context, holder string, now time.Time, ttl time.Duration) (_ bool, err error) {
	defer func() { err = s.noted(err) }()
	if holder == "" || ttl <= 0 {
		return false, errors.New("store: try lease: empty holder or no ttl")
	}
	res, err := s.write.ExecContext(ctx, `INSERT INTO poller_lease (id, holder, expires, heartbeat) VALUES (1, ?1, ?2, ?3)
		ON CONFLICT (id) DO UPDATE SET holder = ?1, expires = ?2, heartbeat = ?3
		WHERE poller_lease.holder = ?1 OR poller_lease.expires <= ?3`,
		holder, ms(now.Add(ttl)), ms(now))
	if err != nil {
		return false, fmt.Errorf("store: try lease: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: try lease: %w", err)
	}
	return n == 1, nil
}

// ReleaseLease gives the lease up if holder has it, so another process
// takes over at once instead of after the lease expired.
func (s *Store) ReleaseLease(ctx context.Context, holder string) (err error) {
	defer func() { err = s.noted(err) }()
	if _, err := s.write.ExecContext(ctx, `DELETE FROM poller_lease WHERE id = 1 AND holder = ?`, holder); err != nil {
		return fmt.Errorf("store: release lease: %w", err)
	}
	return nil
}

// Lease returns who holds the poller lease and until when; "" when nobody
// ever took it or it was released.
func (s *Store) Lease(ctx context.Context) (holder string, expires time.Time, err error) {
	var exp int64
	err = s.read.QueryRowContext(ctx, `SELECT holder, expires FROM poller_lease WHERE id = 1`).Scan(&holder, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("store: lease: %w", err)
	}
	return holder, fromMS(exp), nil
}

// SyncVersion returns a counter that moves with every Batch that carries
// quota figures or sync outcomes: the processes that do not poll read the
// poller's figures when it moved.
func (s *Store) SyncVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.read.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'sync_version'`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: sync version: %w", err)
	}
	return v, nil
}
