package main

// Tests with several real quotatui processes on one database: the ones
// the engine's one-truth rules are about (#12: reloads, one poller, a
// database that goes away). They build the binary and run it against an
// in-process simulator.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/store"
)

// mpBinary builds quotatui into a temporary directory of the test.
func mpBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-process test skipped in -short mode")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "quotatui")
	if out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// mpWorld is a simulator with accounts, a database holding them and the
// environment every process of the test shares.
type mpWorld struct {
	t    testing.TB
	bin  string
	srv  *cloudcodetest.Server
	db   string
	dir  string
	env  []string
	args []string // the flags that point quotatui at the simulator and the database

	session int // numbers the conversations of generate
}

func newMPWorld(t testing.TB, specs ...cloudcodetest.AccountSpec) *mpWorld {
	t.Helper()
	return newMPWorldOn(t, "", specs...)
}

// newMPWorldOn is newMPWorld on the database db ("": an SQLite file of
// the test's own).
func newMPWorldOn(t testing.TB, db string, specs ...cloudcodetest.AccountSpec) *mpWorld {
	t.Helper()
	w := &mpWorld{t: t, bin: mpBinary(t), dir: t.TempDir(), db: db}
	if w.db == "" {
		w.db = filepath.Join(w.dir, "quotatui.db")
	}
	w.srv = cloudcodetest.NewServer(cloudcodetest.Options{})
	t.Cleanup(w.srv.Close)
	home := filepath.Join(w.dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	w.env = []string{"HOME=" + home, "TMPDIR=" + w.dir, "PATH=" + os.Getenv("PATH")}
	w.args = []string{
		"--db", w.db,
		"--upstream-base-urls", strings.Join(w.srv.BaseURLs(), ","),
		"--oauth-token-url", w.srv.TokenURL(),
		"--oauth-auth-url", w.srv.AuthURL(),
		"--oauth-userinfo-url", w.srv.UserInfoURL(),
		"--oauth-client-id", cloudcodetest.DefaultClientID,
		"--oauth-client-secret", cloudcodetest.DefaultClientSecret,
	}
	st, err := openBackend(context.Background(), w.db, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var rows []store.Account
	for _, sp := range specs {
		a := w.srv.AddAccount(sp)
		rows = append(rows, store.Account{Email: a.Email, RefreshToken: a.RefreshToken})
	}
	if _, err := st.UpsertAccounts(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	return w
}

// run runs one quotatui command (the command words, then its operands)
// to its end and fails the test when it does not exit 0.
func (w *mpWorld) run(command []string, operands ...string) string {
	w.t.Helper()
	out, code := w.runExit(command, operands...)
	if code != 0 {
		w.t.Fatalf("quotatui %s: exit status %d\n%s", strings.Join(command, " "), code, out)
	}
	return out
}

// runExit runs one quotatui command to its end and returns its stdout
// and exit status; stderr follows stdout in the output when it fails.
func (w *mpWorld) runExit(command []string, operands ...string) (string, int) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := append(append(append([]string(nil), command...), w.args...), operands...)
	cmd := exec.CommandContext(ctx, w.bin, args...)
	cmd.Env = w.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exit) && exit.ExitCode() > 0:
		return out.String() + errOut.String(), exit.ExitCode()
	}
	w.t.Fatalf("quotatui %s: %v\n%s%s", strings.Join(command, " "), err, out.String(), errOut.String())
	return "", -1
}

// mpServe is a `quotatui serve` process.
type mpServe struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	url    string
	done   chan struct{}
}

var mpProxyOn = regexp.MustCompile(`proxy on (http://\S+?);`)

// serve starts `quotatui serve` and waits until it listens; the test's
// cleanup stops it.
func (w *mpWorld) serve(extra ...string) *mpServe {
	w.t.Helper()
	s := w.startServe(extra...)
	s.waitListening(w.t)
	return s
}

// startServe starts `quotatui serve` without waiting for it to listen
// (waitListening does), so a test can start several at the same moment;
// the test's cleanup stops it.
func (w *mpWorld) startServe(extra ...string) *mpServe {
	w.t.Helper()
	cmd := exec.Command(w.bin, append(append([]string{"serve", "--proxy-listen", "127.0.0.1:0"}, extra...), w.args...)...)
	cmd.Env = w.env
	s := &mpServe{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = io.Discard, s.stderr
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		close(s.done)
	}()
	w.t.Cleanup(func() { s.stop(w.t) })
	return s
}

// waitListening waits until serve says where its proxy listens.
func (s *mpServe) waitListening(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := mpProxyOn.FindStringSubmatch(s.stderr.String()); m != nil {
			s.url = m[1]
			return
		}
		select {
		case <-s.done:
			t.Fatalf("serve exited before listening: %s", s.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not listen within 30 s: %s", s.stderr.String())
		}
	}
}

// stop interrupts serve and waits for it (killing it after 15 s).
func (s *mpServe) stop(t testing.TB) {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		t.Errorf("serve did not stop within 15 s of an interrupt")
	}
}

