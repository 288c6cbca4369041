package main

// `quotatui status` asking the running instance (issue 16.2): in-process
// serves and real serve processes on one database, stale sockets, the
// line and the exit statuses through the socket.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/quota"
	"github.com/quotatui/quotatui/internal/statusapi"
	"github.com/quotatui/quotatui/internal/tui"
)

// quotaReads counts the simulator's quota-reading calls: asking a running
// instance must make none.
func quotaReads(srv *cloudcodetest.Server) int {
	return srv.TotalRequests("retrieveUserQuotaSummary") + srv.TotalRequests("fetchAvailableModels") + srv.TotalRequests("loadCodeAssist")
}

// waitAnswer asks the instances on db until one answers with n accounts
// that have all been synced (or failed to), and returns that answer.
func waitAnswer(t testing.TB, dir, db string, n int) *statusapi.Answer {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		a, err := statusapi.Ask(ctx, dir, db)
		cancel()
		if err == nil && len(a.Accounts) == n {
			done := 0
			for _, acct := range a.Accounts {
				if !acct.LastSync.IsZero() || acct.LastError != "" || acct.Status == statusapi.WordNeedsLogin {
					done++
				}
			}
			if done == n {
				return a
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no instance answered with %d synced accounts within 30 s (last: %v)", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// inProcessServe runs `quotatui serve` in this process until the test
// ends, and waits until it answers with n synced accounts.
func inProcessServe(t *testing.T, env func(string) string, args []string, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	errOut := &syncBuffer{}
	go func() {
		done <- run(ctx, append([]string{"serve", "--proxy-listen", "127.0.0.1:0"}, args...), &cli{stdin: strings.NewReader(""), stdout: &syncBuffer{}, stderr: errOut, getenv: env})
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d: %s", code, errOut.String())
		}
	})
	waitAnswer(t, statusapi.DefaultDir(env), dbFlag(args), n)
}

// dbFlag returns the value of --db in args.
func dbFlag(args []string) string {
	for i, a := range args {
		if a == "--db" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// The exit statuses are the same whether status syncs itself or asks a
// running serve, and asking costs no upstream call: an account whose sync
// failed counts as not usable through the socket too.
func TestStatusExitCodesThroughTheInstance(t *testing.T) {
	for _, tt := range statusExitCases {
		t.Run(tt.name, func(t *testing.T) {
			srv, dbPath, env := statusSetup(t)
			tt.setup(srv)
			flags := simFlags(srv, dbPath)
			inProcessServe(t, env, flags, len(statusAccounts))
			reads := quotaReads(srv)
			for _, format := range [][]string{{"status", "--json"}, {"status"}, {"status", "--line"}} {
				r := runCLI(t, env, "", append(format, flags...)...)
				if r.code != tt.want {
					t.Errorf("%s exited %d; want %d\nstdout: %s\nstderr: %s", strings.Join(format, " "), r.code, tt.want, r.stdout, r.stderr)
				}
				switch format[len(format)-1] {
				case "--json":
					var got []statusOut
					if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got) != len(statusAccounts) {
						t.Errorf("status --json: %d accounts, err %v\n%s", len(got), err, r.stdout)
					}
				case "status":
					if !strings.Contains(r.stdout, tt.word) || !strings.Contains(r.stdout, "from the running serve (pid ") {
						t.Errorf("the table does not say %s from the running serve:\n%s", tt.word, r.stdout)
					}
				}
			}
			// A sync in the background between two asks would move this;
			// the serve's next round is 5 minutes away.
			if n := quotaReads(srv) - reads; n != 0 {
				t.Errorf("status made %d quota reads with serve running, want 0", n)
			}
			// --sync asks the upstream all the same.
			runCLI(t, env, "", append([]string{"status", "--sync"}, flags...)...)
			if quotaReads(srv) == reads && tt.want != exitSyncFailed {
				t.Error("status --sync made no quota read")
			}
		})
	}
}

// With nothing running, the line says so at once, syncs nothing and
// exits 7; status without --line syncs as it always did.
func TestStatusWhenNothingRuns(t *testing.T) {
	srv, dbPath, env := statusSetup(t)
	flags := simFlags(srv, dbPath)
	r := runCLI(t, env, "", append([]string{"status", "--line"}, flags...)...)
	if r.code != exitNotRunning || r.stdout != "quotatui: not running\n" {
		t.Errorf("status --line with nothing running: exit %d, %q", r.code, r.stdout)
	}
	if n := quotaReads(srv) + srv.TotalRequests("token"); n != 0 {
		t.Errorf("status --line made %d upstream calls with nothing running, want 0", n)
	}
	r = runCLI(t, env, "", append([]string{"status", "--line", "--format", "{{if .Running}}up{{else}}down: {{.Down}}{{end}}"}, flags...)...)
	if r.code != exitNotRunning || r.stdout != "down: not running\n" {
		t.Errorf("status --format with nothing running: exit %d, %q", r.code, r.stdout)
	}
	r = runCLI(t, env, "", append([]string{"status"}, flags...)...)
	if r.code != exitOK || quotaReads(srv) == 0 || strings.Contains(r.stdout, "from the running") {
		t.Errorf("status with nothing running: exit %d, %d quota reads\n%s", r.code, quotaReads(srv), r.stdout)
	}
}

func TestStatusLineFlags(t *testing.T) {
	srv, dbPath, env := statusSetup(t)
	srv.SetRemaining("ada@example.com", cloudcode.FamilyGemini, cloudcode.Window5h, 0.42)
	srv.SetRemaining("grace@example.com", cloudcode.FamilyGemini, cloudcode.Window5h, 0.30)
	srv.SetRemaining("linus@example.com", cloudcode.FamilyGemini, cloudcode.Window5h, 0.05)
	for _, e := range []string{"ada@example.com", "grace@example.com", "linus@example.com"} {
		srv.SetRemaining(e, cloudcode.FamilyClaudeGPT, cloudcode.Window5h, 0.07)
	}
	flags := simFlags(srv, dbPath)
	inProcessServe(t, env, flags, len(statusAccounts))
	tests := []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--line"}, nil, "G 42% C 7%!\n"},
		{[]string{"--tmux"}, nil, "G 42% C #[fg=yellow]7%!#[default]\n"},
		{[]string{"--line", "--tmux"}, []string{"NO_COLOR=1"}, "G 42% C 7%!\n"},
		{[]string{"--format", `{{.Command}} {{.Usable}}/{{.Accounts}} {{(.Family "gemini").Usable}} {{(.Family "C").Status}}`}, nil, "serve 3/3 3 LOW\n"},
	}
	for _, tt := range tests {
		e := env
		if tt.env != nil {
			e = func(k string) string {
				for _, kv := range tt.env {
					if name, v, _ := strings.Cut(kv, "="); name == k {
						return v
					}
				}
				return env(k)
			}
		}
		r := runCLI(t, e, "", append(append([]string{"status"}, tt.args...), flags...)...)
		if r.code != exitOK || r.stdout != tt.want {
			t.Errorf("status %s: exit %d, %q; want %q\nstderr: %s", strings.Join(tt.args, " "), r.code, r.stdout, tt.want, r.stderr)
		}
	}
	for _, args := range [][]string{{"--json", "--line"}, {"--json", "--tmux"}, {"--format", "{{.Nope"}, {"--format", "{{.Nope}}"}} {
		r := runCLI(t, env, "", append(append([]string{"status"}, args...), flags...)...)
		if r.code != 2 || r.stdout != "" {
			t.Errorf("status %s: exit %d, stdout %q; want a usage error (2) and nothing printed", strings.Join(args, " "), r.code, r.stdout)
		}
	}
}

// Every word the dashboard can show is one the status answer knows, with
// the dashboard's glyph: the line reads the instance's words.
func TestSeverityWordsAreTheAnswersWords(t *testing.T) {
	for s := tui.SevOK; s <= tui.SevNeedsLogin; s++ {
		if g := statusapi.Glyph(s.Word()); g != s.Glyph() {
			t.Errorf("severity %q: statusapi's glyph %q, the dashboard's %q", s.Word(), g, s.Glyph())
		}
	}
}

// statusProc runs the real binary's status with w's environment and
// returns its output and exit status.
func (w *mpWorld) status(args ...string) (string, int) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin, append(append([]string{"status"}, args...), w.args...)...)
	cmd.Env = w.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode()
	}
	w.t.Fatalf("quotatui status: %v\n%s", err, errOut.String())
	return "", 0
}

