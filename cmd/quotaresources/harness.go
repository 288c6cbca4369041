package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// Pane size of the dashboard runs.
const paneWidth, paneHeight = 160, 50

// harness holds what every run shares: the simulator, its accounts, the
// pristine database and the temp dir.
type harness struct {
	cfg    config
	tmp    string
	sim    *cloudcodetest.Server
	accts  []cloudcodetest.Account
	baseDB string
	hz     int64
	runs   int
}

func newHarness(ctx context.Context, c config, tmp string) (*harness, error) {
	if c.accounts < 1 {
		return nil, fmt.Errorf("-accounts must be at least 1")
	}
	h := &harness{cfg: c, tmp: tmp, baseDB: filepath.Join(tmp, "base.db"), hz: clockTicks()}
	h.sim = cloudcodetest.NewServer(cloudcodetest.Options{})
	for i := range c.accounts {
		h.accts = append(h.accts, h.sim.AddAccount(cloudcodetest.AccountSpec{
			Email:  fmt.Sprintf("user%04d@example.com", i+1),
			TierID: tierIDs[i%len(tierIDs)],
		}))
	}
	return h, ctx.Err()
}

func (h *harness) close() { h.sim.Close() }

// measureIdle observes pid for the idle window; with -pprof it also takes
// a CPU profile of the window and a heap profile after it.
func (h *harness) measureIdle(ctx context.Context, dir, name string, pid int, d time.Duration) (window, error) {
	if h.cfg.pprof == "" {
		return observe(ctx, pid, d, h.hz)
	}
	p := &profiler{addrFile: filepath.Join(dir, "pprof-addr"), outDir: h.cfg.pprof, name: name}
	wait := p.cpu(ctx, d)
	w, err := observe(ctx, pid, d, h.hz)
	if perr := wait(); err == nil && perr != nil {
		err = perr
	}
	if err != nil {
		return w, err
	}
	return w, p.heap(ctx)
}

// runResult is what one run of the binary measured.
type runResult struct {
	Launched  time.Time
	FirstSync time.Duration // from launch until every account's first sync had completed
	AtSync    memInfo       // right after it
	Idle      window
	GC        gcSummary
	Scrape    scrapeResult // serve only
}

// prepare gives a run its own copy of the database and its own HOME and
// XDG dirs, and returns the binary's argv and environment overrides.
func (h *harness) prepare(sub string, args ...string) (dir string, argv, env []string, err error) {
	h.runs++
	dir = filepath.Join(h.tmp, fmt.Sprintf("%d-%s", h.runs, sub))
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return "", nil, nil, err
	}
	db := filepath.Join(dir, "quotatui.db")
	if err := copyFile(h.baseDB, db); err != nil {
		return "", nil, nil, fmt.Errorf("copy the database: %w", err)
	}
	argv = append([]string{h.cfg.bin}, args...)
	argv = append(argv,
		"--db", db,
		"--upstream-base-urls", strings.Join(h.sim.BaseURLs(), ","),
		"--oauth-client-id", cloudcodetest.DefaultClientID,
		"--oauth-client-secret", cloudcodetest.DefaultClientSecret,
		"--oauth-auth-url", h.sim.AuthURL(),
		"--oauth-token-url", h.sim.TokenURL(),
		"--oauth-userinfo-url", h.sim.UserInfoURL(),
		"--proxy-listen", "127.0.0.1:0",
		"--log-file", filepath.Join(dir, "quotatui.log"),
	)
	env = []string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local/share"),
		"XDG_STATE_HOME=" + filepath.Join(home, ".local/state"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		// One line per GC on stderr (a file): the live heap beside the RSS.
		"GODEBUG=gctrace=1",
	}
	if h.cfg.pprof != "" {
		env = append(env, "QUOTARESOURCES_PPROF_ADDR="+filepath.Join(dir, "pprof-addr"))
	}
	return dir, argv, env, nil
}

