package pg

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quotatui/quotatui/internal/store"
)

// One poller per database: the instance that holds a session-level
// advisory lock on a connection of its own polls the upstream. The lock
// lasts exactly as long as that connection: an instance that exits, is
// killed or loses the server loses it at once (PostgreSQL ends the
// session; the keepalives Open sets bound how long a vanished machine
// takes), and another instance takes it at its next TryLease. There is
// no expiry to wait for, and two instances can never both hold it.

// leaseConn is the connection that holds (or tries to take) the lock.
type leaseConn struct {
	mu   sync.Mutex
	conn *pgx.Conn // nil until the first TryLease, or after it broke
	held bool
}

func (l *leaseConn) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		l.conn.Close(ctx) // ends the session: the lock goes with it
		cancel()
		l.conn, l.held = nil, false
	}
}

// TryLease takes the poller lock for this process, or checks that it
// still holds it, and reports whether it does. holder, now and ttl are the
// lease row's (quota.Lease): the lock needs none of them, since it ends
// with its connection.
func (s *Store) TryLease(ctx context.Context, holder string, now time.Time, ttl time.Duration) (bool, error) {
	if holder == "" || ttl <= 0 {
		return false, errors.New("store: try lease: empty holder or no ttl")
	}
	l := &s.lease
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		if err := l.conn.Ping(ctx); err != nil {
			// The session is gone, and the lock with it: another instance
			// may hold it by now.
			l.conn.Close(context.Background())
			l.conn, l.held = nil, false
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
		} else if l.held {
			return true, nil
		}
	}
	if l.conn == nil {
		conn, err := pgx.ConnectConfig(ctx, s.connConfig("poller"))
		if err != nil {
			return false, s.noted(fmt.Errorf("store: try lease: connect: %w", err))
		}
		l.conn = conn
	}
	if err := l.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, s.lockKey("poller", 0)).Scan(&l.held); err != nil {
		l.conn.Close(context.Background())
		l.conn, l.held = nil, false
		return false, s.noted(fmt.Errorf("store: try lease: %w", err))
	}
	return l.held, nil
}

// ReleaseLease gives the lock up, so another instance takes over at its
// next TryLease, and closes the lock's connection. The unlock is asked for
// first: a closed connection's session ends a moment later, on the
// server's time.
func (s *Store) ReleaseLease(ctx context.Context, holder string) error {
	l := &s.lease
	l.mu.Lock()
	var err error
	if l.conn != nil && l.held {
		var ok bool
		if err = l.conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, s.lockKey("poller", 0)).Scan(&ok); err != nil {
			err = fmt.Errorf("store: release lease: %w", err)
		}
	}
	l.mu.Unlock()
	l.close()
	return err
}

// Lease returns which instance polls, by the instances' heartbeats (""
// when none says it does), and until when its heartbeat holds.
func (s *Store) Lease(ctx context.Context) (holder string, expires time.Time, err error) {
	var beat int64
	err = s.pool.QueryRow(ctx, `SELECT holder, heartbeat FROM instances WHERE poller ORDER BY heartbeat DESC LIMIT 1`).Scan(&holder, &beat)
	if isNoRows(err) {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("store: lease: %w", err)
	}
	return holder, fromMS(beat).Add(store.InstanceTTL), nil
}

// Heartbeat records that in is alive now (its row, with whether it polls)
// and returns every instance whose heartbeat is younger than
// store.InstanceTTL, by start time.
func (s *Store) Heartbeat(ctx context.Context, in store.Instance) ([]store.Instance, error) {
	now := s.now()
	var out []store.Instance
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out = out[:0]
		if _, err := tx.Exec(ctx, `INSERT INTO instances (holder, host, pid, started_at, heartbeat, poller)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (holder) DO UPDATE SET heartbeat = excluded.heartbeat, poller = excluded.poller`,
			in.Holder, in.Host, in.PID, ms(in.Started), ms(now), in.Poller); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM instances WHERE heartbeat < $1`, ms(now.Add(-10*store.InstanceTTL))); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT holder, host, pid, started_at, heartbeat, poller FROM instances
			WHERE heartbeat >= $1 ORDER BY started_at, holder`, ms(now.Add(-store.InstanceTTL)))
		if err != nil {
			return err
		}
		var i store.Instance
		var started, beat int64
		_, err = pgx.ForEachRow(rows, []any{&i.Holder, &i.Host, &i.PID, &started, &beat, &i.Poller}, func() error {
			i.Started, i.Heartbeat = fromMS(started), fromMS(beat)
			out = append(out, i)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: heartbeat: %w", err)
	}
	return out, nil
}

// Leave removes holder's heartbeat: the instance stops.
func (s *Store) Leave(ctx context.Context, holder string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM instances WHERE holder = $1`, holder); err != nil {
		return s.noted(fmt.Errorf("store: leave: %w", err))
	}
	return nil
}

// LockRefresh waits for the right to refresh accountID's token (an
// advisory lock per account, held on one pooled connection) and returns
// the function that gives it back. While one instance refreshes, the
// others wait here, then read the token it stored instead of refreshing
// again.
func (s *Store) LockRefresh(ctx context.Context, accountID int64) (unlock func(), err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, s.noted(fmt.Errorf("store: lock refresh of account %d: %w", accountID, err))
	}
	key := s.lockKey("refresh", accountID)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		// A cancelled wait may leave the connection mid-query: drop it.
		conn.Conn().Close(context.Background())
		conn.Release()
		return nil, fmt.Errorf("store: lock refresh of account %d: %w", accountID, err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
				// Closing the session releases the lock for sure.
				conn.Conn().Close(ctx)
			}
			conn.Release()
		})
	}, nil
}