// stateDir is where w's processes put their sockets.
func (w *mpWorld) stateDir() string {
	for _, kv := range w.env {
		if home, ok := strings.CutPrefix(kv, "HOME="); ok {
			return statusapi.DefaultDir(func(k string) string {
				if k == "HOME" {
					return home
				}
				return ""
			})
		}
	}
	return ""
}

// sockets lists the socket files in w's state directory.
func (w *mpWorld) sockets() []string {
	m, _ := filepath.Glob(filepath.Join(w.stateDir(), "status.*.sock"))
	return m
}

// Real serve processes on one database: status asks the poller; a killed
// one leaves a socket that the next status removes; with none left, the
// line says so and status syncs.
func TestStatusWithServeProcesses(t *testing.T) {
	w := newMPWorld(t,
		cloudcodetest.AccountSpec{Email: "a@example.com", TierID: "g1-pro-tier"},
		cloudcodetest.AccountSpec{Email: "b@example.com", TierID: "g1-ultra-tier"})
	first := w.serve()
	waitAnswer(t, w.stateDir(), w.db, 2)
	second := w.serve()
	if n := len(w.sockets()); n != 2 {
		t.Fatalf("%d sockets for two serves: %v", n, w.sockets())
	}
	reads := quotaReads(w.srv)

	out, code := w.status("--json")
	var accts []statusOut
	if err := json.Unmarshal([]byte(out), &accts); code != 0 || err != nil || len(accts) != 2 {
		t.Fatalf("status --json: exit %d, %v\n%s", code, err, out)
	}
	out, code = w.status()
	if code != 0 || !strings.Contains(out, "(pid "+strconv.Itoa(first.cmd.Process.Pid)+", polls the upstream)") {
		t.Errorf("status was not answered by the first serve, the poller (pid %d): exit %d\n%s", first.cmd.Process.Pid, code, out)
	}
	if out, code = w.status("--line"); code != 0 || out != "G 100% C 100%\n" {
		t.Errorf("status --line: exit %d, %q", code, out)
	}
	if n := quotaReads(w.srv) - reads; n != 0 {
		t.Errorf("status made %d quota reads with two serves running, want 0", n)
	}

	// Killed, the poller leaves its socket; the other answers, and the
	// dead socket is gone after that.
	first.cmd.Process.Kill()
	<-first.done
	if n := len(w.sockets()); n != 2 {
		t.Fatalf("a killed serve should leave its socket: %v", w.sockets())
	}
	out, code = w.status()
	if code != 0 || !strings.Contains(out, "(pid "+strconv.Itoa(second.cmd.Process.Pid)+", ") {
		t.Errorf("status after the poller was killed: exit %d\n%s", code, out)
	}
	if s := w.sockets(); len(s) != 1 {
		t.Errorf("sockets after status met the dead one: %v", s)
	}

	second.stop(t)
	if s := w.sockets(); len(s) != 0 {
		t.Errorf("a serve stopped by an interrupt left its socket: %v", s)
	}
	if out, code = w.status("--line"); code != exitNotRunning || out != "quotatui: not running\n" {
		t.Errorf("status --line with nothing running: exit %d, %q", code, out)
	}
	// Without an instance, status refreshes by itself (here from the
	// figures the killed poller wrote: its lease is still live), and
	// --sync reads the upstream.
	if out, code = w.status(); code != 0 || strings.Contains(out, "from the running") || !strings.Contains(out, "a@example.com") {
		t.Errorf("status with nothing running: exit %d\n%s", code, out)
	}
	reads = quotaReads(w.srv)
	if out, code = w.status("--sync", "--json"); code != 0 || quotaReads(w.srv) == reads {
		t.Errorf("status --sync did not sync: exit %d, %d reads\n%s", code, quotaReads(w.srv)-reads, out)
	}
}