// dashboard runs `quotatui` in tmux: it waits for the first sync of every
// account, measures the idle window, then opens the first account's
// detail view and measures that.
func (h *harness) dashboard(ctx context.Context, log io.Writer) (runResult, window, error) {
	var r runResult
	dir, argv, env, err := h.prepare("dashboard")
	if err != nil {
		return r, window{}, err
	}
	stderr := filepath.Join(dir, "stderr.log")
	command := "exec env " + shellCommand(env) + " " + shellCommand(argv) + " 2>" + shellQuote(stderr)
	launched := time.Now()
	r.Launched = launched
	t, err := startTmux(ctx, fmt.Sprintf("quotaresources-%d-%d", os.Getpid(), h.runs), command, paneWidth, paneHeight)
	if err != nil {
		return r, window{}, err
	}
	defer t.kill()
	fail := func(what string, screen string, err error) error {
		return fmt.Errorf("%s: %w\nscreen:\n%s\nstderr:\n%s", what, err, screen, tail(stderr, 20))
	}

	n := h.cfg.accounts
	header := fmt.Sprintf(" %d accounts ", n)
	done := regexp.MustCompile(`(^|\s)` + strconv.Itoa(n) + ` ok\b`)
	screen, err := t.waitScreen(ctx, h.cfg.syncWait, func(s string) bool {
		return strings.Contains(s, header) && done.MatchString(s)
	})
	if err != nil {
		return r, window{}, fail(fmt.Sprintf("wait for %q and %q", header, done), screen, err)
	}
	r.FirstSync = time.Since(launched)
	pid, err := t.pid(ctx)
	if err != nil {
		return r, window{}, err
	}
	if err := checkComm(pid, h.cfg.bin); err != nil {
		return r, window{}, err
	}
	if r.AtSync, err = readMem(pid); err != nil {
		return r, window{}, err
	}
	fmt.Fprintf(log, "  first sync of %d accounts seen after %s; RSS %.1f MB; idle for %s ...\n", n, r.FirstSync.Round(100*time.Millisecond), mb(r.AtSync.RSS), h.cfg.idle)
	if r.Idle, err = h.measureIdle(ctx, dir, "dashboard", pid, h.cfg.idle); err != nil {
		return r, window{}, err
	}

	// The table's cursor starts on the first row: enter opens its detail
	// view, whose charts read that account's history.
	if err := t.sendKeys(ctx, "Enter"); err != nil {
		return r, window{}, err
	}
	if screen, err := t.waitScreen(ctx, 15*time.Second, func(s string) bool {
		return strings.Contains(s, "RECENT EVENTS") && strings.Contains(s, "└-12h")
	}); err != nil {
		return r, window{}, fail("wait for the detail view", screen, err)
	}
	fmt.Fprintf(log, "  detail view open; measuring %s ...\n", h.cfg.detail)
	detail, err := h.measureIdle(ctx, dir, "detail", pid, h.cfg.detail)
	if err != nil {
		return r, window{}, err
	}
	// q leaves the detail view, a second q quits; kill covers the rest.
	_ = t.sendKeys(ctx, "q")
	_ = t.sendKeys(ctx, "q")
	r.GC = parseGCTrace(stderr, r.Launched, r.Idle)
	return r, detail, nil
}

