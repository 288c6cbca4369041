package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(openChildEnv); spec != "" {
		openAsChild(spec) // exits
	}
	// goleak catches a Store left open: database/sql's pools own
	// goroutines until Close.
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		benchFixture.remove()
		compactFixture.remove()
		os.Exit(code)
	}))
}

// t0 is a fixed, hour-aligned moment the tests start from.
var t0 = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// openTest opens a fresh store in a temporary directory whose clock reads
// *now (t0 unless the test moves it), closed at cleanup.
func openTest(t testing.TB) (*Store, *time.Time) {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "quotatui.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	now := t0
	s.now = func() time.Time { return now }
	return s, &now
}

// rawDB opens path with the plain driver, without the store's settings,
// the way another tool (or an older or newer quotatui) would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestOpenNewDatabase(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data", "quotatui")
	path := filepath.Join(dir, "quotatui.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()

	v, err := s.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(mustMigrations(t)); v != want {
		t.Errorf("schema version = %d, want %d", v, want)
	}
	for _, table := range []string{"accounts", "quota_history", "quota_latest", "events", "counters"} {
		var n int
		if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil || n != 1 {
			t.Errorf("table %s: count %d, err %v", table, n, err)
		}
	}
	// Write something so the WAL exists, then check every file's mode.
	if _, err := s.UpsertAccounts(ctx, []Account{{Email: "a@example.com"}}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600, path + "-wal": 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("stat %s: %v", p, err)
			continue
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %o, want %o", filepath.Base(p), got, want)
		}
	}
}

func mustMigrations(t *testing.T) []Migration {
	t.Helper()
	migs, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	return migs
}

func TestOpenTightensLooseFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // past the umask
		t.Fatal(err)
	}
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode = %o, want 600", got)
	}
}

func TestOpenRefusesBadPaths(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not sqlite "), 20), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"not sqlite", garbage, "not an SQLite database"},
		{"question mark", filepath.Join(dir, "a?b.db"), "must not contain '?'"},
		{"directory", dir, "is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(context.Background(), tt.path)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestOpenExistingDatabaseTwice(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	for i := range 2 {
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		if _, err := s.UpsertAccounts(ctx, []Account{{Email: "same@example.com", Label: "L"}}); err != nil {
			t.Fatal(err)
		}
		accts, err := s.Accounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(accts) != 1 {
			t.Errorf("Open #%d: %d accounts, want 1", i+1, len(accts))
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOpenConcurrently opens one new file from several goroutines, as two
// quotatui processes starting together would: each migration runs once,
// under the write lock, and every Open succeeds.
func TestOpenConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	const n = 4
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(context.Background(), path) })
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Errorf("Open #%d: %v", i, errs[i])
			continue
		}
		if v, err := s.SchemaVersion(context.Background()); err != nil || v != len(mustMigrations(t)) {
			t.Errorf("Open #%d: schema %d, %v", i, v, err)
		}
		s.Close()
	}
}

// openChildEnv makes the test binary a child that opens a database at a
// given moment and exits ("<unix nanoseconds> <path>"):
// TestOpenConcurrentProcesses starts several that open at the same instant.
const openChildEnv = "QUOTATUI_STORE_TEST_OPEN_CHILD"

