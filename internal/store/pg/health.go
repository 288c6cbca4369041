package pg

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/quotatui/quotatui/internal/store"
)

// health is the store's record of whether its writes work, as the SQLite
// store keeps it: a database that cannot be reached or written is a
// problem the proxy's /healthz and the dashboard must name.
type health struct {
	store.WriteHealth
	path string
}

// Health returns the store's health as its writes last found it. A
// PostgreSQL database has no file to lose: Deleted is always false.
func (s *Store) Health() store.Health {
	h := s.health.Writes()
	h.Path = s.health.path
	return h
}

// CheckFile is the SQLite store's look at its file; a server has none, and
// its reachability shows in the writes.
func (s *Store) CheckFile() error { return nil }

// noted records what a write's outcome says about the database's health
// and returns err unchanged: only errors that are the database's (it
// cannot be reached, is read-only, is out of disk or connections) make it
// unwritable; any success makes it writable again.
func (s *Store) noted(err error) error { return s.health.Note(err, notWritable) }

// notWritable reports whether err is the database failing rather than the
// request: a connection that cannot be made or broke, SQLSTATE classes 08
// (connection), 53 (insufficient resources: disk full, too many
// connections), 57 (operator intervention: shutdown) and 58 (system
// error), and 25006 (read-only transaction: a standby).
func notWritable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	code := sqlState(err)
	switch {
	case code == "25006":
		return true
	case len(code) == 5:
		return strings.HasPrefix(code, "08") || strings.HasPrefix(code, "53") || strings.HasPrefix(code, "57") || strings.HasPrefix(code, "58")
	}
	return pgconn.SafeToRetry(err)
}
