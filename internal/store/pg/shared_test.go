package pg_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quotatui/quotatui/internal/store"
	"github.com/quotatui/quotatui/internal/store/pg"
	"github.com/quotatui/quotatui/internal/store/pg/pgtest"
)

// waitFor polls cond every few milliseconds until it holds, failing the
// test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// terminate ends the sessions of the test schema's store connections of
// role ("poller", "listener"), as a crash or a dropped connection would,
// and returns how many it ended.
func terminate(t *testing.T, u, role string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), pgtest.Server(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1`, pg.AppName(role, searchPath(t, u))).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func searchPath(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Query().Get("search_path")
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	u := pgtest.URL(t)
	s := open(t, u)
	n, err := pg.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.SchemaVersion(context.Background()); err != nil || v != n {
		t.Fatalf("schema version %d (%v), want %d", v, err, n)
	}
	conn, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `UPDATE schema_version SET version = version + 1`); err != nil {
		t.Fatal(err)
	}
	_, err = pg.Open(context.Background(), u, pg.Options{})
	if err == nil || !strings.Contains(err.Error(), "newer quotatui") {
		t.Fatalf("opening a newer schema: %v", err)
	}
}

// Both backends know the same schema steps: a migration added to one and
// not the other fails here.
func TestMigrationsMirrorSQLite(t *testing.T) {
	n, err := pg.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(context.Background(), t.TempDir()+"/q.db")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.SchemaVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v != n {
		t.Errorf("SQLite knows %d migrations, PostgreSQL %d: add the missing one to internal/store/pg/migrations (README: adding a table)", v, n)
	}
}

func TestOpenConcurrentlyMigratesOnce(t *testing.T) {
	u := pgtest.URL(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			s, err := pg.Open(context.Background(), u, pg.Options{})
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRedactHidesThePassword(t *testing.T) {
	for _, u := range []string{
		"postgres://quotatui:s3cret@db.example:5432/q?sslmode=require",
		"postgresql://db.example/q?user=quotatui&password=s3cret",
	} {
		if r := pg.Redact(u); strings.Contains(r, "s3cret") || !strings.Contains(r, "db.example") {
			t.Errorf("Redact(%q) = %q", u, r)
		}
	}
	_, err := pg.Open(context.Background(), "postgres://u:s3cret@%zz/q", pg.Options{})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a bad URL's error: %v", err)
	}
}

// A write by one instance is announced to another within moments, by
// kind; the counters say the same.
func TestChangesAreAnnounced(t *testing.T) {
	u := pgtest.URL(t)
	a, b := open(t, u), open(t, u)
	ctx := context.Background()
	changed := b.Changed()
	waitFor(t, "the listener", b.Listening)
	<-changed // the first LISTEN announces "anything may have changed"
	if c := b.TakeChanges(); c != store.ChangeLost {
		t.Fatalf("first change %v, want ChangeLost", c)
	}
	accts, err := a.UpsertAccounts(ctx, []store.Account{{Email: "a@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	expect := func(what string, want store.Change) {
		t.Helper()
		select {
		case <-changed:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s was not announced", what)
		}
		if c := b.TakeChanges(); c != want {
			t.Errorf("%s announced as %v, want %v", what, c, want)
		}
	}
	expect("a new account", store.ChangeAccounts)
	id := accts[0].ID
	if err := a.Write(ctx, store.Batch{Marks: []store.Mark{{AccountID: id, Family: "gemini", Kind: store.MarkExhausted, Until: time.Now().Add(time.Hour)}}}); err != nil {
		t.Fatal(err)
	}
	expect("a mark", store.ChangeAccounts)
	if err := a.Write(ctx, store.Batch{Samples: []store.Sample{{AccountID: id, Family: "gemini", Window: "5h", Fraction: 0.5}}}); err != nil {
		t.Fatal(err)
	}
	expect("figures", store.ChangeSync)
	if err := a.UpdateTokens(ctx, id, "at", time.Now(), ""); err != nil {
		t.Fatal(err)
	}
	if err := a.SetLabel(ctx, id, "x"); err != nil {
		t.Fatal(err)
	}
	// The access token is not announced: the label is the next change.
	expect("a label", store.ChangeAccounts)
}

// After its connection broke, the listener reconnects and says that
// anything may have changed meanwhile.
func TestListenerReconnects(t *testing.T) {
	u := pgtest.URL(t)
	s := open(t, u)
	changed := s.Changed()
	waitFor(t, "the listener", s.Listening)
	<-changed
	s.TakeChanges()
	if n := terminate(t, u, "listener"); n == 0 {
		t.Fatal("no listener connection found to end")
	}
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("no announcement after the listener's connection broke")
	}
	waitFor(t, "the lost announcements", func() bool { return s.TakeChanges()&store.ChangeLost != 0 })
	waitFor(t, "the listener again", s.Listening)
}

// One poller: the lock holder keeps it; when its session dies (a killed
// process), another instance takes it at its next try, and the old
// holder learns it lost it.
func TestLeaseMovesWhenThePollerDies(t *testing.T) {
	u := pgtest.URL(t)
	a, b := open(t, u), open(t, u)
	ctx := context.Background()
	try := func(s *pg.Store, h string) bool {
		t.Helper()
		ok, err := s.TryLease(ctx, h, time.Now(), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !try(a, "a") || try(b, "b") {
		t.Fatal("want a to hold the lock and b refused")
	}
	if n := terminate(t, u, "poller"); n == 0 {
		t.Fatal("no poller connection found to end")
	}
	waitFor(t, "b to take the lock", func() bool { return try(b, "b") })
	if try(a, "a") {
		t.Error("a still says it holds the lock after its session ended")
	}
}

// While one instance refreshes an account's token, another waits, and
// then finds the stored result instead of refreshing again.
func TestRefreshLockIsExclusive(t *testing.T) {
	u := pgtest.URL(t)
	a, b := open(t, u), open(t, u)
	ctx := context.Background()
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for i := range 6 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			unlock, err := s.LockRefresh(ctx, 7)
			if err != nil {
				t.Error(err)
				return
			}
			n := inside.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(5 * time.Millisecond) // hold it: a second holder would overlap
			inside.Add(-1)
			unlock()
		})
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Errorf("%d holders at once, want 1", most.Load())
	}
	// Another account's lock is independent.
	u1, err := a.LockRefresh(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer u1()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	u2, err := b.LockRefresh(cctx, 8)
	if err != nil {
		t.Fatalf("account 8 waited on account 7's lock: %v", err)
	}
	u2()
	short, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel2()
	if _, err := b.LockRefresh(short, 7); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a held lock: %v, want the context's deadline", err)
	}
}

func TestHeartbeats(t *testing.T) {
	u := pgtest.URL(t)
	a, b := open(t, u), open(t, u)
	ctx := context.Background()
	now := time.Now()
	if _, err := a.Heartbeat(ctx, store.Instance{Holder: "a", Host: "h1", PID: 1, Started: now, Poller: true}); err != nil {
		t.Fatal(err)
	}
	live, err := b.Heartbeat(ctx, store.Instance{Holder: "b", Host: "h2", PID: 2, Started: now.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 2 || live[0].Holder != "a" || !live[0].Poller || live[1].Holder != "b" || live[1].Poller {
		t.Fatalf("live %+v", live)
	}
	if h, _, err := b.Lease(ctx); err != nil || h != "a" {
		t.Errorf("Lease names %q (%v), want a", h, err)
	}
	if err := a.Leave(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if live, _ := b.Heartbeat(ctx, store.Instance{Holder: "b", Started: now}); len(live) != 1 {
		t.Errorf("after a left: %+v", live)
	}
}

// A conversation bound in one instance is bound in the other; a move in
// one reaches the other's cache; idle bindings end.
func TestBindingsAreShared(t *testing.T) {
	u := pgtest.URL(t)
	a, b := open(t, u), open(t, u)
	ctx := context.Background()
	accts, err := a.UpsertAccounts(ctx, []store.Account{{Email: "x@example.com"}, {Email: "y@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	x, y := accts[0].ID, accts[1].ID
	ba, bb := a.Bindings(time.Hour), b.Bindings(time.Hour)
	waitFor(t, "the listeners", func() bool { return a.Listening() && b.Listening() })
	now := time.Now()
	bound := func(bs *pg.Bindings, at time.Time) int64 {
		t.Helper()
		id, err := bs.Bound(ctx, "conv-1\x00gemini", at)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	if bound(ba, now) != 0 {
		t.Fatal("bound before any request")
	}
	if err := ba.Bind(ctx, "conv-1\x00gemini", x, true, now); err != nil {
		t.Fatal(err)
	}
	if got := bound(bb, now); got != x {
		t.Fatalf("b sees %d, want %d", got, x)
	}
	// b moves it; a's cached copy goes when the announcement arrives.
	if err := bb.Bind(ctx, "conv-1\x00gemini", y, true, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a to see the move", func() bool { return bound(ba, now.Add(2*time.Second)) == y })
	if err := ba.Bind(ctx, "quota-free:abc", x, false, now); err != nil {
		t.Fatal(err)
	}
	if n, err := bb.Active(ctx, now.Add(time.Second)); err != nil || n != 1 {
		t.Errorf("active %d (%v), want the one conversation", n, err)
	}
	// Idle past the idle time: gone, in both.
	later := now.Add(2 * time.Hour)
	if bound(bb, later) != 0 || bound(ba, later) != 0 {
		t.Error("a binding idle for longer than the idle time still holds")
	}
	if err := ba.Sweep(ctx, later); err != nil {
		t.Fatal(err)
	}
	if n, _ := bb.Active(ctx, now); n != 0 {
		t.Errorf("%d active after the sweep", n)
	}
}
