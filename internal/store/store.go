// Package store keeps quotatui's state in one SQLite file: accounts and
// their tokens and tiers, the quota history of every bucket, events and
// counters. It uses modernc.org/sqlite (no cgo), WAL with one writer
// connection beside a pool of readers, and embedded numbered migrations
// tracked by PRAGMA user_version.
package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrNotFound is returned (wrapped) when an account does not exist.
var ErrNotFound = errors.New("not found")

//go:embed migrations/*.sql
var migrationFS embed.FS

// busyTimeoutMS is how long a connection waits for a lock before SQLITE_BUSY.
const busyTimeoutMS = 5000

// dsnParams are applied by the driver on every new connection, so every
// pooled connection gets them, not only the first one. The driver sets
// busy_timeout before the others. None of them takes a lock: journal_mode
// is left out on purpose, because switching a new file to WAL needs an
// exclusive lock and SQLite answers SQLITE_BUSY at once, without waiting,
// when two connections race for it (a deadlock it refuses to wait on).
// WAL is a property of the file; Open sets it once, with retries.
var dsnParams = "?_pragma=busy_timeout(" + strconv.Itoa(busyTimeoutMS) + ")" +
	"&_pragma=foreign_keys(1)" +
	"&_pragma=synchronous(NORMAL)" +
	"&_txlock=immediate"

// readerCacheKiB is each reading connection's page cache (SQLite's default
// is 2000 KiB per connection). The readers serve point lookups and history
// ranges the OS page cache holds anyway; at four readers the default cost
// 6 MB of the process's 60 MB budget at 1000 accounts for no measurable
// gain (docs/BENCHMARKS.md, memory). The writer keeps the default, so a
// sync of every account does not spill its transaction's pages early.
const readerCacheKiB = 512

var readerParams = dsnParams + "&_pragma=cache_size(-" + strconv.Itoa(readerCacheKiB) + ")"

// openRetryFor bounds how long Open retries the steps that SQLite may
// refuse with SQLITE_BUSY without waiting on its busy handler (switching to
// WAL, upgrading a read lock while another process migrates).
const openRetryFor = 15 * time.Second

// Store is an open quotatui database. It is safe for concurrent use.
type Store struct {
	path  string
	write *sql.DB // one connection: SQLite has one writer anyway, and this queues writers in Go instead of in busy retries
	read  *sql.DB // WAL lets these read beside the writer
	now   func() time.Time

	pruneChunk  int // rows per pruning transaction; tests make it small
	rollupBatch int // accounts per rollup transaction; tests make it small
	bulkSamples int // RecordSync batch size that preloads; tests vary it

	health health
}

// DefaultPath returns where the database lives by default:
// $XDG_DATA_HOME/quotatui/quotatui.db, else ~/.local/share/quotatui/quotatui.db
// (on macOS and Windows, under os.UserConfigDir).
func DefaultPath() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "quotatui", "quotatui.db"), nil
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		d, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("store: default path: %w", err)
		}
		return filepath.Join(d, "quotatui", "quotatui.db"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("store: default path: %w", err)
	}
	return filepath.Join(home, ".local", "share", "quotatui", "quotatui.db"), nil
}

// Open opens (creating if needed) the database at path, applies the
// pending migrations and checks the connection settings. An empty path
// means DefaultPath. The parent directory is created with mode 0700 and
// the file with mode 0600 (a looser existing file is tightened). A
// database written by a newer quotatui is refused without being modified.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		p, err := DefaultPath()
		if err != nil {
			return nil, err
		}
		path = p
	}
	if strings.ContainsRune(path, '?') {
		// The driver splits its DSN at the first '?'.
		return nil, fmt.Errorf("store: open %s: path must not contain '?'", path)
	}
	migs, err := loadMigrations()
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	latest := migs[len(migs)-1].Version
	if err := prepareFile(path, latest); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}

	s := &Store{path: path, now: time.Now, pruneChunk: defaultPruneChunk, rollupBatch: defaultRollupBatch, bulkSamples: defaultBulkSamples}
	if s.write, err = sql.Open("sqlite", path+dsnParams); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s.write.SetMaxOpenConns(1)
	s.write.SetMaxIdleConns(1)
	s.write.SetConnMaxLifetime(0)
	s.write.SetConnMaxIdleTime(0)
	// Several processes may open a new file at the same moment: each step
	// below is idempotent and retried while SQLite says the file is busy.
	steps := []struct {
		what string
		run  func(context.Context) error
	}{
		{"switch to WAL", func(ctx context.Context) error { return enableWAL(ctx, s.write) }},
		{"migrate", func(ctx context.Context) error { return migrate(ctx, s.write, migs) }},
		{"writer", func(ctx context.Context) error { return checkPragmas(ctx, s.write) }},
	}
	for _, st := range steps {
		if err := retryBusy(ctx, st.run); err != nil {
			s.write.Close()
			return nil, fmt.Errorf("store: open %s: %s: %w", path, st.what, err)
		}
	}
	if fi, err := os.Stat(path); err == nil {
		s.health.opened = fi // CheckFile compares with it
	}
	// Readers open after migration, so the file is already in WAL mode.
	if s.read, err = sql.Open("sqlite", path+readerParams); err != nil {
		s.write.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	s.read.SetMaxOpenConns(n)
	s.read.SetMaxIdleConns(n)
	if err := retryBusy(ctx, func(ctx context.Context) error { return checkPragmas(ctx, s.read) }); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: open %s: reader: %w", path, err)
	}
	return s, nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close closes both connection pools. The WAL is checkpointed into the
