package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// The product's targets.
const (
	targetRSS     = 60 << 20 // bytes, whole process
	targetIdleCPU = 1.0      // % of one core, dashboard open
)

// machineInfo describes where the figures were taken.
type machineInfo struct {
	cpus      int
	model     string
	memTotal  string
	loadStart string
	loadEnd   string
}

func readMachine() machineInfo {
	m := machineInfo{cpus: runtime.NumCPU(), model: "unknown", memTotal: "unknown", loadStart: loadAverage()}
	if out, err := exec.Command("lscpu").Output(); err == nil {
		for line := range strings.SplitSeq(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, "Model name:"); ok {
				m.model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				m.memTotal = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// loadAverage is the 1, 5 and 15 minute load averages: the machine is
// shared, and CPU figures only mean something beside them.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// results is everything one harness run measured.
type results struct {
	cfg               config
	started, finished time.Time
	machine           machineInfo
	hist              historyStats
	dash, serve       runResult
	detail            window
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// markdown renders the report written to -out.
func (r *results) markdown() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	c := r.cfg
	h := r.hist
	p("# Resources of the real binary: memory and idle CPU")
	p("")
	p("Targets (product.md, \"Figures to beat\"): whole process **< 60 MB RSS with 1000 accounts and a week of")
	p("history**; **< 1 %% idle CPU with the dashboard open**.")
	p("")
	p("Command (from the repository root; about %s in all):", roundMinute(r.finished.Sub(r.started)))
	p("")
	p("    %s", c.command)
	p("")
	p("Machine: %d CPUs (%s), %s RAM; load average %s at the start, %s at the end (a shared",
		r.machine.cpus, r.machine.model, r.machine.memTotal, r.machine.loadStart, r.machine.loadEnd)
	p("machine: other builds and tests were running). Date: %s UTC.", r.started.Format("2006-01-02 15:04"))
	p("")
	p("## Setup")
	p("")
	p("- Simulator (`cloudcodetest`) in the harness process, real clock, %d accounts (tiers rotate ULTRA, PRO, FREE).", c.accounts)
	p("- Database: `store.Open` + `UpsertAccounts` (the simulator's refresh tokens), then %s of history from a usage", c.history)
	p("  model (each account works 6–10 h a day, 5 days a week, draining a family's 5h and weekly buckets every 5 minutes")
	p("  while it works; windows roll like the simulator's). The last 24 h are written by `RecordSync` every 5 minutes;")
	p("  the older part once an hour, and `Compact(now, 24h, 720h)` rolls it up: the shape the monitor and the retention")
	p("  job leave behind. %d `RecordSync` batches, %d samples; result: **%d raw + %d rolled-up history rows**,",
		h.RecordSyncs, h.SamplesWritten, h.RawRows, h.RolledUpRows)
	p("  %d events, **%.1f MB** database file; built in %s.", h.Events, mb(h.DBBytes), h.Took.Round(time.Second))
	p("- Each run gets a fresh copy of that database and its own HOME/XDG dirs, and talks to the simulator on loopback")
	p("  (`--upstream-base-urls`, `--oauth-*-url`, `--proxy-listen 127.0.0.1:0`), with `GODEBUG=gctrace=1` (stderr")
	p("  to a file) to see the live heap beside the RSS.")
	p("- Dashboard: `quotatui` in a private tmux server (`tmux -L quotaresources-<pid>`), %d×%d pane. The run waits",
		paneWidth, paneHeight)
	p("  until the header shows %d accounts and the monitor panel \"%d ok\", reads RSS, then measures an idle window of", c.accounts, c.accounts)
	p("  %s, then presses enter (detail view of the first account, with its 12 h charts) and measures %s more.", c.idle, c.detail)
	p("- Serve: `quotatui serve` (monitor + proxy, no dashboard) as a child process; the first sync is known from")
	p("  the database (every account has a figure written since the launch). After its idle window, one `GET /metrics`")
	p("  (what a Prometheus scrape costs at this size).")
	p("- RSS is VmRSS/VmHWM from `/proc/PID/status`, sampled every second; CPU is the utime+stime delta from")
	p("  `/proc/PID/stat` over the window's wall time, as %% of one core.")
	p("- The default sync interval is 5 m, so the idle windows hold no sync (the first one ran before them):")
	p("  idle CPU here is the dashboard's own cost (1 s stats tick, clock, render), not the monitor's.")
	p("")
	p("## Figures")
	p("")
	if c.pprof != "" {
		p("**Profiled run** (`-pprof`): the binary had a pprof listener and a CPU profile ran through each window, so")
		p("these figures include the profiler's own cost; use them for the profiles, not against the targets.")
		p("")
	}
	p("| run | first sync done after | RSS at window start | RSS at window end (anon + file) | RSS median / max (1 s samples) | VmHWM (peak) | CPU over the window |")
	p("|---|---|---|---|---|---|---|")
	row := func(name, first string, start memInfo, w window) {
		p("| %s | %s | %.1f MB | %.1f MB (%.1f + %.1f) | %.1f / %.1f MB | %.1f MB | %.2f %% (%.2f s CPU in %s) |", name,
			first, mb(start.RSS), mb(w.After.RSS), mb(w.After.Anon), mb(w.After.File), mb(w.MedianRSS), mb(w.MaxRSS),
			mb(w.After.HWM), w.CPUPercent, w.CPUSeconds, w.Wall.Round(100*time.Millisecond))
	}
	round := func(d time.Duration) string { return d.Round(100 * time.Millisecond).String() }
	row("dashboard, idle", round(r.dash.FirstSync), r.dash.AtSync, r.dash.Idle)
	row("dashboard, detail view", "(same process)", r.dash.Idle.After, r.detail)
	row("serve (no dashboard), idle", round(r.serve.FirstSync), r.serve.AtSync, r.serve.Idle)
	sc := r.serve.Scrape
	p("| serve, one `GET /metrics` after the idle window | %s, %d series, %.1f MB of text | %.1f MB | %.1f MB (%.1f + %.1f) | | %.1f MB (before: %.1f MB) | %.2f s CPU |",
		sc.Took.Round(time.Millisecond), sc.Series, mb(sc.Bytes), mb(sc.Before.RSS), mb(sc.After.RSS), mb(sc.After.Anon), mb(sc.After.File),
		mb(sc.After.HWM), mb(sc.Before.HWM), sc.CPUSecond)
	p("")
	p("VmHWM is the kernel's peak; it is updated lazily, so a 1 s sample can exceed it by a few hundred KB.")
	p("")
	p("CPU without the window's two busiest seconds (one-offs such as the first history compaction, which the monitor")
	p("runs one minute after start and then hourly):")
	p("")
	p("| run | CPU over the window | two busiest seconds | CPU without them |")
	p("|---|---|---|---|")
	for _, x := range []struct {
		name string
		w    window
	}{{"dashboard, idle", r.dash.Idle}, {"dashboard, detail view", r.detail}, {"serve, idle", r.serve.Idle}} {
		var busy []string
		for _, b := range x.w.Busiest {
			busy = append(busy, fmt.Sprintf("%.2f s CPU at +%s", b.CPU, b.At))
		}
		p("| %s | %.2f %% | %s | %.2f %% |", x.name, x.w.CPUPercent, strings.Join(busy, "; "), x.w.SteadyPercent)
	}
	p("")
	p("The dashboard's idle window starts right after the first sync; the detail window right after the idle one.")
	p("Anon is the Go heap, stacks and SQLite's C heap; file is the binary's mapped pages (RssAnon, RssFile).")
	p("")
	p("Go heap from gctrace (live heap after a GC, MB):")
	p("")
	p("| run | GCs in run | GCs in idle window | peak live heap | last live heap | last heap goal |")
	p("|---|---|---|---|---|---|")
	for _, g := range []struct {
		name string
		gc   gcSummary
	}{{"dashboard", r.dash.GC}, {"serve", r.serve.GC}} {
		p("| %s | %d | %d | %d | %d | %d |", g.name, g.gc.GCs, g.gc.IdleGCs, g.gc.PeakLiveMB, g.gc.LastLiveMB, g.gc.LastGoalMB)
	}
	p("")
	p("## Against the targets")
	p("")
	peak := max(r.dash.Idle.After.HWM, r.detail.After.HWM, r.dash.Idle.MaxRSS, r.detail.MaxRSS)
	servePeak := max(r.serve.Idle.After.HWM, r.serve.Idle.MaxRSS)
	steady := max(r.dash.Idle.MaxRSS, r.detail.MaxRSS)
	p("| figure | target | measured | verdict |")
	p("|---|---|---|---|")
	p("| dashboard RSS, steady (max of 1 s samples, idle and detail) | < 60 MB | %.1f MB | %s |", mb(steady), verdict(steady < targetRSS))
	p("| dashboard RSS, peak since start (VmHWM, includes the first sync) | < 60 MB | %.1f MB | %s |", mb(peak), verdict(peak < targetRSS))
	p("| serve RSS, peak since start (VmHWM), before any /metrics scrape | < 60 MB | %.1f MB | %s |", mb(servePeak), verdict(servePeak < targetRSS))
	p("| dashboard idle CPU | < 1 %% | %.2f %% | %s |", r.dash.Idle.CPUPercent, verdict(r.dash.Idle.CPUPercent < targetIdleCPU))
	p("| dashboard idle CPU without the two busiest seconds | < 1 %% | %.2f %% | %s |", r.dash.Idle.SteadyPercent, verdict(r.dash.Idle.SteadyPercent < targetIdleCPU))
	p("| dashboard CPU, detail view open | < 1 %% | %.2f %% | %s |", r.detail.CPUPercent, verdict(r.detail.CPUPercent < targetIdleCPU))
	p("| serve idle CPU | < 1 %% | %.2f %% | %s |", r.serve.Idle.CPUPercent, verdict(r.serve.Idle.CPUPercent < targetIdleCPU))
	p("")
	if c.accounts != 1000 || c.history < 168*time.Hour {
		p("Note: this run used %d accounts and %s of history, not the target's 1000 accounts and a week.", c.accounts, c.history)
		p("")
	}
	return b.String()
}

func roundMinute(d time.Duration) string {
	if d < time.Minute {
		return d.Round(time.Second).String()
	}
	return d.Round(10 * time.Second).String()
}
