package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/quotatui/quotatui/internal/quota"
	"github.com/quotatui/quotatui/internal/store"
	"github.com/quotatui/quotatui/internal/usage"
)

// The spend ledger in the dashboard (issues 14 and 16.3): figures that are
// estimates since the last sync show as ≈42%; the usage view (u) shows the
// pool's tokens per model, its top conversations and clients; the detail
// view shows the account's usage per model today and over the last days;
// the monitor panel shows what reading quota costs in calls per hour.

// UsageFunc reads the usage since a time, of one account or of every one
// (accountID 0): quota.Manager.Usage, which adds what the proxy served
// and has not written yet.
type UsageFunc func(ctx context.Context, since time.Time, accountID int64) (quota.UsageReport, error)

// usageSpan is how far back the usage view and the detail look: "this
// week" as the last seven days.
const usageSpan = 7 * 24 * time.Hour

// usageRefresh is how often an open usage view or detail reads again.
const usageRefresh = 5 * time.Second

// usageState is the last usage read for the open view.
type usageState struct {
	open    bool  // the usage view is shown
	forID   int64 // the account the report is for (0: the pool)
	report  quota.UsageReport
	have    bool
	err     string
	busy    bool
	fetched time.Time // when the last read was asked for (the model's clock)
}

// usageMsg carries a usage report.
type usageMsg struct {
	accountID int64
	report    quota.UsageReport
	err       error
}

// estimateMark is statusapi.EstimateMark: the same glyph in status and here.
const estimateMark = "≈"

// famPct is a family's effective figure in w cells (4 or 5), right
// aligned: "≈42%" while it is an estimate, else pctText's. A 5-cell
// estimate ("≈100%", a bucket past its reset taken as refilled) loses its
// mark in 4 cells rather than break the column.
func famPct(fq *quota.FamilyQuota, w int) string {
	if fq.Estimated && fq.Effective.Known {
		if s := estimateMark + fq.Effective.String(); len([]rune(s)) <= w {
			return fitRight(s, w)
		}
	}
	return fitRight(pctText(fq.Effective), w)
}

// estimateLine says what an estimated family's figure stands on; "" when
// it is the synced figure.
func estimateLine(fq *quota.FamilyQuota) string {
	if !fq.Estimated {
		return ""
	}
	s := fmt.Sprintf("  %s estimated: %s at the last sync, less %s since", estimateMark, strings.TrimSpace(pctText(fq.Synced)),
		plural(int(fq.Requests), "request"))
	if fq.Requests == 0 {
		s = "  " + estimateMark + " estimated: the window passed its reset, taken as refilled"
	}
	return s + "; the next sync confirms it"
}

// readsText is what reading quota costs, for the monitor panel: calls in
// the last hour and the early syncs adaptive sync made.
func readsText(ms *quota.MonitorStats) string {
	s := fmt.Sprintf("%d/h", ms.QuotaReadsLastHour)
	if ms.BusySyncs > 0 {
		s += fmt.Sprintf(" · %d busy syncs", ms.BusySyncs)
	}
	return s
}

// fetchUsage reads the usage of an account (0: the pool) over usageSpan.
func (m Model) fetchUsage(accountID int64) tea.Cmd {
	fn, ctx, since := m.deps.Usage, m.ctx, m.now.Add(-usageSpan)
	if fn == nil {
		return nil
	}
	return func() tea.Msg {
		r, err := fn(ctx, since, accountID)
		return usageMsg{accountID: accountID, report: r, err: err}
	}
}

// startUsage asks for the open view's usage (the usage view's, else the
// detail's) when it is due: at once when it is for another account, else
// every usageRefresh; never twice at a time for one account (a reply for
// another is dropped).
func (m *Model) startUsage(force bool) tea.Cmd {
	if m.deps.Usage == nil {
		return nil
	}
	var id int64
	switch {
	case m.usage.open:
	case m.detail:
		id = m.detailID
	default:
		return nil
	}
	u := &m.usage
	if u.forID == id && (u.busy || (!force && m.now.Sub(u.fetched) < usageRefresh)) {
		return nil
	}
	if u.forID != id {
		u.have, u.err, u.report = false, "", quota.UsageReport{}
	}
	u.busy, u.forID, u.fetched = true, id, m.now
	return m.fetchUsage(id)
}

// applyUsage takes a report for the account it was asked for.
func (m *Model) applyUsage(msg usageMsg) {
	u := &m.usage
	if msg.accountID != u.forID {
		return
	}
	u.busy, u.err = false, ""
	if msg.err != nil {
		u.err = msg.err.Error()
		return
	}
	u.report, u.have = msg.report, true
}

// today is the start of the day of now, in now's zone.
func today(now time.Time) time.Time {
	y, mo, d := now.Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, now.Location())
}

// hoursSince keeps the hours at or after t.
func hoursSince(hs []store.UsageHour, t time.Time) []store.UsageHour {
	var out []store.UsageHour
	for _, h := range hs {
		if !h.Hour.Before(t.Truncate(time.Hour)) {
			out = append(out, h)
		}
	}
	return out
}

// figuresText is a group's counts in one line: requests, errors and the
// tokens by type.
func figuresText(f usage.Figures) string {
	t := f.Tokens
	return fmt.Sprintf("%s req · %s err · in %s out %s think %s cached %s", usage.Count(f.Requests), usage.Count(f.Errors),
		usage.Count(t.Prompt), usage.Count(t.Candidates), usage.Count(t.Thoughts), usage.Count(t.Cached))
}

