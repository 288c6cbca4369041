package tui

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/quota"
)

// quotasMsg carries a fresh snapshot of every account. fromFeed says the
// feed wait produced it, so the wait must be re-armed.
type quotasMsg struct {
	statuses []quota.Status
	fromFeed bool
}

// eventsMsg carries events read from the feed in one go.
type eventsMsg struct {
	events  []quota.Event
	dropped uint64
}

// statsMsg is the tick: counters pulled from the monitor and the proxy.
type statsMsg struct {
	now      time.Time
	wall     time.Time // time.Now, for rates: the clock may run fast (the demo)
	mon      quota.MonitorStats
	pstats   proxy.Stats // RoutedTo nil: not ranked this time, the shown one stays
	hasProxy bool
	ranked   ranking // with RoutedTo: what it was ranked on
	// standings of the account whose detail was open when the tick was
	// armed (standingsFor; 0: none, or not ranked this time and the shown
	// ones stay), and what they were ranked on (stood).
	standings    []quota.Standing
	standingsFor int64
	stood        ranking
}

// historyMsg carries fetched history and forecasts.
type historyMsg struct {
	data map[int64]*accountHistory
}

// detailEventsMsg carries the recent events of the account in detail.
type detailEventsMsg struct {
	accountID int64
	events    []quota.Event
	err       error
	standings []quota.Standing
}

// actionMsg is the result of a keyboard action.
type actionMsg struct {
	act      action
	text     string
	err      error
	statuses []quota.Status // fresh snapshot after the action, nil if unchanged
	paused   *bool
	at       time.Time // when it finished
}

// maxBatchEvents bounds how many queued events one wake-up reads, so a
// burst is drawn in one frame without starving other messages.
const maxBatchEvents = 64

// waitFeed waits for the next feed signal. It returns nil when the context
// ends or the feed closes, so its goroutine never outlives the program.
// It is re-armed by Update after each message it produced.
func (m Model) waitFeed() tea.Cmd {
	feed, eng, ctx := m.deps.Feed, m.deps.Engine, m.ctx
	if feed == nil {
		return nil
	}
	return func() tea.Msg {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-feed.Changed():
			if !ok {
				return nil
			}
			return quotasMsg{statuses: eng.GetAllQuotas(), fromFeed: true}
		case e, ok := <-feed.Events():
			if !ok {
				return nil
			}
			evs := []quota.Event{e}
			for len(evs) < maxBatchEvents {
				select {
				case e, ok := <-feed.Events():
					if !ok {
						return eventsMsg{events: evs, dropped: feed.Dropped()}
					}
					evs = append(evs, e)
					continue
				default:
				}
				break
			}
			return eventsMsg{events: evs, dropped: feed.Dropped()}
		}
	}
}

// tick waits one period, then pulls the monitor's and the proxy's
// counters (cheap copies). Unlike tea.Tick it gives up when the context
// ends, so no timer goroutine survives the program.
func (m Model) tick() tea.Cmd {
	d, ctx, eng, prx, clk := m.deps.Tick, m.ctx, m.deps.Engine, m.deps.Proxy, m.deps.Clock
	snap, ranked, stood := m.snap, m.ranked, m.stood
	var detail int64
	if m.detail {
		detail = m.detailID
		if m.standingsFor != detail {
			stood = ranking{} // ranked for another account (or none): due
		}
	}
	return func() tea.Msg {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		msg := statsMsg{now: clk.Now(), wall: time.Now(), mon: eng.MonitorStats()}
		if prx != nil {
			msg.pstats, msg.hasProxy = prx.Counters(), true
		}
		// RoutedTo and the detail's standings are the same ranking of
		// every account: both are redone only when something moved.
		r := ranking{on: rankingKey(snap, &msg.pstats), at: msg.now}
		if prx != nil && ranked.stale(r) {
			msg.pstats.RoutedTo, msg.ranked = prx.RoutedTo(), r
		}
		if detail != 0 && stood.stale(r) {
			msg.standings, msg.standingsFor, msg.stood = eng.Standings(detail), detail, r
		}
		return msg
	}
}

// statusVersion identifies what an account's history depends on: when it
// changes, the cached history is stale.
func statusVersion(s *quota.Status) string {
	var sb strings.Builder
	sb.WriteString(strconv.FormatInt(s.LastSync.UnixNano(), 36))
	for i := range s.Families {
		sb.WriteByte('/')
		sb.WriteString(strconv.FormatInt(s.Families[i].FetchedAt.UnixNano(), 36))
	}
	return sb.String()
}

// startHistory returns a command fetching the history of every account
// whose cache is stale, or nil when none is or a fetch is already running
// (one fetch at a time: it re-checks when it finishes).
// historySlack is how many off-screen histories are kept before the
// cache is trimmed to the rows on screen.
const historySlack = 64

// shownAccounts are the accounts whose history the screen can show: the
// table's visible rows and the account in the detail view. Before the
// first size message every row counts as visible up to one screenful.
func (m *Model) shownAccounts() []*quota.Status {
	n := m.tableRows()
	if n <= 0 {
		n = 50
	}
	end := min(m.offset+n, len(m.rows))
	out := make([]*quota.Status, 0, end-m.offset+1)
	for i := m.offset; i < end; i++ {
		out = append(out, &m.accounts[m.rows[i]])
	}
	if m.detail {
		if s := m.account(m.detailID); s != nil {
			out = append(out, s)
		}
	}
	return out
}

