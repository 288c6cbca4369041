package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestHarnessSmoke runs the whole harness on a tiny setup, so it cannot rot:
// it must build and drive the real binary, see the first sync, measure
// every window and write its report, leaving no tmux server behind.
func TestHarnessSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed")
	}
	out := filepath.Join(t.TempDir(), "bench", "resources.md")
	// Hand-written notes in an existing report survive a new run.
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	notes := notesMarker + "\nhand-written analysis\n"
	if err := os.WriteFile(out, []byte("old figures\n"+notes), 0o644); err != nil {
		t.Fatal(err)
	}
	c := config{accounts: 5, history: 2 * time.Hour, idle: 2 * time.Second, detail: time.Second,
		syncWait: 30 * time.Second, out: out, command: "go test"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout strings.Builder
	res, err := run(ctx, c, &stdout)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stdout.String())
	}

	if res.hist.RawRows == 0 || res.hist.DBBytes == 0 {
		t.Errorf("history: %+v, want rows and a file", res.hist)
	}
	for name, r := range map[string]runResult{"dashboard": res.dash, "serve": res.serve} {
		if r.AtSync.RSS <= 0 || r.Idle.After.HWM < r.Idle.After.RSS {
			t.Errorf("%s memory: at sync %+v, after idle %+v", name, r.AtSync, r.Idle.After)
		}
		if r.Idle.Wall < c.idle || r.Idle.Samples < 2 || r.Idle.CPUPercent < 0 {
			t.Errorf("%s idle window: %+v", name, r.Idle)
		}
		if r.FirstSync <= 0 {
			t.Errorf("%s: first sync not timed", name)
		}
	}
	if res.detail.Wall < c.detail || res.detail.After.RSS <= 0 {
		t.Errorf("detail window: %+v", res.detail)
	}
	if res.serve.Scrape.Series == 0 {
		t.Errorf("scrape: %+v, want series", res.serve.Scrape)
	}

	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	report := string(b)
	for _, want := range []string{
		"| dashboard, idle | ", "| dashboard, detail view | ", "| serve (no dashboard), idle | ",
		"| dashboard idle CPU | < 1 % | ", "5 accounts and 2h0m0s of history",
		notes,
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "old figures") {
		t.Error("the old figures were kept")
	}
	if !strings.Contains(stdout.String(), "| dashboard, idle | ") {
		t.Error("the table was not printed")
	}
}

func TestKeptNotes(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content, want string
	}{
		{"no file", "", notesMarker + "\n"},
		{"no marker", "figures only\n", notesMarker + "\n"},
		{"notes", "figures\n" + notesMarker + "\nwhy\n", notesMarker + "\nwhy\n"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.Repeat("x", i+1))
			if tt.content != "" {
				if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := keptNotes(path); got != tt.want {
				t.Errorf("keptNotes = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadSelf(t *testing.T) {
	m, err := readMem(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.HWM < m.RSS || m.Anon+m.File > m.RSS+(1<<20) {
		t.Errorf("readMem = %+v", m)
	}
	c0, err := readCPUTicks(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn some CPU: the ticks must move forward.
	deadline := time.Now().Add(300 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	c1, err := readCPUTicks(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if c1 <= c0 {
		t.Errorf("CPU ticks %d then %d after 300 ms of work", c0, c1)
	}
}

func TestParseGCTrace(t *testing.T) {
	log := `quotatui: something else
gc 1 @0.010s 2%: 0.011+1.2+0.003 ms clock, 0.022+0.5/1.0/0+0.006 ms cpu, 4->4->2 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P
gc 2 @5.500s 1%: 0.011+1.2+0.003 ms clock, 0.022+0.5/1.0/0+0.006 ms cpu, 20->22->15 MB, 24 MB goal, 0 MB stacks, 0 MB globals, 2 P
gc 3 @12.000s 1%: 0.011+1.2+0.003 ms clock, 0.022+0.5/1.0/0+0.006 ms cpu, 25->25->11 MB, 30 MB goal, 0 MB stacks, 0 MB globals, 2 P
gc 4 @20.000s 1%: 0.011+1.2+0.003 ms clock, 0.022+0.5/1.0/0+0.006 ms cpu, 12->12->3 MB, 22 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)
`
	path := filepath.Join(t.TempDir(), "stderr.log")
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	launched := time.Unix(1000, 0)
	idle := window{Start: launched.Add(10 * time.Second), Wall: 5 * time.Second}
	got := parseGCTrace(path, launched, idle)
	want := gcSummary{GCs: 4, IdleGCs: 1, PeakLiveMB: 15, LastLiveMB: 3, LastGoalMB: 22}
	if got != want {
		t.Errorf("parseGCTrace = %+v, want %+v", got, want)
	}
}

// TestUsageModel checks the history generator's invariants: figures stay
// in [0, 1], an idle account writes nothing new between syncs, and a
// working account drains its buckets.
func TestUsageModel(t *testing.T) {
	start := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC) // a Monday
	u := newUsage(0, 1, cloudcode.TierPro, start)
	u.offDays = 0 // works Monday to Friday
	var first []store.Sample
	first = u.samples(first, false)
	if len(first) != 4 {
		t.Fatalf("first samples: %d, want every bucket (4)", len(first))
	}
	drained := false
	for t0 := start; t0.Before(start.Add(24 * time.Hour)); t0 = t0.Add(step) {
		u.advance(t0)
		s := u.samples(nil, false)
		for _, x := range s {
			if x.Fraction < 0 || x.Fraction > 1 {
				t.Fatalf("%s: fraction %v out of range", t0, x.Fraction)
			}
			if x.Fraction < 1 {
				drained = true
			}
		}
		// Outside working hours only a window that restarts at this sync
		// (full, reset one period away) writes a row.
		if !u.active(t0) {
			for _, x := range s {
				rolled := x.ResetTime.Equal(t0.Add(5*time.Hour)) || x.ResetTime.Equal(t0.Add(7*24*time.Hour))
				if x.Fraction != 1 || !rolled {
					t.Errorf("%s: idle account wrote %+v", t0, x)
				}
			}
		}
	}
	if !drained {
		t.Error("a working day drained nothing")
	}
	if all := u.samples(nil, true); len(all) != 4 {
		t.Errorf("all samples: %d, want 4", len(all))
	}
}