// serve runs `quotatui serve` (monitor and proxy, no dashboard) as a
// child process.
func (h *harness) serve(ctx context.Context, log io.Writer) (runResult, error) {
	var r runResult
	dir, argv, env, err := h.prepare("serve", "serve")
	if err != nil {
		return r, err
	}
	stderrPath := filepath.Join(dir, "stderr.log")
	stderr, err := os.Create(stderrPath)
	if err != nil {
		return r, err
	}
	defer stderr.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = stderr
	launched := time.Now()
	r.Launched = launched
	if err := cmd.Start(); err != nil {
		return r, fmt.Errorf("start serve: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		// Ask it to stop like Ctrl-C would, then insist.
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	fail := func(what string, err error) error {
		return fmt.Errorf("%s: %w\nstderr:\n%s", what, err, tail(stderrPath, 20))
	}

	addr, err := waitFor(ctx, exited, h.cfg.syncWait, func() (string, bool) { return proxyAddr(stderrPath) })
	if err != nil {
		return r, fail("wait for the proxy address", err)
	}
	// The database says when the monitor's first sync of all accounts is
	// complete: it ends with one RecordSync of every account's figures.
	// (Scraping /metrics for quotatui_syncs_total would do, but a scrape of
	// 1000 accounts costs the process memory of its own: see scrape.)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "quotatui.db")+"?mode=ro")
	if err != nil {
		return r, err
	}
	defer db.Close()
	n := h.cfg.accounts
	if _, err := waitFor(ctx, exited, h.cfg.syncWait, func() (string, bool) {
		return "", accountsSyncedSince(ctx, db, launched) >= n
	}); err != nil {
		return r, fail("wait for the first sync", err)
	}
	r.FirstSync = time.Since(launched)
	pid := cmd.Process.Pid
	if r.AtSync, err = readMem(pid); err != nil {
		return r, err
	}
	fmt.Fprintf(log, "  first sync seen after %s; RSS %.1f MB; idle for %s ...\n", r.FirstSync.Round(100*time.Millisecond), mb(r.AtSync.RSS), h.cfg.idle)
	if r.Idle, err = h.measureIdle(ctx, dir, "serve", pid, h.cfg.idle); err != nil {
		return r, err
	}
	r.GC = parseGCTrace(stderrPath, r.Launched, r.Idle)
	if r.Scrape, err = scrape(ctx, pid, addr); err != nil {
		return r, fail("scrape /metrics", err)
	}
	return r, nil
}

// waitFor polls check every 100 ms until it reports true, the process
// exits, ctx ends or timeout passes.
func waitFor(ctx context.Context, exited <-chan error, timeout time.Duration, check func() (string, bool)) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for {
		if v, ok := check(); ok {
			return v, nil
		}
		select {
		case err := <-exited:
			return "", fmt.Errorf("quotatui exited: %v", err)
		case <-ctx.Done():
			return "", ctx.Err()
		case <-poll.C:
		}
	}
}

var proxyLine = regexp.MustCompile(`proxy on (http://[0-9.:]+)`)

// proxyAddr reads the proxy's URL from serve's stderr.
func proxyAddr(stderr string) (string, bool) {
	b, err := os.ReadFile(stderr)
	if err != nil {
		return "", false
	}
	m := proxyLine.FindSubmatch(b)
	if m == nil {
		return "", false
	}
	return string(m[1]), true
}

// accountsSyncedSince counts the accounts with a figure written at or
// after t; -1 when the database cannot say (yet).
func accountsSyncedSince(ctx context.Context, db *sql.DB, t time.Time) int {
	const q = `SELECT count(DISTINCT l.account_id) FROM quota_latest l
		JOIN quota_history h ON h.id = l.history_id WHERE h.last_seen >= ?`
	var n int
	if err := db.QueryRowContext(ctx, q, t.UnixMilli()).Scan(&n); err != nil {
		return -1
	}
	return n
}

// scrapeResult is what one GET /metrics cost the process.
type scrapeResult struct {
	Took      time.Duration
	Bytes     int64
	Series    int
	Before    memInfo
	After     memInfo
	CPUSecond float64
}

// scrape fetches /metrics once, as a Prometheus server would, and reads
// the process's memory before and after.
func scrape(ctx context.Context, pid int, base string) (scrapeResult, error) {
	var sr scrapeResult
	var err error
	if sr.Before, err = readMem(pid); err != nil {
		return sr, err
	}
	c0, err := readCPUTicks(pid)
	if err != nil {
		return sr, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return sr, err
	}
	start := time.Now()
	req.Close = true // no idle connection left behind in the harness
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return sr, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return sr, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		sr.Bytes += int64(len(sc.Bytes())) + 1
		if line := sc.Bytes(); len(line) > 0 && line[0] != '#' {
			sr.Series++
		}
	}
	if err := sc.Err(); err != nil {
		return sr, fmt.Errorf("GET /metrics: %w", err)
	}
	sr.Took = time.Since(start)
	c1, err := readCPUTicks(pid)
	if err != nil {
		return sr, err
	}
	sr.CPUSecond = float64(c1-c0) / float64(clockTicks())
	sr.After, err = readMem(pid)
	return sr, err
}

// checkComm makes sure pid runs bin itself, not a shell around it.
func checkComm(pid int, bin string) error {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return fmt.Errorf("pane process: %w", err)
	}
	want := filepath.Base(bin)
	if len(want) > 15 {
		want = want[:15] // the kernel keeps 15 bytes of the name
	}
	if c := strings.TrimSpace(string(b)); c != want {
		return fmt.Errorf("pane process %d is %q, not %s", pid, c, want)
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "(none)"
		}
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
