package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/quotatui/quotatui/internal/auth"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/quota"
	"github.com/quotatui/quotatui/internal/store"
	"github.com/quotatui/quotatui/internal/store/pg"
	"github.com/quotatui/quotatui/internal/usage"
)

// backend is a database as the wiring hands it around: what the quota
// engine, the token source and the account commands, the proxy's counters
// and the usage reports each declare they need. The SQLite store and the PostgreSQL
// store are both one (checked below at compile time).
type backend interface {
	quota.Store
	auth.Store
	proxy.CounterStore
	usage.Reader
	Backend() string
	Close() error
}

var (
	_ backend = (*store.Store)(nil)
	_ backend = (*pg.Store)(nil)
)

// openBackend opens the database db names: a postgres:// or
// postgresql:// URL is a PostgreSQL database shared by every instance
// given the same URL, anything else an SQLite file.
func openBackend(ctx context.Context, db string, log *slog.Logger) (backend, error) {
	// A failed open returns a nil interface, not a nil *Store in one: the
	// callers' "if st != nil { st.Close() }" must see nothing to close.
	if pg.IsURL(db) {
		p, err := pg.Open(ctx, db, pg.Options{Logger: log})
		if err != nil {
			return nil, err
		}
		return p, nil
	}
	s, err := store.Open(ctx, db)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// shownDB is the database as logs and status show it: a URL without its
// password.
func shownDB(db string) string {
	if pg.IsURL(db) {
		return pg.Redact(db)
	}
	return db
}

// sharedBindings returns the proxy's session bindings kept in the
// database when it is shared (PostgreSQL), nil otherwise (the proxy then
// keeps them in memory).
func sharedBindings(st backend, idle time.Duration) proxy.Bindings {
	if p, ok := st.(*pg.Store); ok {
		return p.Bindings(idle)
	}
	return nil
}
