package main

import (
	"bufio"
	"os"
	"regexp"
	"strconv"
	"time"
)

// gcSummary is what GODEBUG=gctrace=1 said about a run's heap.
type gcSummary struct {
	GCs        int // in the whole run
	IdleGCs    int // that started inside the idle window
	PeakLiveMB int // largest heap left after a GC
	LastLiveMB int // heap left after the last GC
	LastGoalMB int // the heap goal after the last GC
}

// gcLine matches "gc 12 @3.456s 1%: ... 4->5->2 MB, 6 MB goal, ...".
var gcLine = regexp.MustCompile(`^gc \d+ @([0-9.]+)s .* (\d+)->(\d+)->(\d+) MB, (\d+) MB goal`)

// parseGCTrace reads a gctrace log. Times in it count from the process's
// start, which is within milliseconds of launched.
func parseGCTrace(path string, launched time.Time, idle window) gcSummary {
	var g gcSummary
	f, err := os.Open(path)
	if err != nil {
		return g
	}
	defer f.Close()
	from := idle.Start.Sub(launched).Seconds()
	to := from + idle.Wall.Seconds()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := gcLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		at, _ := strconv.ParseFloat(m[1], 64)
		live, _ := strconv.Atoi(m[4])
		goal, _ := strconv.Atoi(m[5])
		g.GCs++
		if at >= from && at < to {
			g.IdleGCs++
		}
		g.PeakLiveMB = max(g.PeakLiveMB, live)
		g.LastLiveMB, g.LastGoalMB = live, goal
	}
	return g
}
