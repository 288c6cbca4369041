package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestRunSmall runs the whole harness on a tiny pool: it must stop by
// itself, drain every account, never hand a client a 429 while an account
// still had quota, and write its report.
func TestRunSmall(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bench", "proxy.md")
	c := config{accounts: 2, clients: 4, after: 2, seed: 7, deadline: 30 * time.Second, cacheTTL: 20 * time.Millisecond,
		units: 40, latencyN: 50, concurrency: []int{1, 2}, out: out}
	var stdout strings.Builder
	if err := run(context.Background(), c, &stdout); err != nil {
		t.Fatal(err)
	}
	report := stdout.String()
	for _, want := range []string{
		"| client 429 while an account still had quota for the family | 0 (0.00 %) | 0 (0.00 %) | 0 % |",
		"| drained every account | true | true | yes |",
		"| other client errors | 0 | 0 | 0 |",
		"Concurrency 1:",
		"Concurrency 2:",
		"| Code Assist `/v1internal:generateContent` |",
		"| Anthropic `/v1/messages`, streamed |",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != report {
		t.Errorf("written report differs from the printed one (%v)", err)
	}
}

// TestReportKeepsNotes: a new run rewrites the figures and keeps the
// hand-written part after the marker.
func TestReportKeepsNotes(t *testing.T) {
	out := filepath.Join(t.TempDir(), "proxy.md")
	notes := notesMarker + "\nthe profile, by hand\n"
	if err := os.WriteFile(out, []byte("old figures\n\n"+notes), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeReport(out, "new figures\n"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "new figures\n\n" + notes; string(b) != want {
		t.Errorf("report is %q, want %q", b, want)
	}
}

// TestDrainSmall runs the drain figures on a small pool: they must stop by
// themselves, spend every account, hand no client an avoidable 429, count
// the units spent outside the proxy in the second series, and report the
// quota reads.
func TestDrainSmall(t *testing.T) {
	c := drainConfig{accounts: 3, units: 4, requests: 40, concurrency: 3, runs: 1, streams: 0.25, outside: 0.3, seed: 3,
		readAccounts: 2, readSpeed: 1200}
	var stdout strings.Builder
	if err := runDrain(context.Background(), c, &stdout); err != nil {
		t.Fatal(err)
	}
	report := stdout.String()
	for _, want := range []string{
		"| exhausted accounts per run (min–max) | 3–3 | 3–3 | 3 |",
		"| avoidable client 429s (an account still had quota), all runs | 0 | 0 | 0 |",
		"| units spent outside the proxy, all runs | 0 | ",
		"| accounts | busy (a request on every account every 15 s) | idle |",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "| units spent outside the proxy, all runs | 0 | 0 |") {
		t.Errorf("nothing was spent outside the proxy in the second series:\n%s", report)
	}
}
