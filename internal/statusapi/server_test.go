package statusapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// upstreamCalls counts every quota-reading call the simulator answered.
func upstreamCalls(sim *cloudcodetest.Server) int {
	n := 0
	for _, rpc := range []string{"retrieveUserQuotaSummary", "fetchAvailableModels", "loadCodeAssist", "token"} {
		n += sim.TotalRequests(rpc)
	}
	return n
}

// The answer through the socket is what the engine knows, built as the
// sync path builds it, and asking costs no upstream call.
func TestAskAnswersWhatTheEngineKnows(t *testing.T) {
	p := newPool(t, 3)
	p.sim.SetRemaining("user1@example.com", cloudcode.FamilyGemini, cloudcode.Window5h, 0.42)
	p.q.SyncAll(context.Background())
	dir := shortDir(t)
	r := serve(t, dir, p.db, p.q, "serve")

	before := upstreamCalls(p.sim)
	got, err := ask(dir, p.db)
	if err != nil {
		t.Fatal(err)
	}
	if n := upstreamCalls(p.sim) - before; n != 0 {
		t.Errorf("asking the instance made %d upstream calls, want 0", n)
	}
	want := Build(p.q, testJudge, nil, time.Now())
	gj, _ := json.Marshal(got.Accounts)
	wj, _ := json.Marshal(want.Accounts)
	if !bytes.Equal(gj, wj) {
		t.Errorf("accounts through the socket differ from the engine's:\n got %s\nwant %s", gj, wj)
	}
	if got.Schema != Schema || got.Instance == nil || got.Instance.Command != "serve" || got.Instance.PID != os.Getpid() || got.Instance.DB != p.db {
		t.Errorf("answer's schema %q, instance %+v", got.Schema, got.Instance)
	}
	// Alone on the database and never started its monitor: not the poller.
	if got.Instance.Poller {
		t.Error("an engine whose monitor never ran says it is the poller")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The line the instance sums up is the one the client would.
	line, err := AskLine(ctx, dir, p.db)
	if err != nil {
		t.Fatal(err)
	}
	want2 := LineOf(got)
	line.Age, want2.Age = "", "" // asked a moment apart: may differ by a second
	if lj, wj := mustJSON(t, line), mustJSON(t, want2); lj != wj {
		t.Errorf("the instance's line differs from the answer's:\n got %s\nwant %s", lj, wj)
	}
	g := got.Accounts[0].Families["gemini"]
	if g.Effective == nil || *g.Effective != 0.42 || g.SyncedAt.IsZero() || g.Status != WordOK {
		t.Errorf("user1's gemini through the socket: %+v", g)
	}
	if fi, err := os.Lstat(r.srv.SocketPath()); err != nil || fi.Mode().Perm() != 0o600 || fi.Mode().Type() != fs.ModeSocket {
		t.Errorf("socket %s: %v, mode %v; want a socket 0600", r.srv.SocketPath(), err, fi.Mode())
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state directory mode %v, err %v; want 0700", fi.Mode().Perm(), err)
	}
}

// An account whose sync failed is SYNC ERROR through the socket, and
// counts as failed, not usable.
func TestSyncErrorThroughTheSocket(t *testing.T) {
	p := newPool(t, 2)
	p.sim.SetHostDown(cloudcodetest.HostDaily, 503)
	p.sim.SetHostDown(cloudcodetest.HostProd, 503)
	p.q.SyncAll(context.Background())
	dir := shortDir(t)
	serve(t, dir, p.db, p.q, "serve")
	a, err := ask(dir, p.db)
	if err != nil {
		t.Fatal(err)
	}
	s := Summarize(a.Accounts)
	if s.SyncErrors != 2 || s.Failed != 2 {
		t.Errorf("summary %+v; want both accounts failing", s)
	}
	if l := LineOf(a); l.Usable != 0 || l.SyncErrors != 2 {
		t.Errorf("line: %d usable, %d sync errors; want 0 and 2", l.Usable, l.SyncErrors)
	}
}

func TestAskWithNothingRunning(t *testing.T) {
	dir := shortDir(t)
	if _, err := ask(dir, "/nowhere/quotatui.db"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("no directory: %v; want ErrNotRunning", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := ask(dir, "/nowhere/quotatui.db"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("empty directory: %v; want ErrNotRunning", err)
	}
}

// deadSocket leaves a socket for db in dir as a killed process does: the
// file stays, nobody listens.
func deadSocket(t *testing.T, dir, db string) string {
	t.Helper()
	if _, err := prepareDir(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, sockName(key(db)))
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	return path
}

// A socket left by a killed process is removed by the next client, which
// then says nothing runs; a new process sweeps them too.
func TestStaleSocket(t *testing.T) {
	dir, db := shortDir(t), "/data/quotatui.db"
	stale := deadSocket(t, dir, db)
	if _, err := ask(dir, db); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("with a dead socket: %v; want ErrNotRunning", err)
	}
	if _, err := os.Lstat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the dead socket is still there after a client met it: %v", err)
	}

	stale = deadSocket(t, dir, db)
	r := serve(t, dir, db, fakeEngine{}, "serve")
	if _, err := os.Lstat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a new process left the dead socket: %v", err)
	}
	if _, err := ask(dir, db); err != nil {
		t.Errorf("the live one does not answer: %v", err)
	}
	r.halt(t)
	if _, err := os.Lstat(r.srv.SocketPath()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a stopped server left its socket: %v", err)
	}
}

