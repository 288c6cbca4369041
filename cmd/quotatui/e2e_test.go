package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"go.uber.org/goleak"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/store"
)

// binDir holds the quotatui binary the tmux tests build; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "quotatui-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	// goleak.Find rather than VerifyTestMain, which exits before the
	// binary's directory could be removed.
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// quotatuiBinary builds ./cmd/quotatui once per test binary (with the
// inherited GOFLAGS) and returns its path. It skips the test when tmux, which
// every caller needs, is missing.
func quotatuiBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end tmux test skipped in -short mode")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not found: the end-to-end tests run quotatui in a tmux pane (.ci/run installs it; apt-get install tmux)")
	}
	buildOnce.Do(func() {
		gobin, err := exec.LookPath("go")
		if err != nil {
			gobin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		}
		binPath = filepath.Join(binDir, "quotatui")
		cmd := exec.Command(gobin, "build", "-o", binPath, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// paneSeq numbers the panes of this test binary.
var paneSeq atomic.Int64

// pane is a tmux server on a private socket with one session running a
// command, killed when the test ends.
type pane struct {
	t      *testing.T
	socket string
}

// startPane starts shellCmd (run by sh -c) in a detached tmux session of
// width×height on a socket private to this test.
func startPane(t *testing.T, width, height int, shellCmd string) *pane {
	t.Helper()
	// A socket of its own per pane, not per test name: with -count, a
	// test's next run would otherwise reach the server the last one is
	// still shutting down ("server exited unexpectedly").
	p := &pane{t: t, socket: fmt.Sprintf("quotatui-e2e-%d-%d-%s", os.Getpid(), paneSeq.Add(1), strings.ReplaceAll(t.Name(), "/", "-"))}
	t.Cleanup(func() {
		// The server may already be gone; only its absence matters.
		_ = exec.Command("tmux", "-L", p.socket, "kill-server").Run()
	})
	p.tmux("-f", "/dev/null", "new-session", "-d", "-s", "qt",
		"-x", fmt.Sprint(width), "-y", fmt.Sprint(height), "sh", "-c", shellCmd)
	return p
}

// tmux runs one tmux command on the pane's socket and returns its stdout.
func (p *pane) tmux(args ...string) string {
	p.t.Helper()
	cmd := exec.Command("tmux", append([]string{"-L", p.socket}, args...)...)
	// A test run from inside tmux must not talk to the user's server.
	cmd.Env = withoutEnv(os.Environ(), "TMUX")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, ee.Stderr)
		}
		p.t.Fatalf("tmux %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

func withoutEnv(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// screen returns the pane's visible text, without colours.
func (p *pane) screen() string { return p.tmux("capture-pane", "-p", "-t", "qt") }

// keys sends keys as tmux names them ("q", "Enter", "Escape").
func (p *pane) keys(keys ...string) { p.tmux(append([]string{"send-keys", "-t", "qt"}, keys...)...) }

// waitFor polls the screen every 200 ms until ok accepts it, and fails the
// test with the last screen after timeout.
func (p *pane) waitFor(what string, timeout time.Duration, ok func(screen string) bool) string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		s := p.screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("after %s, still waiting for %s; screen:\n%s", timeout, what, s)
		}
		<-tick.C
	}
}

func containsAll(subs ...string) func(string) bool {
	return func(s string) bool {
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				return false
			}
		}
		return true
	}
}

// Warning lines start with the event's time and its glyph.
var (
	lowLine      = regexp.MustCompile(`\d\d:\d\d:\d\d ! \S+`)
	switchLine   = regexp.MustCompile(`\d\d:\d\d:\d\d ⇄ \S+: session moved`)
	adaLow       = regexp.MustCompile(`\d\d:\d\d:\d\d ! ada\b.*gemini low`)
	adaExhausted = regexp.MustCompile(`\d\d:\d\d:\d\d ✗ ada\b.*gemini exhausted`)
)