func openAsChild(spec string) {
	at, path, _ := strings.Cut(spec, " ")
	var ns int64
	fmt.Sscan(at, &ns)
	time.Sleep(time.Until(time.Unix(0, ns)))
	s, err := Open(context.Background(), path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestOpenConcurrentProcesses opens one new file from several processes at
// once, as two `serve` processes started together do. Unlike goroutines in
// one process, they share no SQLite state and meet only through file locks.
func TestOpenConcurrentProcesses(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	for round := range 3 {
		path := filepath.Join(t.TempDir(), "q.db")
		const n = 6
		// Every child sleeps until the same moment, so their opens overlap
		// instead of following each process's start-up.
		at := time.Now().Add(300 * time.Millisecond).UnixNano()
		cmds := make([]*exec.Cmd, n)
		outs := make([]bytes.Buffer, n)
		for i := range n {
			cmds[i] = exec.Command(exe, "-test.run=^$")
			cmds[i].Env = append(os.Environ(), fmt.Sprintf("%s=%d %s", openChildEnv, at, path))
			cmds[i].Stderr = &outs[i]
			if err := cmds[i].Start(); err != nil {
				t.Fatal(err)
			}
		}
		for i, c := range cmds {
			if err := c.Wait(); err != nil {
				t.Errorf("round %d: process %d: %v: %s", round, i, err, outs[i].String())
			}
		}
		s, err := Open(context.Background(), path)
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		if v, err := s.SchemaVersion(context.Background()); err != nil || v != len(mustMigrations(t)) {
			t.Errorf("round %d: schema %d, %v", round, v, err)
		}
		s.Close()
	}
}

// TestFailedMigrationLeavesSchemaIntact runs a pending migration that fails
// halfway: the one transaction leaves the database as it was.
func TestFailedMigrationLeavesSchemaIntact(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	migs := mustMigrations(t)
	bad := append(migs[:len(migs):len(migs)], Migration{
		Version: len(migs) + 1, Name: "bad.sql",
		SQL: "CREATE TABLE half_done (x INTEGER); INSERT INTO no_such_table VALUES (1);",
	})
	if err := migrate(ctx, s.write, bad); err == nil || !strings.Contains(err.Error(), "bad.sql") {
		t.Fatalf("migrate with a failing migration: %v", err)
	}
	if v, _ := s.SchemaVersion(ctx); v != len(migs) {
		t.Errorf("schema version after a failed migration = %d, want %d", v, len(migs))
	}
	var n int
	if err := s.read.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE name = 'half_done'").Scan(&n); err != nil || n != 0 {
		t.Errorf("half-applied table left behind: %d, %v", n, err)
	}
}

// TestMigrateFromSchema1 builds a database at schema 1 by hand, as an
// older quotatui left it, and checks that Open brings it up to date
// keeping its rows.
func TestMigrateFromSchema1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	db := rawDB(t, path)
	migs := mustMigrations(t)
	if _, err := db.Exec(migs[0].SQL); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`PRAGMA user_version = 1;
		INSERT INTO accounts (email, refresh_token, added_at) VALUES ('old@example.com', 'rt', 1000)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if v, _ := s.SchemaVersion(ctx); v != len(migs) {
		t.Errorf("schema version = %d, want %d", v, len(migs))
	}
	a, err := s.AccountByEmail(ctx, "OLD@example.com")
	if err != nil {
		t.Fatalf("old account lost: %v", err)
	}
	if a.RefreshToken != "rt" || a.AddedAt != time.UnixMilli(1000) || a.State != StateActive {
		t.Errorf("old account = %+v", a)
	}
	// Schema 2's table works.
	if err := s.SaveCounters(ctx, map[string]int64{"x": 1}); err != nil {
		t.Errorf("counters after migration: %v", err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpsertAccounts(ctx, []Account{{Email: "a@example.com"}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db := rawDB(t, path)
	newer := len(mustMigrations(t)) + 1
	if _, err := db.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, newer)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	s, err = Open(ctx, path)
	if err == nil {
		s.Close()
		t.Fatal("Open accepted a newer schema")
	}
	want := fmt.Sprintf("database was written by a newer quotatui (schema %d, this build knows %d)", newer, len(mustMigrations(t)))
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("refused database file was modified")
	}
}

// TestMigrateRefusesNewerUnderLock covers the check SQLite itself answers
// (the header can lag behind an unmerged WAL): a build that knows fewer
// migrations than the database has must refuse too.
func TestMigrateRefusesNewerUnderLock(t *testing.T) {
	s, _ := openTest(t)
	all := mustMigrations(t)
	err := migrate(context.Background(), s.write, all[:1])
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("schema %d, this build knows 1", len(all))) {
		t.Errorf("migrate with fewer migrations: %v", err)
	}
}

func TestPragmasOnEveryPooledConnection(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	n := 4
	conns := make([]*sql.Conn, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	// Hold all n at once so they are n distinct connections.
	for i := range n {
		wg.Go(func() {
			conns[i], errs[i] = s.read.Conn(ctx)
		})
	}
	wg.Wait()
	for i, c := range conns {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		defer c.Close()
	}
	cacheSize := func(c *sql.Conn) int {
		var n int
		if err := c.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&n); err != nil {
			t.Fatalf("read cache_size: %v", err)
		}
		return n
	}
	for i, c := range conns {
		if err := checkConnPragmas(ctx, c); err != nil {
			t.Errorf("reader %d: %v", i, err)
		}
		if got := cacheSize(c); got != -readerCacheKiB {
			t.Errorf("reader %d: cache_size %d, want %d (KiB)", i, got, -readerCacheKiB)
		}
	}
	w, err := s.write.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := checkConnPragmas(ctx, w); err != nil {
		t.Errorf("writer: %v", err)
	}
	if got := cacheSize(w); got != -2000 {
		t.Errorf("writer: cache_size %d, want SQLite's default -2000", got)
	}
	if got := s.write.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer pool allows %d connections, want 1", got)
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/xdg/data")
	p, err := DefaultPath()
	if err != nil {
		t.Fatal(err)
	}
	if p != filepath.Join("/xdg/data", "quotatui", "quotatui.db") {
		t.Errorf("with XDG_DATA_HOME: %s", p)
	}
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", "/home/u")
	p, err = DefaultPath()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(p, filepath.Join("quotatui", "quotatui.db")) || !strings.HasPrefix(p, "/home/u") {
		t.Errorf("without XDG_DATA_HOME: %s", p)
	}
}

// TestReopenKeepsEverything writes one of each kind of row, closes the
// store and checks a new Store sees exactly what was committed.
func TestReopenKeepsEverything(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	accts, err := s.UpsertAccounts(ctx, []Account{
		{Email: "a@example.com", Label: "A", RefreshToken: "rt-a", AccessToken: "at-a", AccessExpiry: t0.Add(time.Hour),
			ProjectID: "p-a", TierID: "g1-pro-tier", TierName: "Google AI Pro", Tier: "PRO", TierCheckedAt: t0, AddedAt: t0},
		{Email: "b@example.com", State: StateValidationRequired, StateReason: "verify", ValidationURL: "https://v", StateAt: t0, AddedAt: t0},
	})
	if err != nil {
		t.Fatal(err)
	}
	samples := []Sample{
		{AccountID: accts[0].ID, Family: "gemini", Window: "5h", Fraction: 0.25, ResetTime: t0.Add(5 * time.Hour)},
		{AccountID: accts[1].ID, Family: "claude-gpt", Window: "weekly", Fraction: 1},
	}
	events := []Event{{Kind: "low_quota", AccountID: accts[0].ID, Family: "gemini", Message: "25% left"}, {Kind: "sync_finished"}}
	if err := s.RecordSync(ctx, t0, samples, events); err != nil {
		t.Fatal(err)
	}
	samples[0].Fraction = 0.2 // a second history row for the first series
	if err := s.RecordSync(ctx, t0.Add(5*time.Minute), samples, nil); err != nil {
		t.Fatal(err)
	}
	wantHistory, err := s.History(ctx, accts[0].ID, "gemini", "5h", time.Time{})
	if err != nil || len(wantHistory) != 2 {
		t.Fatalf("history before reopen: %+v, %v", wantHistory, err)
	}
	if err := s.SaveCounters(ctx, map[string]int64{"requests": 42, "switches": 3}); err != nil {
		t.Fatal(err)
	}
	wantEvents, err := s.Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(accts) {
		t.Fatalf("%d accounts after reopen, want %d", len(got), len(accts))
	}
	for i := range accts {
		if !accountsEqual(got[i], accts[i]) {
			t.Errorf("account %d after reopen:\n got %+v\nwant %+v", i, fields(got[i]), fields(accts[i]))
		}
	}
	latest, err := s.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(latest) != 2 {
		t.Fatalf("latest = %+v", latest)
	}
	for i, smp := range samples {
		l := latest[i]
		if l.AccountID != smp.AccountID || l.Family != smp.Family || l.Window != smp.Window ||
			l.Fraction != smp.Fraction || !l.ResetTime.Equal(smp.ResetTime) || !l.LastSeen.Equal(t0.Add(5*time.Minute)) {
			t.Errorf("latest[%d] = %+v, want %+v", i, l, smp)
		}
	}
	gotHistory, err := s.History(ctx, accts[0].ID, "gemini", "5h", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	assertPoints(t, gotHistory, wantHistory)
	gotEvents, err := s.Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(gotEvents) != 2 || len(gotEvents) != len(wantEvents) {
		t.Fatalf("events after reopen = %+v", gotEvents)
	}
	for i := range wantEvents {
		if gotEvents[i] != wantEvents[i] {
			t.Errorf("event %d = %+v, want %+v", i, gotEvents[i], wantEvents[i])
		}
	}
	c, err := s.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c["requests"] != 42 || c["switches"] != 3 || len(c) != 2 {
		t.Errorf("counters after reopen = %v", c)
	}
}

// fields shows an account with its tokens, for test failures only.
type accountFields Account

func fields(a Account) accountFields { return accountFields(a) }

func accountsEqual(a, b Account) bool {
	return a.ID == b.ID && a.Email == b.Email && a.Label == b.Label &&
		a.RefreshToken == b.RefreshToken && a.AccessToken == b.AccessToken && a.AccessExpiry.Equal(b.AccessExpiry) &&
		a.ProjectID == b.ProjectID && a.TierID == b.TierID && a.TierName == b.TierName && a.Tier == b.Tier &&
		a.TierCheckedAt.Equal(b.TierCheckedAt) && a.State == b.State && a.StateReason == b.StateReason &&
		a.StateAt.Equal(b.StateAt) && a.ValidationURL == b.ValidationURL && a.AddedAt.Equal(b.AddedAt)
}

func fmtV(a Account) string { return fmt.Sprintf("%v %+v %#v %s", a, a, a, a) }

func TestErrorsNeverShowTokens(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	a := Account{Email: "a@example.com", RefreshToken: "SECRET-REFRESH", AccessToken: "SECRET-ACCESS", State: "bogus"}
	_, err := s.UpsertAccounts(ctx, []Account{a})
	if err == nil {
		t.Fatal("bogus state accepted")
	}
	for _, text := range []string{err.Error(), a.String(), fmtV(a)} {
		if strings.Contains(text, "SECRET") {
			t.Errorf("token leaked: %s", text)
		}
	}
	if err := s.UpdateTokens(ctx, 999, "SECRET-ACCESS", t0, "SECRET-REFRESH"); !errors.Is(err, ErrNotFound) || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("UpdateTokens on missing account: %v", err)
	}
}

// TestQueriesUseIndexes guards the plans of the queries that run often or
// over big tables: none may scan quota_history or events.
func TestQueriesUseIndexes(t *testing.T) {
	s, _ := openTest(t)
	tests := []struct {
		name, query string
		args        []any
		want        string // a line the plan must hold
	}{
		{"Latest", latestQuery, nil, "SEARCH h USING INTEGER PRIMARY KEY"},
		{"History", historyQuery, []any{1, "gemini", "5h", 0}, "USING INDEX quota_history_series"},
		{"prune history", pruneHistoryQuery, []any{0, 10}, "USING INDEX quota_history_at"},
		{"prune events", pruneEventsQuery, []any{0, 10}, "INDEX events_at"},
		{"accounts to roll up", accountsToRollUpQuery, []any{0}, "USING COVERING INDEX quota_history_raw (account_id=? AND at<?)"},
		{"rollup: raw rows", rollupRawQuery, []any{0, "[1]"}, "USING INDEX quota_history_raw (account_id=? AND at<?)"},
		{"rollup: rolled-up rows", rollupRolledQuery, nil, "USING INDEX quota_history_series (account_id=? AND family=? AND bucket=? AND at>? AND at<?)"},
		{"rollup: delete", rollupDeleteQuery, nil, "SEARCH quota_history USING INTEGER PRIMARY KEY"},
	}
	// The rollup's temp table lives on the writer's one connection.
	if _, err := s.write.ExecContext(context.Background(), rollupTempTable); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := s.write.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+tt.query, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			all := strings.Join(plan, "\n")
			if !strings.Contains(all, tt.want) {
				t.Errorf("plan lacks %q:\n%s", tt.want, all)
			}
			for _, line := range plan {
				if line == "SCAN quota_history" || line == "SCAN events" || strings.HasPrefix(line, "SCAN h") {
					t.Errorf("full scan in plan:\n%s", all)
				}
			}
		})
	}
}

// TestCheckPragmasCatchesMissingSettings opens a connection without the
// DSN settings: the check Open runs must notice.
func TestCheckPragmasCatchesMissingSettings(t *testing.T) {
	db := rawDB(t, filepath.Join(t.TempDir(), "plain.db"))
	defer db.Close()
	err := checkPragmas(context.Background(), db)
	if err == nil || !strings.Contains(err.Error(), `pragma journal_mode is "delete", want "wal"`) {
		t.Errorf("checkPragmas on a plain connection: %v", err)
	}
}