// main file when the last connection closes.
func (s *Store) Close() error {
	// Readers first: the writer's close then is the last one and
	// checkpoints the WAL.
	var errs []error
	if s.read != nil {
		errs = append(errs, s.read.Close())
	}
	if s.write != nil {
		errs = append(errs, s.write.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// prepareFile creates the directory (0700) and the file (0600) before
// SQLite does, so the file never exists with the umask's looser mode, and
// tightens an existing looser database (a file it refuses keeps its mode).
// It also reads the schema version from the file header, so a newer
// database is refused before SQLite opens it (opening in WAL mode could
// otherwise rewrite its header).
func prepareFile(path string, known int) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("not a regular file")
	}
	if fi.Size() > 0 {
		// A file that is refused is left exactly as it was, mode included.
		var hdr [100]byte
		if _, err := io.ReadFull(f, hdr[:]); err != nil {
			return fmt.Errorf("not an SQLite database (short header)")
		}
		if string(hdr[:16]) != "SQLite format 3\x00" {
			return fmt.Errorf("not an SQLite database")
		}
		if v := int(int32(binary.BigEndian.Uint32(hdr[60:64]))); v > known {
			return newerSchemaError(v, known)
		}
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := f.Chmod(0o600); err != nil {
			return fmt.Errorf("restrict file mode: %w", err)
		}
	}
	return nil
}

func newerSchemaError(found, known int) error {
	return fmt.Errorf("database was written by a newer quotatui (schema %d, this build knows %d)", found, known)
}

// enableWAL puts the database file in WAL mode. It is a no-op read when the
// file already is.
func enableWAL(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q after asking for WAL", mode)
	}
	return nil
}

// isBusy reports whether err is SQLite's "database is locked" (SQLITE_BUSY,
// any extended code) or a table lock (SQLITE_LOCKED).
func isBusy(err error) bool {
	switch sqliteCode(err) {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

// sqliteCode returns the primary result code of an SQLite error in err's
// chain, or -1 when there is none.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return -1
	}
	return se.Code() & 0xff
}

// retryBusy runs f until it succeeds, fails with something other than
// SQLITE_BUSY, or openRetryFor has passed. Some lock conflicts (two
// connections switching a new file to WAL, a read lock that cannot be
// upgraded while another writer waits) are reported at once rather than
// through the busy handler, so waiting on them is the caller's job.
func retryBusy(ctx context.Context, f func(context.Context) error) error {
	deadline := time.Now().Add(openRetryFor)
	wait := 2 * time.Millisecond
	for {
		err := f(ctx)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		// Jitter keeps two processes from retrying in lockstep.
		d := wait/2 + time.Duration(rand.Int64N(int64(wait)))
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(d):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// checkPragmas verifies on one connection of db that the DSN pragmas took
// effect; a driver that silently ignored them would lose foreign keys or
// durability without anyone noticing.
func checkPragmas(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	return checkConnPragmas(ctx, conn)
}

func checkConnPragmas(ctx context.Context, conn *sql.Conn) error {
	want := []struct{ name, value string }{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"busy_timeout", strconv.Itoa(busyTimeoutMS)},
		{"synchronous", "1"}, // NORMAL
	}
	for _, w := range want {
		var got string
		if err := conn.QueryRowContext(ctx, "PRAGMA "+w.name).Scan(&got); err != nil {
			return fmt.Errorf("read pragma %s: %w", w.name, err)
		}
		if !strings.EqualFold(got, w.value) {
			return fmt.Errorf("pragma %s is %q, want %q", w.name, got, w.value)
		}
	}
	return nil
}

// Migration is one embedded migrations/NNNN_name.sql file (either
// backend's: both number theirs the same way).
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// loadMigrations reads this store's embedded migrations.
func loadMigrations() ([]Migration, error) { return ReadMigrations(migrationFS) }

// ReadMigrations reads the migrations/*.sql files of fsys in order and
// checks that they are numbered 1, 2, 3... without gaps.
func ReadMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var migs []Migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(fsys, "migrations/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		migs = append(migs, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].Version < migs[j].Version })
	for i, m := range migs {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.Name, i+1)
		}
	}
	if len(migs) == 0 {
		return nil, errors.New("no migrations embedded")
	}
	return migs, nil
}

// migrate applies every migration newer than the database's user_version
// in one immediate transaction together with the user_version bump: the
// version is read under the write lock, so two processes opening a new
// file at once migrate it once, and a failed migration leaves the previous
// schema intact.
func migrate(ctx context.Context, db *sql.DB, migs []Migration) error {
	known := migs[len(migs)-1].Version
	// Most opens find the schema current: check without the write lock.
	current, err := userVersion(ctx, db)
	if err != nil {
		return err
	}
	if current > known {
		return newerSchemaError(current, known)
	}
	if current == known {
		return nil
	}
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock in the DSN)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return fmt.Errorf("read user_version: %w", err)
	}
	if current > known {
		return newerSchemaError(current, known)
	}
	for _, m := range migs {
		if m.Version <= current {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	if current == known {
		return nil // another process migrated between our two reads
	}
	// PRAGMA takes no bound parameters; the version is our own integer.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(known)); err != nil {
		return fmt.Errorf("set user_version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func userVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read user_version: %w", err)
	}
	return v, nil
}

// SchemaVersion reports the database's schema version (PRAGMA user_version).
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	v, err := userVersion(ctx, s.read)
	if err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	return v, nil
}

// ms converts a time to Unix milliseconds; the zero time is stored as 0.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS is the inverse of ms: 0 reads back as the zero time.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}
