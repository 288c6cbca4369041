// Command quotapollers measures how many quota-reading calls quotatui
// makes per hour for a pool of accounts, with one and with several
// engines on one database (issue #12: two processes on one database used
// to poll every account twice). Each engine runs the real monitor, token
// source, client and store against the simulator, on a clock sped up so an
// hour passes in seconds; each has its own SQLite handle on the shared
// file, so toward the database they behave as separate processes (the
// poller election is in the database). It prints a table and can write it
// as Markdown.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quotatui/quotatui/internal/auth"
	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/quota"
	"github.com/quotatui/quotatui/internal/store"
)

// The quota-reading methods the engine calls.
var readMethods = []string{"loadCodeAssist", "fetchAvailableModels", "retrieveUserQuotaSummary"}

type config struct {
	accounts  int
	processes []int
	hours     float64
	interval  time.Duration
	speed     float64
	out       string
}

func main() {
	var c config
	procs := flag.String("processes", "1,2", "engines on one database, one run each (comma-separated)")
	flag.IntVar(&c.accounts, "accounts", 12, "accounts in the pool")
	flag.Float64Var(&c.hours, "hours", 1, "simulated hours per run")
	flag.DurationVar(&c.interval, "interval", 5*time.Minute, "the monitor's sync interval (quota.sync_interval), simulated time")
	flag.Float64Var(&c.speed, "speed", 120, "simulated seconds per real second")
	flag.StringVar(&c.out, "out", "", "write the results as Markdown to this file")
	flag.Parse()
	for _, p := range strings.Split(*procs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "quotapollers: -processes: %q is not a count\n", p)
			os.Exit(2)
		}
		c.processes = append(c.processes, n)
	}
	if err := run(context.Background(), c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quotapollers:", err)
		os.Exit(1)
	}
}

// result is one run's count.
type result struct {
	processes int
	calls     map[string]int
	total     int
	rounds    int64 // rounds run by all engines together
}

func run(ctx context.Context, c config, w io.Writer) error {
	var results []result
	for _, n := range c.processes {
		r, err := measure(ctx, c, n)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	report := markdown(c, results)
	fmt.Fprint(w, report)
	if c.out != "" {
		if err := os.WriteFile(c.out, []byte(report), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// measure runs n engines on one database for c.hours of simulated time and
// counts the simulator's quota-reading calls.
func measure(ctx context.Context, c config, n int) (result, error) {
	start := time.Now().UTC().Truncate(time.Second)
	clk := clock.NewScaled(start, c.speed)
	sim := cloudcodetest.NewServer(cloudcodetest.Options{Clock: clk})
	defer sim.Close()
	dir, err := os.MkdirTemp("", "quotapollers-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	dbPath := filepath.Join(dir, "quotatui.db")

	seed, err := store.Open(ctx, dbPath)
	if err != nil {
		return result{}, err
	}
	tiers := []string{"g1-ultra-tier", "g1-pro-tier", "free-tier"}
	var rows []store.Account
	for i := range c.accounts {
		a := sim.AddAccount(cloudcodetest.AccountSpec{Email: fmt.Sprintf("acct%02d@example.com", i), TierID: tiers[i%len(tiers)]})
		rows = append(rows, store.Account{Email: a.Email, RefreshToken: a.RefreshToken})
	}
	if _, err := seed.UpsertAccounts(ctx, rows); err != nil {
		seed.Close()
		return result{}, err
	}
	seed.Close()

	oauth := auth.OAuthConfig{ClientID: cloudcodetest.DefaultClientID, ClientSecret: cloudcodetest.DefaultClientSecret,
		AuthURL: sim.AuthURL(), TokenURL: sim.TokenURL(), UserInfoURL: sim.UserInfoURL()}
	client := cloudcode.New(cloudcode.Config{BaseURLs: sim.BaseURLs(), HTTPClient: sim.Client(), Clock: clk})
	discard := slog.New(slog.DiscardHandler)
	realInterval := time.Duration(float64(c.interval) / c.speed)

	runCtx, cancel := context.WithCancel(ctx)
	var (
		wg       sync.WaitGroup
		managers []*quota.Manager
	)
	for i := range n {
		st, err := store.Open(ctx, dbPath)
		if err != nil {
			cancel()
			wg.Wait()
			return result{}, err
		}
		defer st.Close()
		tokens := auth.NewTokens(oauth, st, auth.TokensOptions{Clock: clk, HTTPClient: sim.Client()})
		m, err := quota.NewManager(ctx, client, tokens, st, quota.Options{
			Clock: clk, ClockRate: c.speed, Interval: c.interval, Logger: discard,
			Holder: fmt.Sprintf("engine-%d", i),
		})
		if err != nil {
			cancel()
			wg.Wait()
			return result{}, err
		}
		managers = append(managers, m)
		wg.Go(func() { m.StartMonitor(runCtx, realInterval) })
	}
	time.Sleep(time.Duration(c.hours * float64(time.Hour) / c.speed))
	cancel()
	wg.Wait()

	r := result{processes: n, calls: map[string]int{}}
	for _, rpc := range readMethods {
		r.calls[rpc] = sim.TotalRequests(rpc)
		r.total += r.calls[rpc]
	}
	for _, m := range managers {
		r.rounds += m.MonitorStats().SyncsRun
	}
	return r, nil
}

// markdown formats the results with the command that produced them.
func markdown(c config, results []result) string {
	var b strings.Builder
	procs := make([]string, len(c.processes))
	for i, n := range c.processes {
		procs[i] = strconv.Itoa(n)
	}
	fmt.Fprintf(&b, "Command: `go run ./cmd/quotapollers -accounts %d -processes %s -hours %g -interval %s -speed %g`\n\n",
		c.accounts, strings.Join(procs, ","), c.hours, c.interval, c.speed)
	fmt.Fprintf(&b, "| engines on one database | rounds run | loadCodeAssist | fetchAvailableModels | retrieveUserQuotaSummary | quota-reading calls per hour |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %d | %d | %d | %d | %d | %.0f |\n", r.processes, r.rounds,
			r.calls["loadCodeAssist"], r.calls["fetchAvailableModels"], r.calls["retrieveUserQuotaSummary"], float64(r.total)/c.hours)
	}
	return b.String()
}
