package tui

import (
	"time"

	"github.com/quotatui/quotatui/internal/proxy"
)

// rankEvery bounds how old the shown RoutedTo, and the detail view's
// standings (the same ranking, Engine.Standings), may be when nothing moved.
// Ranking 1000 accounts per family every second was a third of the idle
// dashboard's CPU (issue 18), and its answer changes only with the
// accounts' figures and marks (a new snapshot), the proxy's traffic, or
// time alone: a window resetting, a cooldown ending, the weekly pacing
// (policy.go's spendBy) crossing over. The first two are seen by the key
// at the next tick; time alone has no key, so it is re-ranked this often.
const rankEvery = 5 * time.Second

// rankKey is what RoutedTo's and Standings' answers depend on that the
// dashboard can see.
type rankKey struct {
	snap                      uint64 // the accounts snapshot's generation
	requests, switches, c429s uint64 // the proxy's traffic
	inFlight                  int64
	activeSessions            int
	paused                    bool
}

// ranking is what a shown RoutedTo or standings were ranked on, and when.
type ranking struct {
	on rankKey
	at time.Time
}

func rankingKey(snap uint64, st *proxy.Stats) rankKey {
	return rankKey{
		snap:           snap,
		requests:       st.Requests,
		switches:       st.ProactiveSwitches + st.ReactiveSwitches,
		c429s:          st.Client429s + st.Upstream429s,
		inFlight:       st.InFlight,
		activeSessions: st.ActiveSessions,
		paused:         st.Paused,
	}
}

// stale reports whether a ranking made on r's key at r's time is due:
// the key moved, rankEvery passed, or the clock went back.
func (old ranking) stale(r ranking) bool {
	return old.on != r.on || old.at.IsZero() || r.at.Sub(old.at) >= rankEvery || r.at.Before(old.at)
}
