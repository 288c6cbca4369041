package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// BenchmarkStatusProcess is what a status bar pays: the real binary's
// `quotatui status --line` (and `--json`, and the table) answered by a running serve
// with 12 and 1000 accounts, process start included. One op is one run
// of the binary; median-ms is the median run, the figure in
// docs/BENCHMARKS.md.
//
//	go test -run '^$' -bench StatusProcess -benchtime 100x ./cmd/quotatui
func BenchmarkStatusProcess(b *testing.B) {
	for _, n := range []int{12, 1000} {
		b.Run(fmt.Sprintf("accounts=%d", n), func(b *testing.B) {
			specs := make([]cloudcodetest.AccountSpec, n)
			tiers := []string{"g1-pro-tier", "g1-ultra-tier", "free-tier"}
			for i := range specs {
				specs[i] = cloudcodetest.AccountSpec{Email: fmt.Sprintf("user%d@example.com", i+1), TierID: tiers[i%len(tiers)]}
			}
			w := newMPWorld(b, specs...)
			w.serve()
			waitAnswer(b, w.stateDir(), w.db, n)
			for _, mode := range []string{"--line", "--json", "table"} {
				b.Run(strings.TrimPrefix(mode, "--"), func(b *testing.B) {
					args := append([]string{"status", mode}, w.args...)
					if mode == "table" {
						args = append([]string{"status"}, w.args...)
					}
					var took []time.Duration
					for b.Loop() {
						cmd := exec.Command(w.bin, args...)
						cmd.Env, cmd.Stdout, cmd.Stderr = append(w.env, os.Getenv("QT_BENCH_ENV")), io.Discard, io.Discard
						start := time.Now()
						// 3–6 are answers (the pool's FREE accounts are
						// exhausted for Claude/GPT: exit 3), not failures.
						var exit *exec.ExitError
						if err := cmd.Run(); err != nil && !(errors.As(err, &exit) && exit.ExitCode() >= exitExhausted && exit.ExitCode() <= 6) {
							b.Fatalf("status %s: %v", mode, err)
						}
						took = append(took, time.Since(start))
					}
					slices.Sort(took)
					b.ReportMetric(float64(took[len(took)/2])/float64(time.Millisecond), "median-ms")
				})
			}
		})
	}
}