// The dashboard answers status too, and removes its socket when it quits.
func TestStatusAsksTheDashboard(t *testing.T) {
	bin := quotatuiBinary(t)
	t.Parallel()
	home, _, env := isolatedEnv(t)
	dbPath := filepath.Join(home, "quotatui.db")
	srv, _ := seedSim(t, dbPath, statusAccounts...)
	argv := append([]string{bin}, simFlags(srv, dbPath)...)
	argv = append(argv, "--proxy-listen", "127.0.0.1:0", "--log-file", filepath.Join(home, "quotatui.log"))
	p := startPane(t, 120, 40, runInShell(env, argv...))
	dir := filepath.Join(home, ".local", "state", "quotatui")
	a := waitAnswer(t, dir, dbPath, len(statusAccounts))
	if a.Instance == nil || a.Instance.Command != "dashboard" || a.Summary.Accounts != len(statusAccounts) {
		t.Fatalf("answered by %+v, summary %+v; want the dashboard with every account", a.Instance, a.Summary)
	}
	cmd := exec.Command(bin, append([]string{"status", "--line"}, simFlags(srv, dbPath)...)...)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil || string(out) != "G 100% C 100%\n" {
		t.Errorf("status --line beside the dashboard: %v, %q", err, out)
	}
	p.keys("q")
	p.waitExit(15 * time.Second)
	if m, _ := filepath.Glob(filepath.Join(dir, "status.*.sock")); len(m) != 0 {
		t.Errorf("the dashboard left its socket: %v", m)
	}
}