// assertFits fails when a line of the screen is wider than width cells.
func assertFits(t *testing.T, screen string, width int) {
	t.Helper()
	for i, line := range strings.Split(strings.TrimRight(screen, "\n"), "\n") {
		if w := ansi.StringWidth(line); w > width {
			t.Errorf("line %d is %d cells wide, more than %d: %q", i+1, w, width, line)
		}
	}
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// exitedWith is the marker the pane's shell prints when quotatui ends.
var exitedWith = regexp.MustCompile(`EXIT=(\d+)`)

// runInShell wraps argv so the pane reports the exit status and stays up
// long enough for the test to read it.
func runInShell(env []string, argv ...string) string {
	var sb strings.Builder
	sb.WriteString("env")
	for _, kv := range env {
		sb.WriteString(" " + shellQuote(kv))
	}
	for _, a := range argv {
		sb.WriteString(" " + shellQuote(a))
	}
	sb.WriteString("; echo EXIT=$?; sleep 120")
	return sb.String()
}

// waitExit waits for the quotatui process in the pane to end and returns
// its exit status.
func (p *pane) waitExit(timeout time.Duration) string {
	p.t.Helper()
	s := p.waitFor("quotatui to exit", timeout, exitedWith.MatchString)
	return exitedWith.FindStringSubmatch(s)[1]
}

// isolatedEnv is a fresh HOME and TMPDIR with every XDG directory inside
// HOME, so the test can check what the binary left behind.
func isolatedEnv(t *testing.T) (home, tmp string, env []string) {
	t.Helper()
	root := t.TempDir()
	home, tmp = filepath.Join(root, "home"), filepath.Join(root, "tmp")
	for _, d := range []string{home, tmp} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	env = []string{
		"HOME=" + home, "TMPDIR=" + tmp,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local/share"),
		"XDG_STATE_HOME=" + filepath.Join(home, ".local/state"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"TERM=xterm-256color",
	}
	return home, tmp, env
}

// listTree returns every path under dir, relative to it.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func demoDirs(t *testing.T, tmp string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(tmp, "quotatui-demo-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDemoInTmux(t *testing.T) {
	bin := quotatuiBinary(t)
	t.Parallel()
	home, tmp, env := isolatedEnv(t)
	// Four simulated minutes per second and twice the default traffic:
	// warnings and switches come within seconds instead of a minute.
	p := startPane(t, 120, 40, runInShell(env, bin, "demo", "--speed", "240", "--rate", "6"))

	p.waitFor("the demo accounts in the table", 30*time.Second, containsAll("ACCOUNT", "ada", "margaret", "grace"))
	if d := demoDirs(t, tmp); len(d) != 1 {
		t.Fatalf("while running, TMPDIR holds %v; want one quotatui-demo-* directory (is TMPDIR honoured?)", d)
	}

	// Lines scroll off the warnings panel, so remember what was seen.
	var sawLow, sawSwitch bool
	p.waitFor("a LOW warning and a switch in the warnings log", 90*time.Second, func(s string) bool {
		sawLow = sawLow || lowLine.MatchString(s)
		sawSwitch = sawSwitch || switchLine.MatchString(s)
		return sawLow && sawSwitch
	})

	p.keys("?")
	p.waitFor("the help overlay", 10*time.Second, containsAll("Keys", "resync all", "clear cache", "pause proxy", "States"))
	p.keys("?")
	p.waitFor("the help overlay to close", 10*time.Second, func(s string) bool {
		return !strings.Contains(s, "clear tiers") && strings.Contains(s, "ACCOUNT")
	})

	p.tmux("resize-window", "-t", "qt", "-x", "44", "-y", "40")
	s := p.waitFor("the compact view at 44 columns", 10*time.Second, containsAll("STATE", "GEM", "C/G", "ada"))
	assertFits(t, s, 44)
	// A second frame, after live updates have redrawn the table.
	s = p.waitFor("another frame at 44 columns", 10*time.Second, func(next string) bool { return next != s })
	assertFits(t, s, 44)

	// 40×15: the accounts that do not fit are counted, the newest warning
	// and the essential keys stay, and the detail scrolls to its end.
	p.tmux("resize-window", "-t", "qt", "-x", "40", "-y", "15")
	s = p.waitFor("the 40x15 view", 10*time.Second, func(s string) bool {
		return regexp.MustCompile(`↓ \d+ more`).MatchString(s) && containsAll("WARNINGS", "? help", "q quit")(s)
	})
	assertFits(t, s, 40)
	p.keys("Enter")
	p.waitFor("the detail, cut with a count of what is below", 10*time.Second, func(s string) bool {
		return regexp.MustCompile(`↓ \d+ more`).MatchString(s) && containsAll("esc back", "q quit")(s)
	})
	p.keys("G")
	s = p.waitFor("the end of the detail", 10*time.Second, func(s string) bool {
		return regexp.MustCompile(`↑ \d+ more`).MatchString(s) && !regexp.MustCompile(`↓ \d+ more`).MatchString(s)
	})
	assertFits(t, s, 40)
	p.keys("Escape")
	p.waitFor("the table again", 10*time.Second, containsAll("STATE", "ACCOUNT"))

	p.keys("q")
	if code := p.waitExit(20 * time.Second); code != "0" {
		t.Fatalf("quotatui demo exited with status %s; want 0", code)
	}
	if d := demoDirs(t, tmp); len(d) != 0 {
		t.Errorf("after quitting, TMPDIR still holds %v", d)
	}
	if left := listTree(t, tmp); len(left) != 0 {
		t.Errorf("after quitting, TMPDIR holds %v", left)
	}
	if left := listTree(t, home); len(left) != 0 {
		t.Errorf("after quitting, HOME holds %v; the demo must leave nothing behind", left)
	}
}

// seedSim starts a simulator on a fake clock with the given accounts and a
// store at dbPath holding them (refresh tokens only), and returns both.
func seedSim(t *testing.T, dbPath string, specs ...cloudcodetest.AccountSpec) (*cloudcodetest.Server, []store.Account) {
	t.Helper()
	srv := cloudcodetest.NewServer(cloudcodetest.Options{Clock: clock.NewFake(time.Now().UTC().Truncate(time.Second))})
	t.Cleanup(srv.Close)
	rows := make([]store.Account, len(specs))
	for i, spec := range specs {
		a := srv.AddAccount(spec)
		rows[i] = store.Account{Email: a.Email, Label: strings.Split(a.Email, "@")[0], RefreshToken: a.RefreshToken, State: store.StateActive}
	}
	ctx := context.Background()
	st, err := store.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored, err := st.UpsertAccounts(ctx, rows)
	if err != nil {
		t.Fatal(err)
	}
	return srv, stored
}

// simFlags are the flags that point quotatui at srv instead of Google.
func simFlags(srv *cloudcodetest.Server, dbPath string) []string {
	return []string{
		"--db", dbPath,
		"--upstream-base-urls", strings.Join(srv.BaseURLs(), ","),
		"--oauth-token-url", srv.TokenURL(),
		"--oauth-auth-url", srv.AuthURL(),
		"--oauth-userinfo-url", srv.UserInfoURL(),
		"--oauth-client-id", cloudcodetest.DefaultClientID,
		"--oauth-client-secret", cloudcodetest.DefaultClientSecret,
	}
}

// rowOf returns the table line of the account labelled label.
func rowOf(screen, label string) string {
	for _, line := range strings.Split(screen, "\n") {
		if strings.Contains(line, " "+label+" ") && (strings.Contains(line, "%") || strings.Contains(line, "?")) {
			return line
		}
	}
	return ""
}

func TestDashboardDrainInTmux(t *testing.T) {
	bin := quotatuiBinary(t)
	t.Parallel()
	home, _, env := isolatedEnv(t)
	dbPath := filepath.Join(home, "quotatui.db")
	srv, _ := seedSim(t, dbPath,
		cloudcodetest.AccountSpec{Email: "ada@example.com", TierID: "g1-pro-tier"},
		cloudcodetest.AccountSpec{Email: "grace@example.com", TierID: "g1-ultra-tier"},
		cloudcodetest.AccountSpec{Email: "linus@example.com", TierID: "free-tier"},
	)
	argv := append([]string{bin}, simFlags(srv, dbPath)...)
	// The monitor comes round every 30 s at the least: the test presses R
	// (resync all) after each change instead of waiting for it.
	argv = append(argv, "--proxy-listen", "127.0.0.1:0", "--quota-sync-interval", "30s", "--quota-cache-ttl", "1s",
		"--log-file", filepath.Join(home, "quotatui.log"))
	p := startPane(t, 120, 40, runInShell(env, argv...))

	first := p.waitFor("the accounts with their figures", 30*time.Second, func(s string) bool {
		return strings.Contains(rowOf(s, "ada"), "100%") && rowOf(s, "grace") != "" && rowOf(s, "linus") != ""
	})

	srv.SetRemaining("ada@example.com", cloudcode.FamilyGemini, cloudcode.Window5h, 0.05)
	p.keys("R")
	s := p.waitFor("ada LOW with a warning line", 30*time.Second, func(s string) bool {
		return strings.Contains(rowOf(s, "ada"), "LOW") && adaLow.MatchString(s)
	})
	if row := rowOf(s, "ada"); !strings.Contains(row, "5%") {
		t.Errorf("ada's row does not show 5 %%: %q", row)
	}

	srv.Drain("ada@example.com", cloudcode.FamilyGemini)
	p.keys("R")
	p.waitFor("ada EXHAUSTED with a warning line", 30*time.Second, func(s string) bool {
		return strings.Contains(rowOf(s, "ada"), "EXHAUSTED") && adaExhausted.MatchString(s)
	})
	// linus is free: its Claude/GPT pool is empty by plan from the start.
	for _, other := range []string{"grace", "linus"} {
		before, row := rowOf(first, other), rowOf(p.screen(), other)
		if strings.Contains(row, "EXHAUSTED") != strings.Contains(before, "EXHAUSTED") || strings.Contains(row, "LOW") {
			t.Errorf("draining ada changed %s's row: %q, was %q", other, row, before)
		}
	}

	// The selected row is the worst first: ada. The status line says what
	// ran and how it ended.
	p.keys("r")
	p.waitFor("the resync result", 20*time.Second, func(s string) bool {
		return regexp.MustCompile(`synced \S+ in \d`).MatchString(s)
	})

	p.keys("q")
	if code := p.waitExit(20 * time.Second); code != "0" {
		t.Fatalf("quotatui exited with status %s; want 0", code)
	}
	// The operator can read afterwards what happened: the start with the
	// proxy's address, the user's resync and its result, the stop.
	data, err := os.ReadFile(filepath.Join(home, "quotatui.log"))
	if err != nil {
		t.Fatalf("the dashboard's log file: %v (logs must go to the file, not the terminal)", err)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`level=INFO msg="quotatui started" .*proxy=http://127\.0\.0\.1:\d+`),
		regexp.MustCompile(`level=INFO msg="dashboard: synced ada in \S+"`),
		regexp.MustCompile(`level=INFO msg="quotatui stopped"`),
	} {
		if !want.Match(data) {
			t.Errorf("the log file has no line matching %s:\n%s", want, data)
		}
	}
}

// The database, log file and address in the environment (or the config
// file) are the user's real ones: the demo uses its own, and leaves those
// alone.
func TestDemoIgnoresConfiguredDatabase(t *testing.T) {
	bin := quotatuiBinary(t)
	t.Parallel()
	home, _, env := isolatedEnv(t)
	dbPath, logPath := filepath.Join(home, "real.db"), filepath.Join(home, "real.log")
	seedRealAccount(t, dbPath)
	env = append(env, "QUOTATUI_DB="+dbPath, "QUOTATUI_LOG_FILE="+logPath)
	p := startPane(t, 120, 40, runInShell(env, bin, "demo", "--rate", "0"))
	p.waitFor("the demo accounts in the table", 30*time.Second, containsAll("ACCOUNT", "ada", "grace"))
	p.keys("q")
	if code := p.waitExit(20 * time.Second); code != "0" {
		t.Fatalf("quotatui demo exited with status %s; want 0", code)
	}
	checkRealAccountAlone(t, dbPath)
	if _, err := os.Stat(logPath); err == nil {
		t.Errorf("the demo wrote to the configured log file %s", logPath)
	}
}
