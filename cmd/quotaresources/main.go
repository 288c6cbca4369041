// Command quotaresources measures the memory and idle CPU of the real
// quotatui binary against the product's targets (whole process < 60 MB RSS
// with 1000 accounts and a week of history; < 1 % idle CPU with the
// dashboard open).
//
// It starts the simulator in-process, builds a database with N accounts
// and a week of history shaped like the store keeps it, then runs the
// binary three ways against the simulator, on loopback only: the dashboard
// in a private tmux server (idle, then the detail view of one account),
// and `quotatui serve` without a dashboard. It reads RSS and CPU time from
// /proc, prints a table and can write it as Markdown.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"time"
)

// config is the harness's settings (one per flag).
type config struct {
	accounts int
	history  time.Duration
	idle     time.Duration
	detail   time.Duration
	syncWait time.Duration
	bin      string
	out      string
	pprof    string // save profiles of a pprof-enabled build here (investigation only)
	// command is the command line printed in the report.
	command string
}

func main() {
	var c config
	flag.IntVar(&c.accounts, "accounts", 1000, "accounts in the simulator and the database (tiers rotate ULTRA, PRO, FREE)")
	flag.DurationVar(&c.history, "history", 168*time.Hour, "span of quota history written to the database")
	flag.DurationVar(&c.idle, "idle", 60*time.Second, "idle window measured after the first sync (dashboard, then serve)")
	flag.DurationVar(&c.detail, "detail", 5*time.Second, "window measured with the detail view of one account open")
	flag.DurationVar(&c.syncWait, "sync-wait", 90*time.Second, "upper bound on the wait for the binary's first sync of every account")
	flag.StringVar(&c.bin, "bin", "", "quotatui binary to measure (default: build ./cmd/quotatui into a temp dir)")
	flag.StringVar(&c.pprof, "pprof", "", "investigate: build quotatui with a pprof listener (overlay, repository untouched) and save CPU profiles of the idle windows and heap profiles to this dir; the figures then include the profiler's cost")
	flag.StringVar(&c.out, "out", "", "write the results as Markdown to this file (e.g. docs/bench/resources.md)")
	flag.Parse()
	c.command = "go run ./cmd/quotaresources " + strings.Join(os.Args[1:], " ")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	_, err := run(ctx, c, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "quotaresources:", err)
		os.Exit(1)
	}
}

// run does the whole measurement; every temp dir, tmux server and child
// process it starts is gone when it returns, whatever happened.
func run(ctx context.Context, c config, stdout io.Writer) (*results, error) {
	if _, err := exec.LookPath("tmux"); err != nil {
		return nil, fmt.Errorf("tmux is needed for the dashboard runs: %w", err)
	}
	tmp, err := os.MkdirTemp("", "quotaresources-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	res := &results{cfg: c, started: time.Now().UTC(), machine: readMachine()}
	switch {
	case c.pprof != "":
		fmt.Fprintln(stdout, "building ./cmd/quotatui with a pprof listener ...")
		if c.bin, err = buildProfiledBinary(ctx, tmp); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(c.pprof, 0o755); err != nil {
			return nil, err
		}
	case c.bin == "":
		fmt.Fprintln(stdout, "building ./cmd/quotatui ...")
		if c.bin, err = buildBinary(ctx, tmp); err != nil {
			return nil, err
		}
	}
	h, err := newHarness(ctx, c, tmp)
	if err != nil {
		return nil, err
	}
	defer h.close()

	fmt.Fprintf(stdout, "writing %d accounts and %s of history ...\n", c.accounts, c.history)
	if res.hist, err = buildDB(ctx, h.baseDB, h.sim, h.accts, c.history, time.Now()); err != nil {
		return nil, fmt.Errorf("build database: %w", err)
	}
	fmt.Fprintf(stdout, "  %d raw + %d rolled-up rows, %.1f MB, in %s\n", res.hist.RawRows, res.hist.RolledUpRows,
		mb(res.hist.DBBytes), res.hist.Took.Round(time.Millisecond))

	fmt.Fprintln(stdout, "dashboard in tmux ...")
	if res.dash, res.detail, err = h.dashboard(ctx, stdout); err != nil {
		return nil, fmt.Errorf("dashboard run: %w", err)
	}
	fmt.Fprintln(stdout, "quotatui serve ...")
	if res.serve, err = h.serve(ctx, stdout); err != nil {
		return nil, fmt.Errorf("serve run: %w", err)
	}
	res.finished = time.Now().UTC()
	res.machine.loadEnd = loadAverage()

	report := res.markdown()
	if _, err := io.WriteString(stdout, "\n"+report); err != nil {
		return nil, err
	}
	if c.out != "" {
		if err := os.MkdirAll(filepath.Dir(c.out), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(c.out, []byte(report+keptNotes(c.out)), 0o644); err != nil {
			return nil, fmt.Errorf("write report: %w", err)
		}
	}
	return res, nil
}

// moduleRoot is the directory of the module the harness runs in.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the module: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("find the module: not inside one (run from the repository or pass -bin)")
	}
	return filepath.Dir(gomod), nil
}

// buildBinary builds ./cmd/quotatui of the module the harness runs in.
func buildBinary(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "quotatui")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/quotatui")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build quotatui: %w: %s", err, out)
	}
	return bin, nil
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// notesMarker starts the hand-written part of the report (the analysis of
// the figures), which a new run keeps.
const notesMarker = "<!-- notes: kept by quotaresources -->"

// keptNotes returns the hand-written part of an existing report, from the
// marker on, or the bare marker when there is none yet.
func keptNotes(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return notesMarker + "\n"
	}
	if i := strings.Index(string(b), notesMarker); i >= 0 {
		return string(b[i:])
	}
	return notesMarker + "\n"
}
