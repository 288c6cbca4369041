// Package pg keeps quotatui's state in PostgreSQL, for a team that runs
// several instances over one pool of accounts: everything the SQLite
// store (package store) keeps, with the same rules, plus what only a
// shared database can give: changes announced to every instance
// (LISTEN/NOTIFY), one poller by an advisory lock, the conversations'
// account bindings, one token refresh per account at a time, and the
// instances' heartbeats.
//
// It uses pgx's pool. The tables live in the connection's current schema
// (search_path; "public" unless the URL says otherwise), so several pools
// can share one database in separate schemas: the lock keys and the
// notification channel are derived from the schema's name.
package pg

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/quotatui/quotatui/internal/store"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// IsURL reports whether db names a PostgreSQL database (a postgres:// or
// postgresql:// URL) rather than an SQLite file.
func IsURL(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// Redact returns the URL without its password, for logs, errors and the
// status answer.
func Redact(db string) string {
	u, err := url.Parse(db)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Options configure Open. The zero value is usable.
type Options struct {
	// Logger receives what the store's own goroutines (the listener) have
	// to say; default: discard.
	Logger *slog.Logger
	// Now is the wall clock (tests move it); default time.Now.
	Now func() time.Time
}

// Store is an open PostgreSQL database. It is safe for concurrent use.
type Store struct {
	url    string // as given; never logged (Redact)
	pool   *pgxpool.Pool
	schema string
	log    *slog.Logger
	now    func() time.Time

	pruneChunk  int // rows per pruning statement
	rollupBatch int // accounts per rollup transaction

	health health

	lease    leaseConn
	listener listener

	closeOnce sync.Once
	closing   chan struct{}
	wg        sync.WaitGroup // the store's own goroutines
}

// Open connects to the database at dbURL, applies the pending migrations
// in the connection's current schema and returns the store. A database
// written by a newer quotatui is refused without being modified.
func Open(ctx context.Context, dbURL string, opt Options) (*Store, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	shown := Redact(dbURL)
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		// pgx's message may quote the URL, password and all.
		return nil, fmt.Errorf("store: open %s: the URL cannot be read (see https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS)", shown)
	}
	// A poller that vanishes without closing its connection (a machine
	// gone, a cable pulled) must lose its advisory lock within a minute,
	// not after the kernel's two hours of TCP keepalive.
	rp := cfg.ConnConfig.RuntimeParams
	for k, v := range map[string]string{"tcp_keepalives_idle": "15", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"} {
		if _, set := rp[k]; !set {
			rp[k] = v
		}
	}
	if _, set := rp["application_name"]; !set {
		rp["application_name"] = "quotatui"
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", shown, err)
	}
	s := &Store{url: dbURL, pool: pool, log: opt.Logger, now: opt.Now, pruneChunk: defaultPruneChunk, rollupBatch: defaultRollupBatch, closing: make(chan struct{})}
	s.health.path = shown
	var schema *string
	if err := s.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: open %s: %w", shown, err)
	}
	if schema == nil {
		pool.Close()
		return nil, fmt.Errorf("store: open %s: no schema named by search_path exists", shown)
	}
	s.schema = *schema
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: open %s: %w", shown, err)
	}
	return s, nil
}

// Backend returns store.BackendPostgres.
func (s *Store) Backend() string { return store.BackendPostgres }

// Path returns the database's URL without its password.
func (s *Store) Path() string { return s.health.path }

// Schema returns the schema the tables live in.
func (s *Store) Schema() string { return s.schema }

// Close stops the store's goroutines, gives up the poller lock and closes
// the pool. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.wg.Wait()
		s.lease.close()
		s.pool.Close()
	})
	return nil
}

// connConfig is the pool's connection settings for a connection of the
// store's own, named in pg_stat_activity by its role and schema
// ("quotatui poller public").
func (s *Store) connConfig(role string) *pgx.ConnConfig {
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = AppName(role, s.schema)
	return cfg
}

// AppName is the application_name of the store's own connection for role
// ("poller", "listener") in schema, cut to PostgreSQL's 63 bytes.
func AppName(role, schema string) string {
	n := "quotatui " + role + " " + schema
	if len(n) > 63 {
		n = n[:63]
	}
	return n
}

// lockKey derives an advisory lock key from the schema and a purpose, so
// pools in separate schemas of one database never share a lock.
func (s *Store) lockKey(purpose string, id int64) int64 {
	h := fnv.New64a()
	h.Write([]byte(s.schema))
	h.Write([]byte{0})
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatInt(id, 10)))
	return int64(h.Sum64())
}

// channel is the notification channel of the schema (the meta trigger's
// TG_TABLE_SCHEMA || '.quotatui').
func (s *Store) channel() string { return s.schema + ".quotatui" }

// loadMigrations reads the PostgreSQL migrations, numbered as SQLite's.
func loadMigrations() ([]store.Migration, error) { return store.ReadMigrations(migrationFS) }

// Migrations reports how many migrations this build knows (its schema
// version), for tests that keep both backends' lists the same length.
func Migrations() (int, error) {
	migs, err := loadMigrations()
	if err != nil {
		return 0, err
	}
	return len(migs), nil
}

// migrate applies the migrations newer than the schema's version in one
// transaction, under a transaction-level advisory lock, so two instances
// starting together migrate once. The version lives in schema_version
// (SQLite's user_version).
func (s *Store) migrate(ctx context.Context) error {
	migs, err := loadMigrations()
	if err != nil {
		return err
	}
	known := migs[len(migs)-1].Version
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, s.lockKey("migrate", 0)); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	current := 0
	err = tx.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&current)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	case err != nil:
		return fmt.Errorf("migrate: read version: %w", err)
	}
	if current > known {
		return fmt.Errorf("database was written by a newer quotatui (schema %d, this build knows %d)", current, known)
	}
	if current == known {
		return tx.Commit(ctx)
	}
	for _, m := range migs {
		if m.Version <= current {
			continue
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE schema_version SET version = $1`, known); err != nil {
		return fmt.Errorf("migrate: set version: %w", err)
	}
	return tx.Commit(ctx)
}

// SchemaVersion reports the database's schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.pool.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return v, nil
}

// ms and fromMS are the stored form of a time (store.UnixMS).
func ms(t time.Time) int64     { return store.UnixMS(t) }
func fromMS(v int64) time.Time { return store.FromUnixMS(v) }
func isNoRows(err error) bool  { return errors.Is(err, pgx.ErrNoRows) }
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
