// Command quotasoak runs quotatui's routing stack against the simulator
// under faults for a long time and reports what a long-running proxy must
// keep flat (memory, goroutines, open files) and whether any client got an
// error another account could have served. It also measures two figures of
// the proxy's hardening: the client 429 share under detail-less upstream
// 429s, and the time for a new conversation while one account hangs.
//
//	go run ./cmd/quotasoak -duration 1h                # the soak
//	go run ./cmd/quotasoak -scenario bursts            # client 429s at 10 % and 30 % bare 429s
//	go run ./cmd/quotasoak -scenario hang              # a new conversation while an account hangs
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	var (
		scenario = flag.String("scenario", "soak", "what to run: soak, bursts or hang")
		out      = flag.String("out", "", "also write the report (Markdown) to this file")
		seed     = flag.Uint64("seed", 1, "seed for the workload and the faults")

		duration = flag.Duration("duration", time.Hour, "soak: how long to run (real time)")
		speed    = flag.Float64("speed", 24, "soak: simulated seconds per real second (24: an hour covers a day)")
		rate     = flag.Float64("rate", 5, "soak and bursts: client requests per second")
		clients  = flag.Int("clients", 8, "soak and bursts: concurrent clients")
		accounts = flag.Int("accounts", 6, "soak: accounts in the pool (bursts and hang use 4)")
		units    = flag.Int("units", 300, "soak: a PRO account's 5-hour bucket per family, in requests (FREE half, ULTRA double, weekly 5x)")
		sample   = flag.Duration("sample", time.Minute, "soak: how often to sample the process")
		bare     = flag.Float64("bare", 0.03, "soak: share of generate calls answered a bare 429")
		capacity = flag.Float64("capacity", 0.01, "soak: share of generate calls answered 503 MODEL_CAPACITY_EXHAUSTED")
		hang     = flag.Float64("hang", 0.003, "soak: share of generate calls that hang after their headers")
		cut      = flag.Float64("cut", 0.01, "soak: share of generate calls whose answer is cut mid-way")
		expire   = flag.Duration("expire-every", 2*time.Minute, "soak: revoke one account's access tokens this often (401s)")

		bareRates = flag.String("bare-rates", "0.10,0.30", "bursts: shares of bare 429s to measure, comma-separated")
		requests  = flag.Int("requests", 1000, "bursts: client requests per share")
		simLat    = flag.Duration("sim-latency", 20*time.Millisecond, "bursts and hang: latency the simulator adds to each call")
		coolFirst = flag.Duration("cooldown-first", 0, "bursts: the proxy's first cooldown after a bare 429 (0: its default, 250ms)")

		firstByte = flag.Duration("first-byte-timeout", 2*time.Second, "hang: the proxy's first-byte timeout")
		every     = flag.Duration("every", 250*time.Millisecond, "hang: a new conversation this often")
		lasting   = flag.Duration("for", time.Minute, "hang: how long to keep starting conversations")
		keep      = flag.Bool("keep", false, "soak: keep the run's directory (database and INFO log) and print where it is")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	command := "go run ./cmd/quotasoak " + strings.Join(os.Args[1:], " ")

	var report string
	switch *scenario {
	case "soak":
		dir, err := os.MkdirTemp("", "quotasoak-")
		if err != nil {
			fail(err)
		}
		if *keep {
			fmt.Fprintln(os.Stderr, "quotasoak: the database and log stay in", dir)
		} else {
			defer os.RemoveAll(dir)
		}
		c := soakConfig{duration: *duration, speed: *speed, rate: *rate, clients: *clients, accounts: *accounts, units: *units,
			seed: *seed, sample: *sample, dir: dir,
			faults: faultMix{bare: *bare, capacity: *capacity, hang: *hang, cut: *cut, expireEvery: *expire}}
		r, err := soak(ctx, c, func(line string) { fmt.Fprintln(os.Stderr, "quotasoak:", line) })
		if err != nil {
			fail(err)
		}
		report = r.markdown(command)
	case "bursts":
		var rates []float64
		for f := range strings.SplitSeq(*bareRates, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil {
				fail(fmt.Errorf("-bare-rates: %w", err))
			}
			rates = append(rates, v)
		}
		c := burstConfig{rates: rates, accounts: 4, clients: *clients, requests: *requests, rate: *rate, simLatency: *simLat, seed: *seed, cooldown: *coolFirst}
		rs, err := bursts(ctx, c)
		if err != nil {
			fail(err)
		}
		report = renderBursts(c, rs, command)
	case "hang":
		c := hangConfig{accounts: 4, firstByte: *firstByte, every: *every, lasting: *lasting, simLatency: *simLat}
		rs, err := hangs(ctx, c)
		if err != nil {
			fail(err)
		}
		report = renderHangs(c, rs, command)
	default:
		fail(fmt.Errorf("unknown -scenario %q: want soak, bursts or hang", *scenario))
	}
	fmt.Print(report)
	if *out != "" {
		if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
			fail(err)
		}
		if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "quotasoak:", err)
	os.Exit(1)
}
