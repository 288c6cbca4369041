package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// memInfo is a process's resident memory, from /proc/PID/status.
type memInfo struct {
	RSS, HWM int64 // bytes: VmRSS now, VmHWM (peak RSS so far)
	// RSS split: anonymous (Go heap, stacks, SQLite's C heap) and
	// file-backed (the binary's text and data pages, mapped files).
	Anon, File int64
}

func readMem(pid int) (memInfo, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memInfo{}, fmt.Errorf("memory of pid %d: %w", pid, err)
	}
	var m memInfo
	for line := range strings.SplitSeq(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		var dst *int64
		switch name {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.HWM
		case "RssAnon":
			dst = &m.Anon
		case "RssFile":
			dst = &m.File
		}
		if !ok || dst == nil {
			continue
		}
		f := strings.Fields(rest) // "12345 kB"
		if len(f) != 2 || f[1] != "kB" {
			return memInfo{}, fmt.Errorf("memory of pid %d: odd %s line %q", pid, name, line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return memInfo{}, fmt.Errorf("memory of pid %d: %w", pid, err)
		}
		*dst = kb << 10
	}
	if m.RSS == 0 {
		return memInfo{}, fmt.Errorf("memory of pid %d: no VmRSS", pid)
	}
	return m, nil
}

// readCPUTicks returns the process's user+system CPU time in clock ticks,
// from /proc/PID/stat fields 14 and 15.
func readCPUTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu of pid %d: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields from after its closing parenthesis.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("cpu of pid %d: odd stat %q", pid, b)
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("cpu of pid %d: short stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("cpu of pid %d: odd utime/stime %q %q", pid, f[11], f[12])
	}
	return utime + stime, nil
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times. It is 100 on
// every Linux the harness runs on; getconf confirms it without cgo.
func clockTicks() int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		return 100
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil || n <= 0 {
		return 100
	}
	return n
}

// window is what one measurement window saw.
type window struct {
	Start      time.Time
	Wall       time.Duration
	CPUPercent float64 // of one core
	CPUSeconds float64
	Before     memInfo // at the start
	After      memInfo // at the end
	MaxRSS     int64   // of the per-second samples
	MedianRSS  int64
	Samples    int
	// Busiest are the two seconds with the most CPU (a one-off such as
	// the store's first compaction, one minute after start, shows here);
	// SteadyPercent is the window's CPU without them.
	Busiest       []busySecond
	SteadyPercent float64
}

// busySecond is one second of a window and the CPU it took.
type busySecond struct {
	At  time.Duration // from the window's start
	CPU float64       // seconds
}

// observe measures pid for d: CPU from the utime+stime delta over the
// wall time, RSS sampled every second.
func observe(ctx context.Context, pid int, d time.Duration, hz int64) (window, error) {
	var w window
	var err error
	if w.Before, err = readMem(pid); err != nil {
		return w, err
	}
	t0 := time.Now()
	w.Start = t0
	c0, err := readCPUTicks(pid)
	if err != nil {
		return w, err
	}
	rss := []int64{w.Before.RSS}
	var secs []busySecond
	last := c0
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	end := time.NewTimer(d)
	defer end.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			return w, ctx.Err()
		case <-end.C:
			break loop
		case <-tick.C:
			m, err := readMem(pid)
			if err != nil {
				return w, err
			}
			rss = append(rss, m.RSS)
			c, err := readCPUTicks(pid)
			if err != nil {
				return w, err
			}
			secs = append(secs, busySecond{At: time.Since(t0).Round(time.Second), CPU: float64(c-last) / float64(hz)})
			last = c
		}
	}
	c1, err := readCPUTicks(pid)
	if err != nil {
		return w, err
	}
	w.Wall = time.Since(t0)
	if w.After, err = readMem(pid); err != nil {
		return w, err
	}
	rss = append(rss, w.After.RSS)
	w.CPUSeconds = float64(c1-c0) / float64(hz)
	w.CPUPercent = 100 * w.CPUSeconds / w.Wall.Seconds()
	slices.SortFunc(secs, func(a, b busySecond) int { return cmp.Compare(b.CPU, a.CPU) })
	w.Busiest = secs[:min(2, len(secs))]
	steadyCPU, steadyWall := w.CPUSeconds, w.Wall.Seconds()
	for _, b := range w.Busiest {
		steadyCPU -= b.CPU
		steadyWall--
	}
	if steadyWall > 0 {
		w.SteadyPercent = 100 * max(0, steadyCPU) / steadyWall
	}
	slices.Sort(rss)
	w.MaxRSS, w.MedianRSS, w.Samples = rss[len(rss)-1], rss[len(rss)/2], len(rss)
	return w, nil
}