// Only this user's sockets are talked to or removed, and a link planted
// under a socket's name is never followed.
func TestPlantedFilesAreLeftAlone(t *testing.T) {
	dir, db := shortDir(t), "/data/quotatui.db"
	if _, err := prepareDir(dir); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(filepath.Dir(dir), "precious")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, sockName(key(db)))
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, sockName(key(db)))
	if err := os.WriteFile(plain, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ask(dir, db); !errors.Is(err, ErrNotRunning) {
		t.Errorf("with a link and a file named like sockets: %v; want ErrNotRunning", err)
	}
	serve(t, dir, db, fakeEngine{}, "serve") // sweeps
	for _, p := range []string{link, plain, target} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was touched: %v", p, err)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("the link's target now holds %q", b)
	}
}

// Two processes on one database: each has its socket; the poller's
// answer is taken; when it stops, the other answers.
func TestTwoInstancesOnOneDatabase(t *testing.T) {
	dir, db := shortDir(t), "/data/quotatui.db"
	dash := serve(t, dir, db, poller{fakeEngine{}, false}, "dashboard")
	srv := serve(t, dir, db, poller{fakeEngine{}, true}, "serve")
	if dash.srv.SocketPath() == srv.srv.SocketPath() {
		t.Fatal("two servers share a socket path")
	}
	for range 5 {
		a, err := ask(dir, db)
		if err != nil {
			t.Fatal(err)
		}
		if a.Instance.Command != "serve" || !a.Instance.Poller {
			t.Fatalf("answered by %+v; want the poller (serve)", a.Instance)
		}
	}
	srv.halt(t)
	a, err := ask(dir, db)
	if err != nil {
		t.Fatal(err)
	}
	if a.Instance.Command != "dashboard" {
		t.Errorf("answered by %+v after the poller stopped; want the dashboard", a.Instance)
	}
	// Another database on the machine is not theirs.
	if _, err := ask(dir, "/data/other.db"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("another database: %v; want ErrNotRunning", err)
	}
}

// A process that accepts but never answers (stopped, swamped) is not
// "not running": the client says it did not answer, in time.
func TestHungInstance(t *testing.T) {
	dir, db := shortDir(t), "/data/quotatui.db"
	if _, err := prepareDir(dir); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, sockName(key(db))))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := Ask(ctx, dir, db); !errors.Is(err, ErrNoAnswer) {
		t.Errorf("a silent instance: %v; want ErrNoAnswer", err)
	}
}

// The socket only reads.
func TestReadOnly(t *testing.T) {
	dir, db := shortDir(t), "/data/quotatui.db"
	r := serve(t, dir, db, fakeEngine{}, "serve")
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return dial(ctx, r.srv.SocketPath())
	}}}
	defer client.CloseIdleConnections()
	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, Path, http.StatusOK},
		{http.MethodGet, LinePath, http.StatusOK},
		{http.MethodPut, LinePath, http.StatusMethodNotAllowed},
		{http.MethodHead, Path, http.StatusOK},
		{http.MethodPost, Path, http.StatusMethodNotAllowed},
		{http.MethodDelete, Path, http.StatusMethodNotAllowed},
		{http.MethodGet, "/v1/accounts", http.StatusNotFound},
	} {
		req, _ := http.NewRequest(tt.method, "http://quotatui"+tt.path, strings.NewReader(""))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s: %d; want %d", tt.method, tt.path, resp.StatusCode, tt.want)
		}
	}
}

// A state directory open to others is closed before a socket goes in; one
// of another user's is refused (tested by the owner check on the files).
func TestStateDirectoryIsClosed(t *testing.T) {
	dir := shortDir(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	serve(t, dir, "/data/quotatui.db", fakeEngine{}, "serve")
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state directory mode %v, err %v; want 0700", fi.Mode().Perm(), err)
	}
}

// A state directory too deep for a socket path still works on Linux.
func TestLongDirectory(t *testing.T) {
	dir := filepath.Join(shortDir(t), strings.Repeat("d", 60), strings.Repeat("e", 60))
	if len(filepath.Join(dir, sockName("0123456789ab"))) <= maxSockPath {
		t.Fatal("the directory is not long enough for the test")
	}
	r, err := Listen(Options{Dir: dir, DB: "/data/quotatui.db", Engine: fakeEngine{}, Judge: testJudge, Instance: NewInstance("serve", "test", "", time.Now())})
	if errors.Is(err, ErrPathTooLong) {
		t.Skip("no /proc here: ", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	if _, err := ask(dir, "/data/quotatui.db"); err != nil {
		t.Errorf("through a long path: %v", err)
	}
}

// DefaultDir follows the XDG rule.
func TestDefaultDir(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HOME": "/home/u"}, "/home/u/.local/state/quotatui"},
		{map[string]string{"HOME": "/home/u", "XDG_STATE_HOME": "/state"}, "/state/quotatui"},
		{map[string]string{"HOME": "/home/u", "XDG_STATE_HOME": "rel"}, "/home/u/.local/state/quotatui"},
		{map[string]string{}, ""},
	} {
		if got := DefaultDir(env(tt.env)); got != tt.want {
			t.Errorf("DefaultDir(%v) = %q; want %q", tt.env, got, tt.want)
		}
	}
	if _, err := Listen(Options{DB: "x"}); !errors.Is(err, ErrNoDir) {
		t.Errorf("Listen without a directory: %v; want ErrNoDir", err)
	}
}

// One database file reached by two spellings names one socket.
func TestKeyResolvesLinks(t *testing.T) {
	d := t.TempDir()
	db := filepath.Join(d, "quotatui.db")
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(d, filepath.Join(d, "link")); err != nil {
		t.Fatal(err)
	}
	if key(db) != key(filepath.Join(d, "link", "quotatui.db")) || key(db) == key(filepath.Join(d, "other.db")) {
		t.Error("keys do not follow the file")
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