// A running quotatui that dies mid-answer leaves no half table or half
// JSON on stdout: status says so on stderr and syncs instead, and its
// output and exit status are the sync's.
func TestStatusWithAnAnswerCutShort(t *testing.T) {
	srv, dbPath, longEnv := statusSetup(t)
	flags := simFlags(srv, dbPath)
	// A short state directory: this test binds the socket itself, without
	// statusapi's way round sun_path's 108 bytes.
	short, err := os.MkdirTemp("", "qs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(short) })
	env := func(k string) string {
		if k == "XDG_STATE_HOME" {
			return short
		}
		return longEnv(k)
	}
	// Take the socket name a real instance would have, then answer on it
	// with the start of a text and a connection that closes.
	inst, err := statusapi.Listen(statusapi.Options{Dir: statusapi.DefaultDir(env), DB: dbPath, Engine: fakeEngine{}})
	if err != nil {
		t.Fatal(err)
	}
	path := inst.SocketPath()
	inst.Close()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	const marker = "HALF AN ANSWER"
	cut := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		conn.Write([]byte("HTTP/1.1 200 OK\r\nQuotatui-Schema: " + statusapi.Schema + "\r\nQuotatui-Poller: true\r\n" +
			"Quotatui-Summary: {\"accounts\":3}\r\nContent-Length: 100000\r\n\r\n" + marker + "\n"))
	})
	hs := &http.Server{Handler: cut}
	done := make(chan struct{})
	go func() { hs.Serve(ln); close(done) }()
	t.Cleanup(func() { hs.Close(); <-done })

	for _, format := range [][]string{{"status", "--json"}, {"status"}} {
		r := runCLI(t, env, "", append(format, flags...)...)
		if strings.Contains(r.stdout, marker) || !strings.Contains(r.stderr, "did not answer, syncing instead") || !strings.Contains(r.stderr, "of 100000 bytes: unexpected EOF") {
			t.Errorf("%s with an answer cut short: exit %d\nstdout: %s\nstderr: %s", strings.Join(format, " "), r.code, r.stdout, r.stderr)
		}
		if r.code != exitOK || strings.Contains(r.stdout, "from the running") {
			t.Errorf("%s did not print the sync's answer instead: exit %d\n%s", strings.Join(format, " "), r.code, r.stdout)
		}
	}
}

// fakeEngine is an engine with no accounts.
type fakeEngine struct{}

func (fakeEngine) GetAllQuotas() []quota.Status { return nil }
func (fakeEngine) IsPoller() bool               { return false }
func (fakeEngine) Health() quota.Health         { return quota.Health{} }