func (m *Model) startHistory() tea.Cmd {
	if m.histBusy {
		return nil
	}
	type want struct {
		id      int64
		version string
	}
	// Only the rows on screen (and the account in detail) need history:
	// with 1000 accounts, fetching every one after each sync held 4 MB of
	// charts and re-read the store for rows nobody sees.
	shown := m.shownAccounts()
	var stale []want
	for _, s := range shown {
		v := statusVersion(s)
		if h, ok := m.history[s.AccountID]; ok && h.version == v {
			continue
		}
		stale = append(stale, want{s.AccountID, v})
	}
	if len(m.history) > 2*len(shown)+historySlack {
		// Forget what scrolled away; a new map, so earlier model copies
		// keep theirs.
		kept := make(map[int64]*accountHistory, len(shown))
		for _, s := range shown {
			if h, ok := m.history[s.AccountID]; ok {
				kept[s.AccountID] = h
			}
		}
		m.history = kept
	}
	if len(stale) == 0 {
		return nil
	}
	m.histBusy = true
	ctx, hist, eng, since := m.ctx, m.deps.History, m.deps.Engine, m.now.Add(-historyWindow)
	return func() tea.Msg {
		out := make(map[int64]*accountHistory, len(stale))
		for _, w := range stale {
			if ctx.Err() != nil {
				break
			}
			h := &accountHistory{version: w.version}
			var errs []string
			for i, f := range cloudcode.Families {
				if hist != nil {
					pts, err := hist(ctx, w.id, f, since)
					if err != nil {
						errs = append(errs, fmt.Sprintf("history %s: %v", f, err))
					}
					h.points[i] = pts
				}
				fc, err := eng.Forecast(ctx, w.id, f)
				if err != nil {
					errs = append(errs, fmt.Sprintf("forecast %s: %v", f, err))
				}
				h.forecasts[i] = fc
			}
			h.err = strings.Join(errs, "; ")
			out[w.id] = h
		}
		return historyMsg{data: out}
	}
}

// fetchDetailEvents returns a command reading an account's recent events.
func (m Model) fetchDetailEvents(id int64) tea.Cmd {
	ctx, eng := m.ctx, m.deps.Engine
	return func() tea.Msg {
		// Ask for more than shown: routine events (syncs, quota changes)
		// are left out, only warnings, errors and switches stay.
		evs, err := eng.RecentEvents(ctx, id, 4*recentEvents)
		kept := evs[:0]
		for _, e := range evs {
			if isWarning(e.Kind) && len(kept) < recentEvents {
				kept = append(kept, e)
			}
		}
		return detailEventsMsg{accountID: id, events: kept, err: err, standings: eng.Standings(id)}
	}
}

// actionCmd returns the command doing act. label names the selected
// account for messages.
func (m Model) actionCmd(act action, id int64, label string) tea.Cmd {
	ctx, deps := m.ctx, m.deps
	return func() tea.Msg {
		msg := runAction(ctx, deps, act, id, label)
		msg.at = deps.Clock.Now()
		if log := deps.Logger; log != nil {
			// The operator reads in the log what was done from the
			// keyboard, as well as what the monitor and the proxy did.
			if msg.err != nil {
				log.Warn("dashboard: "+msg.err.Error(), "action", act.String())
			} else {
				log.Info("dashboard: "+msg.text, "action", act.String())
			}
		}
		return msg
	}
}

// runAction does one action, inside the action's command.
func runAction(ctx context.Context, d Deps, act action, id int64, label string) actionMsg {
	eng, prx, clk := d.Engine, d.Proxy, d.Clock
	switch act {
	case actResync:
		start := clk.Now()
		err := eng.SyncAccount(ctx, id)
		took := clk.Now().Sub(start)
		if err != nil {
			return actionMsg{act: act, err: fmt.Errorf("resync %s: %w", label, err), statuses: eng.GetAllQuotas()}
		}
		return actionMsg{act: act, text: fmt.Sprintf("synced %s in %s", label, roundDur(took)), statuses: eng.GetAllQuotas()}
	case actResyncAll:
		res := eng.SyncAll(ctx)
		text := fmt.Sprintf("synced %d accounts in %s", res.OK+len(res.Errors), roundDur(res.Took))
		if n := len(res.Errors); n > 0 {
			text += ", " + plural(n, "error")
		}
		return actionMsg{act: act, text: text, statuses: eng.GetAllQuotas()}
	case actClearCache:
		eng.ClearCache()
		return actionMsg{act: act, text: "quota cache cleared", statuses: eng.GetAllQuotas()}
	case actClearTiers:
		if err := eng.ClearTierCache(ctx); err != nil {
			return actionMsg{act: act, err: fmt.Errorf("clear tier cache: %w", err)}
		}
		return actionMsg{act: act, text: "tier cache cleared"}
	case actPause:
		paused := !prx.Paused()
		prx.SetPaused(paused)
		text := "proxy resumed"
		if paused {
			text = "proxy paused"
		}
		return actionMsg{act: act, text: text, paused: &paused}
	}
	return actionMsg{act: act, err: fmt.Errorf("unknown action %d", act)}
}

// roundDur rounds a duration for display in a result line.
func roundDur(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}
