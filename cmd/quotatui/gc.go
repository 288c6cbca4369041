package main

import "runtime/debug"

// longRunningGCPercent is the collector's target for the processes that
// stay up (dashboard, serve, demo). Go's default (100) lets the heap grow
// to twice what is live between collections; with 1000 accounts about
// 11–15 MB is live, and the default goal put the dashboard over the 60 MB
// RSS budget (docs/BENCHMARKS.md, memory). At 50 the goal is one and a half
// times the live heap; idle, the process collects about twice a minute
// instead of once, a few milliseconds each.
const longRunningGCPercent = 50

// tuneLongRunningGC sets the collector's target for a process that stays
// up, unless GOGC says otherwise or the command is a test's in-process run.
func tuneLongRunningGC(c *cli) {
	if c.process && c.getenv("GOGC") == "" {
		debug.SetGCPercent(longRunningGCPercent)
	}
}
