package tui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
)

// panelLines lays out the monitor, proxy and warnings panels: side by
// side when wide, monitor and proxy paired over the warnings when medium,
// stacked and terse when narrow.
func (m Model) panelLines(vc viewContext, terse bool, budget int) []string {
	if terse {
		return m.tersePanels(vc, budget)
	}
	mon := m.monitorPanel(vc)
	var prx []string
	if m.deps.Proxy != nil {
		prx = m.proxyPanel(vc)
	}
	w := vc.width
	switch {
	case w >= wideFrom:
		warnW := w - 2*36 - 2*2
		if prx == nil {
			warn := m.warningsPanel(vc, w-38, len(mon))
			return append([]string{""}, joinColumns("  ", []int{36, w - 38}, mon, warn)...)
		}
		warn := m.warningsPanel(vc, warnW, max(len(mon), len(prx)))
		return append([]string{""}, joinColumns("  ", []int{36, 36, warnW}, mon, prx, warn)...)
	case w >= 2*30+2 && prx != nil:
		half := (w - 2) / 2
		top := joinColumns("  ", []int{half, w - half - 2}, mon, prx)
		out := append([]string{""}, top...)
		return append(out, m.warningsPanel(vc, w, 4)...)
	default:
		out := append([]string{""}, mon...)
		out = append(out, prx...)
		return append(out, m.warningsPanel(vc, w, 3)...)
	}
}

// monitorPanelHeight is how many lines monitorPanel draws: always the same.
const monitorPanelHeight = 7

// proxyPanelHeight is len(m.proxyPanel(vc)), without drawing it.
func (m Model) proxyPanelHeight() int {
	n := 5 + len(cloudcode.Families)
	for f := range m.pstats.RoutedTo {
		if cloudcode.ParseFamily(f) == cloudcode.FamilyUnknown {
			n++
		}
	}
	return n
}

// panelsHeight is len(m.panelLines(vc, false, 0)), without drawing the
// panels: at 1000 accounts split chooses between them and the terse ones
// by their heights, and draws only the one it chose.
func (m Model) panelsHeight(vc viewContext) int {
	mon, prx := monitorPanelHeight, 0
	if m.deps.Proxy != nil {
		prx = m.proxyPanelHeight()
	}
	w := vc.width
	switch {
	case w >= wideFrom:
		top := max(mon, prx)
		return 1 + max(top, m.warningsHeight(top))
	case w >= 2*30+2 && prx > 0:
		return 1 + max(mon, prx) + m.warningsHeight(4)
	default:
		return 1 + mon + prx + m.warningsHeight(3)
	}
}

// tersePanels packs the monitor and the proxy into two lines each for
// short terminals, in at most budget lines. When even that is too much,
// what goes first is what matters least: the newest warning, the sync
// line and the proxy's state stay longest.
func (m Model) tersePanels(vc viewContext, budget int) []string {
	st := vc.styles
	ms, c := &m.mon, &m.mon.Cache
	next := "next " + untilText(vc.now, ms.NextSync)
	switch {
	case ms.Running:
		next = st.Accent.Render("syncing…")
	case !ms.NextSync.IsZero() && !ms.NextSync.After(vc.now):
		next = "next due"
	}
	sync := fmt.Sprintf("%s %s %s · %s · %d ok %d err", st.Title.Render("SYNC"), clockText(ms.LastSyncStart), roundDur(ms.LastSyncTook), next, ms.LastSyncOK, ms.LastSyncErrors)
	cache := fmt.Sprintf("cache %d active %d expired · hit %.1f%% · reads %d/h", c.Active, c.Expired, c.HitRatio*100, ms.QuotaReadsLastHour)
	if !ms.Health.OK() {
		cache = st.Error.Render(ms.Health.String()) // the database's trouble first
	}
	var prx, routes string
	if m.deps.Proxy != nil {
		ps := &m.pstats
		state := st.Good.Render("RUNNING")
		if ps.Paused {
			state = st.Warn.Render("PAUSED")
		}
		rate := "–"
		if m.haveRate {
			rate = fmt.Sprintf("%.1f", m.rps)
		}
		var to []string
		for _, f := range cloudcode.Families {
			r := ps.RoutedTo[f.String()]
			if r == "" {
				r = "none"
			}
			to = append(to, f.String()+"→"+r)
		}
		prx = fmt.Sprintf("%s %s %s req/s · %d in flight · 429s %d", st.Title.Render("PROXY"), state, rate, ps.InFlight, ps.Client429s)
		routes = fmt.Sprintf("sw %d/%d · sess %d · %s · %s", ps.ProactiveSwitches, ps.ReactiveSwitches, ps.ActiveSessions, strings.Join(to, " "), m.policy)
	}
	lay := m.terseLayout(budget)
	var out []string
	for _, l := range []struct {
		on   bool
		text string
	}{{lay.blank, ""}, {lay.sync, sync}, {lay.cache, cache}, {lay.proxy, prx}, {lay.routes, routes}} {
		if l.on {
			out = append(out, l.text)
		}
	}
	if lay.warnH > 0 {
		out = append(out, m.warningsPanel(vc, vc.width, lay.warnH)...)
	}
	return out
}