// usageStatus is what the view says while there is no report to show;
// ok when there is one.
func (m Model) usageStatus(vc viewContext) (string, bool) {
	st := vc.styles
	switch {
	case m.deps.Usage == nil:
		return st.Dim.Render("no usage here: the proxy's ledger is not kept"), false
	case m.usage.err != "":
		return st.Error.Render("usage: " + m.usage.err), false
	case !m.usage.have:
		return st.Dim.Render("reading usage…"), false
	}
	return "", true
}

// detailUsageLines is the detail's usage section: per model, today's and
// the last seven days' requests, errors and tokens by type.
func (m Model) detailUsageLines(vc viewContext, accountID int64) []string {
	st := vc.styles
	if m.deps.Usage == nil {
		return nil
	}
	out := []string{"", st.Title.Render("USAGE") + st.Dim.Render(" (through this proxy)")}
	if m.usage.forID != accountID {
		return append(out, st.Dim.Render("reading usage…"))
	}
	if msg, ok := m.usageStatus(vc); !ok {
		return append(out, msg)
	}
	hours := m.usage.report.Hours
	if len(hours) == 0 {
		return append(out, st.Dim.Render("no requests in the last 7 days"))
	}
	day := usage.Sum(hoursSince(hours, today(vc.now)), usage.ByModel, nil, vc.now.Location())
	byDay := map[string]usage.Figures{}
	for _, g := range day {
		byDay[g.Key] = g.Figures
	}
	for _, g := range usage.Sum(hours, usage.ByModel, nil, vc.now.Location()) {
		out = append(out, "  "+g.Key)
		if f, ok := byDay[g.Key]; ok {
			out = append(out, "    today   "+figuresText(f))
		} else {
			out = append(out, "    today   "+st.Dim.Render("none"))
		}
		out = append(out, "    7 days  "+figuresText(g.Figures))
	}
	return out
}

// usageContent is the usage view: the pool's totals today and over the
// last seven days, per model, the top conversations and the top clients.
func (m Model) usageContent(vc viewContext) []string {
	st := vc.styles
	out := append([]string{""}, wrapLine(st.Title.Render("USAGE")+st.Dim.Render(" · every account, through this proxy"), vc.width)...)
	if msg, ok := m.usageStatus(vc); !ok {
		return append(out, msg)
	}
	r := m.usage.report
	if len(r.Hours) == 0 && len(r.Conversations) == 0 {
		return append(out, st.Dim.Render("no requests in the last 7 days"))
	}
	loc := vc.now.Location()
	out = append(out, wrapLine("today   "+figuresText(usage.Total(hoursSince(r.Hours, today(vc.now)))), vc.width)...)
	out = append(out, wrapLine("7 days  "+figuresText(usage.Total(r.Hours)), vc.width)...)

	table := func(title string, rows [][]string, left int) {
		out = append(out, "", st.Title.Render(title))
		lines := fitColumns(rows, left, vc.width, "CACHED", "THINK", "IN", "OUT")
		out = append(out, st.Header.Render(lines[0]))
		out = append(out, lines[1:]...)
	}
	head := []string{"MODEL", "REQ", "ERR", "IN", "OUT", "THINK", "CACHED", "TOTAL"}
	rows := [][]string{head}
	for _, g := range usage.Sum(r.Hours, usage.ByModel, nil, loc) {
		t := g.Tokens
		rows = append(rows, []string{g.Key, usage.Count(g.Requests), usage.Count(g.Errors), usage.Count(t.Prompt),
			usage.Count(t.Candidates), usage.Count(t.Thoughts), usage.Count(t.Cached), usage.Count(t.Total)})
	}
	table("BY MODEL (7 days)", rows, 1)

	if len(r.Conversations) > 0 {
		rows = [][]string{{"CONVERSATION", "CLIENT", "ACCOUNT", "REQ", "TOKENS"}}
		for i, c := range r.Conversations {
			if i == 10 {
				break
			}
			acct := "–"
			if s := m.account(c.AccountID); s != nil {
				acct = displayName(s)
			}
			client := c.Client
			if client == "" {
				client = "–"
			}
			rows = append(rows, []string{clip(c.Session, 18), clip(client, 16), clip(acct, 20), usage.Count(c.Requests), usage.Count(c.Tokens.Total)})
		}
		table("TOP CONVERSATIONS", rows, 3)
	}

	rows = [][]string{{"CLIENT", "REQ", "ERR", "TOKENS"}}
	for i, g := range usage.Sum(r.Hours, usage.ByClient, nil, loc) {
		if i == 10 {
			break
		}
		rows = append(rows, []string{clip(g.Key, 24), usage.Count(g.Requests), usage.Count(g.Errors), usage.Count(g.Tokens.Total)})
	}
	table("TOP CLIENTS (7 days)", rows, 1)
	return out
}

// famCellPct is the figure part of a table cell: 5 cells with the bar
// (the separator's space gives room for the mark), 4 without.
func famCellPct(fq *quota.FamilyQuota, withBar bool) string {
	if withBar {
		return famPct(fq, 5)
	}
	return famPct(fq, 4)
}

// fitColumns lays rows out (usage.Columns) and, while the widest line is
// wider than w, leaves out the columns named in drop (by their header, in
// that order), so a narrow pane keeps the names and totals whole.
func fitColumns(rows [][]string, left, w int, drop ...string) []string {
	lines := usage.Columns(rows, left)
	for _, name := range drop {
		widest := 0
		for _, l := range lines {
			widest = max(widest, len([]rune(l)))
		}
		if widest <= w {
			break
		}
		col := slices.Index(rows[0], name)
		if col < left {
			continue
		}
		cut := make([][]string, len(rows))
		for i, r := range rows {
			cut[i] = slices.Delete(slices.Clone(r), col, col+1)
		}
		rows = cut
		lines = usage.Columns(rows, left)
	}
	return lines
}