// generate sends one Gemini request through serve and returns the email
// of the account that served it (by the simulator's counters), or "" when
// the request failed. Each is a new conversation: a conversation keeps
// its account while it can, and the test asks where a fresh one goes.
func (w *mpWorld) generate(s *mpServe, emails ...string) string {
	w.t.Helper()
	w.session++
	served, code := w.generateIn(s, fmt.Sprintf("mp-%d", w.session), emails...)
	if code != http.StatusOK {
		return ""
	}
	return served
}

// servedBy sends requests until one is served by want, failing after d.
func (w *mpWorld) servedBy(s *mpServe, d time.Duration, want string, emails ...string) {
	w.t.Helper()
	deadline := time.Now().Add(d)
	for {
		if got := w.generate(s, emails...); got == want {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("no request served by %s within %s of the change", want, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A running serve notices what another process (the CLI) changed within
// 2 s: a disabled account gets no new request, a removed one neither, an
// added one is used, an enabled one used again.
func TestProcessesSeeEachOthersAccountChanges(t *testing.T) {
	w := newMPWorld(t,
		cloudcodetest.AccountSpec{Email: "ultra@example.com", TierID: "g1-ultra-tier"},
		cloudcodetest.AccountSpec{Email: "pro@example.com", TierID: "g1-pro-tier"})
	all := []string{"ultra@example.com", "pro@example.com", "new@example.com"}
	s := w.serve()
	if got := w.generate(s, all...); got != "ultra@example.com" {
		t.Fatalf("first request served by %q, want the ULTRA account", got)
	}

	w.run([]string{"accounts", "disable"}, "ultra@example.com")
	w.servedBy(s, 2*time.Second, "pro@example.com", all...)
	for range 10 {
		if got := w.generate(s, all...); got == "ultra@example.com" {
			t.Fatal("a request went to the account disabled from another process")
		}
	}

	newAcct := w.srv.AddAccount(cloudcodetest.AccountSpec{Email: "new@example.com", TierID: "g1-pro-tier"})
	file := filepath.Join(w.dir, "new.json")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(`[{"email":"new@example.com","refresh_token":%q}]`, newAcct.RefreshToken)), 0o600); err != nil {
		t.Fatal(err)
	}
	w.run([]string{"accounts", "import", "--no-verify"}, file)
	w.run([]string{"accounts", "remove", "--yes"}, "pro@example.com")
	w.servedBy(s, 2*time.Second, "new@example.com", all...)
	for range 10 {
		if got := w.generate(s, all...); got == "pro@example.com" {
			t.Fatal("a request went to the account removed by another process")
		}
	}

	w.run([]string{"accounts", "enable"}, "ultra@example.com")
	w.servedBy(s, 2*time.Second, "ultra@example.com", all...)
}

// Two serves on one database: one polls the upstream, the other reads its
// figures, so the quota is read once per account per round, not twice.
func TestTwoServesPollOnce(t *testing.T) {
	w := newMPWorld(t,
		cloudcodetest.AccountSpec{Email: "a@example.com", TierID: "g1-pro-tier"},
		cloudcodetest.AccountSpec{Email: "b@example.com", TierID: "g1-pro-tier"},
		cloudcodetest.AccountSpec{Email: "c@example.com", TierID: "g1-ultra-tier"})
	serves := make([]*mpServe, 2)
	for i := range serves { // started together, as two terminals would
		serves[i] = w.startServe("--quota-sync-interval", "30s")
	}
	for _, s := range serves {
		s.waitListening(t)
	}
	waitUntil(t, 15*time.Second, "the first round", func() bool { return w.srv.TotalRequests("retrieveUserQuotaSummary") >= 3 })
	time.Sleep(3 * time.Second) // room for a second poller, if there were one
	for _, rpc := range []string{"fetchAvailableModels", "retrieveUserQuotaSummary"} {
		if n := w.srv.TotalRequests(rpc); n != 3 {
			t.Errorf("%d %s calls from two serves on one database, want 3 (one round of 3 accounts)", n, rpc)
		}
	}
	polls := 0
	for _, s := range serves {
		if strings.Contains(s.stderr.String(), "this process polls the upstream") {
			polls++
		}
		// Each serves requests with the figures of the one poller.
		if got := w.generate(s, "a@example.com", "b@example.com", "c@example.com"); got != "c@example.com" {
			t.Errorf("a serve routed to %q, want the ULTRA account", got)
		}
	}
	if polls != 1 {
		t.Errorf("%d serves say they poll, want 1", polls)
	}
}

// A database file deleted under a running serve is noticed and reported.
func TestServeNoticesDeletedDatabase(t *testing.T) {
	w := newMPWorld(t, cloudcodetest.AccountSpec{Email: "a@example.com", TierID: "g1-pro-tier"})
	s := w.serve()
	if err := os.Remove(w.db); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(s.stderr.String(), "database file deleted") {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not report the deleted database within 5 s:\n%s", s.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(s.stderr.String(), "level=WARN") {
		t.Errorf("not reported at WARN:\n%s", s.stderr.String())
	}
}