// terseLines says which of the terse panels' lines are shown.
type terseLines struct {
	blank, sync, cache, proxy, routes bool
	warnH                             int // lines offered to the warnings panel
}

// terseLayout shares budget lines among the terse panels' lines: the
// warnings' title and newest line come first; then one line each, while
// there is room, in order of use; the rest goes to the warnings.
func (m Model) terseLayout(budget int) terseLines {
	var l terseLines
	left := budget
	l.warnH = min(2, left)
	left -= l.warnH
	take := func(ok bool) bool {
		if ok && left > 0 {
			left--
			return true
		}
		return false
	}
	l.sync = take(true)
	l.proxy = take(m.deps.Proxy != nil)
	l.blank = take(true)
	l.routes = take(m.deps.Proxy != nil)
	l.cache = take(true)
	l.warnH += left
	return l
}

// terseHeight is len(m.tersePanels(vc, budget)), without drawing them.
func (m Model) terseHeight(budget int) int {
	l := m.terseLayout(budget)
	n := 0
	for _, on := range []bool{l.blank, l.sync, l.cache, l.proxy, l.routes} {
		if on {
			n++
		}
	}
	if l.warnH > 0 {
		n += m.warningsHeight(l.warnH)
	}
	return n
}

// monitorPanel shows the background monitor and the cache.
func (m Model) monitorPanel(vc viewContext) []string {
	st := vc.styles
	ms := &m.mon
	lines := []string{st.Title.Render("MONITOR")}
	if ms.LastSyncStart.IsZero() {
		lines = append(lines, "last sync  never")
	} else {
		lines = append(lines, fmt.Sprintf("last sync  %s took %s", clockText(ms.LastSyncStart), roundDur(ms.LastSyncTook)))
	}
	switch {
	case ms.Running:
		lines = append(lines, "next sync  "+st.Accent.Render("syncing now…"))
	case ms.NextSync.IsZero():
		lines = append(lines, "next sync  –")
	case !ms.NextSync.After(vc.now):
		lines = append(lines, "next sync  due")
	default:
		lines = append(lines, "next sync  in "+untilText(vc.now, ms.NextSync))
	}
	res := fmt.Sprintf("result     %d ok, ", ms.LastSyncOK)
	if ms.LastSyncErrors > 0 {
		res += st.Error.Render(plural(ms.LastSyncErrors, "error"))
	} else {
		res += "0 errors"
	}
	lines = append(lines, res)
	c := &ms.Cache
	lines = append(lines, fmt.Sprintf("cache      %d active, %d expired", c.Active, c.Expired))
	lines = append(lines, fmt.Sprintf("hit ratio  %.1f%% (%d/%d)", c.HitRatio*100, c.Hits, c.Hits+c.Misses))
	lines = append(lines, "reads      "+readsText(ms))
	if !ms.Health.OK() {
		// What the operator must know first, in place of the hit ratio so
		// the panel keeps its height.
		lines[len(lines)-1] = st.Error.Render("database   " + ms.Health.String())
	}
	return lines
}

// proxyPanel shows the proxy's counters and where each family routes now.
func (m Model) proxyPanel(vc viewContext) []string {
	st := vc.styles
	ps := &m.pstats
	state := st.Good.Render("RUNNING")
	if ps.Paused {
		state = st.Warn.Render("PAUSED")
	}
	lines := []string{st.Title.Render("PROXY") + " " + state + " " + ps.Listen}
	rate := "–"
	if m.haveRate {
		rate = fmt.Sprintf("%.1f", m.rps)
	}
	lines = append(lines, fmt.Sprintf("req/s %s  in flight %d  sessions %d", rate, ps.InFlight, ps.ActiveSessions))
	lines = append(lines, fmt.Sprintf("switches %d proactive, %d reactive", ps.ProactiveSwitches, ps.ReactiveSwitches))
	c429 := fmt.Sprintf("%d", ps.Client429s)
	if ps.Client429s > 0 {
		c429 = st.Error.Render(c429)
	}
	lines = append(lines, fmt.Sprintf("429s to clients %s (upstream %d)", c429, ps.Upstream429s))
	lines = append(lines, fmt.Sprintf("%-10s   %s", "policy", m.policy))
	for _, f := range cloudcode.Families {
		to, ok := ps.RoutedTo[f.String()]
		if !ok || to == "" {
			to = st.Bad.Render("none available")
		}
		lines = append(lines, fmt.Sprintf("%-10s → %s", f, to))
	}
	// Families the proxy routes that this build does not know, in order.
	var extra []string
	for f := range ps.RoutedTo {
		if cloudcode.ParseFamily(f) == cloudcode.FamilyUnknown {
			extra = append(extra, f)
		}
	}
	slices.Sort(extra)
	for _, f := range extra {
		lines = append(lines, fmt.Sprintf("%-10s → %s", f, ps.RoutedTo[f]))
	}
	return lines
}

// warningsPanel shows the newest warnings first in at most h lines of
// width w (title included), from the scroll offset when focused.
func (m Model) warningsPanel(vc viewContext, w, h int) []string {
	st := vc.styles
	title := st.Title.Render("WARNINGS")
	if m.focus == focusLog {
		title += " " + st.Accent.Render("◂ focus (tab)")
	}
	if m.dropped > 0 {
		title += " " + st.Error.Render(fmt.Sprintf("%d events dropped", m.dropped))
	}
	lines := []string{title}
	if len(m.warnings) == 0 {
		return append(lines, st.Dim.Render("none"))
	}
	start := 0
	if m.focus == focusLog {
		start = m.logOffset
	}
	// Only the warnings that fit are drawn (of up to maxWarnings kept).
	evs := m.warnings[min(start, len(m.warnings)):]
	for _, l := range m.eventLines(vc, evs[:min(len(evs), max(h, 2)-1)]) {
		lines = append(lines, clip(l, w))
	}
	return lines
}

// warningsHeight is len(m.warningsPanel(vc, w, h)), without drawing it.
func (m Model) warningsHeight(h int) int {
	if len(m.warnings) == 0 {
		return 2
	}
	start := 0
	if m.focus == focusLog {
		start = m.logOffset
	}
	return 1 + min(len(m.warnings)-min(start, len(m.warnings)), max(h, 2)-1)
}

// eventGlyph marks an event's kind, with the severity's colour.
func eventGlyph(k quota.EventKind) (string, Severity) {
	switch k {
	case quota.EventLowQuota:
		return "!", SevLow
	case quota.EventExhausted:
		return "✗", SevExhausted
	case quota.EventRecovered:
		return "✓", SevOK
	case quota.EventSwitch:
		return "⇄", SevUnknown
	case quota.EventAccountError:
		return "×", SevForbidden
	case quota.EventAccountDisabled:
		return "⊘", SevForbidden
	default:
		return "•", SevUnknown
	}
}

// eventLine renders "HH:MM:SS ✗ account family: message".
func eventLine(vc viewContext, e *quota.Event) string {
	g, sev := eventGlyph(e.Kind)
	var sb strings.Builder
	sb.WriteString(e.At.Format("15:04:05"))
	sb.WriteByte(' ')
	sb.WriteString(vc.styles.Severity[sev].Render(g))
	if e.Account != "" {
		sb.WriteString(" " + e.Account)
	}
	msg := e.Message
	if e.Family != cloudcode.FamilyUnknown && !strings.Contains(msg, e.Family.String()) {
		sb.WriteString(" " + e.Family.String())
	}
	if msg == "" {
		msg = strings.ReplaceAll(e.Kind.String(), "_", " ")
	}
	sb.WriteString(": " + msg)
	return sb.String()
}

// logContent is the warnings log in full: every warning kept, newest
// first, each wrapped to the width instead of cut.
func (m Model) logContent(vc viewContext) []string {
	out := m.logHeader(vc)
	if len(m.warnings) == 0 {
		return append(out, vc.styles.Dim.Render("none"))
	}
	for _, l := range m.eventLines(vc, m.warnings) {
		out = append(out, wrapLine(l, vc.width)...)
	}
	return out
}

// logHeader is the lines of logContent above the warnings.
func (m Model) logHeader(vc viewContext) []string {
	st := vc.styles
	title := st.Title.Render("WARNINGS") + fmt.Sprintf(" · %s, newest first", plural(len(m.warnings), "warning"))
	if m.dropped > 0 {
		title += " · " + st.Error.Render(fmt.Sprintf("%d events dropped", m.dropped))
	}
	return append([]string{""}, wrapLine(title, vc.width)...)
}

// logLineOf is the line of logContent where warning i starts.
func (m Model) logLineOf(vc viewContext, i int) int {
	line := len(m.logHeader(vc))
	for j, l := range m.eventLines(vc, m.warnings) {
		if j >= i {
			break
		}
		line += len(wrapLine(l, vc.width))
	}
	return line
}
