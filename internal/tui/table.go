package tui

import (
	"fmt"
	"strings"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
)

// Column widths of the accounts table.
const (
	selW     = 2
	tierW    = 5
	stateW   = 13 // "⚿ NEEDS LOGIN"
	resetW   = 6
	sparkW   = 12 // one cell per hour of historyWindow
	minAcctW = 14
	// The forecast column takes "empty 13m40s < reset 4h15m" whole, and
	// grows to the long form ("claude-gpt empty in 13m40s, resets in
	// 4h15m") before the account column grows past acctWant: at wide
	// widths the forecast is worth more than blank space after a label.
	forecastW    = 27
	forecastLong = 40 // from here the long form fits
	forecastMaxW = 44
	acctWant     = 20
	acctMaxW     = 40
)

// tableLayout is the set of columns that fits a width.
type tableLayout struct {
	compact  bool
	acct     int
	barW     int // 0: no bar, only the percentage
	spark    bool
	forecast bool
	fcW      int // the forecast column's width when forecast is set
}

// famW is the width of one family cell: bar, percentage, window.
func (l tableLayout) famW() int {
	if l.barW == 0 {
		return 4 + 1 + 2
	}
	return l.barW + 1 + 4 + 1 + 2
}

// fixed is the width of every column but the account's, separators
// included.
func (l tableLayout) fixed() int {
	w := selW + 1 + tierW + 1 + stateW + 2*(1+l.famW()) + 1 + resetW
	if l.spark {
		w += 1 + sparkW
	}
	if l.forecast {
		w += 1 + l.fcW
	}
	return w
}

// layoutFor picks the richest layout whose account column still reads,
// dropping the forecast, then narrowing bars, then the sparkline, then
// bars, and going compact below compactBelow. Past what the columns need,
// the forecast grows first, then the account column, up to their limits.
func layoutFor(width int) tableLayout {
	if width < compactBelow {
		return tableLayout{compact: true, acct: max(width-compactFixed, 4)}
	}
	steps := []tableLayout{
		{barW: 6, spark: true, forecast: true},
		{barW: 6, spark: true},
		{barW: 3, spark: true},
		{barW: 3},
		{},
	}
	for _, l := range steps {
		if l.spark && width < sparkFrom {
			continue
		}
		if l.forecast {
			l.fcW = forecastW
		}
		rest := width - l.fixed()
		if rest < minAcctW {
			continue
		}
		if l.forecast {
			grow := min(max(rest-acctWant, 0), forecastMaxW-forecastW)
			l.fcW += grow
			rest -= grow
		}
		l.acct = min(rest, acctMaxW)
		return l
	}
	l := steps[len(steps)-1]
	l.acct = max(width-l.fixed(), 4)
	return l
}

// compactFixed is the width of the compact row without the label:
// glyph+word, two family percentages and the reset.
const compactFixed = 2 + compactStateW + 1 + 1 + 6 + 6 + 1 + resetW

// compactStateW fits a glyph and the longest short word ("⚿ LOGIN").
const compactStateW = 7

// tableLines renders the header and the visible rows in h lines.
func (m Model) tableLines(vc viewContext, h int) []string {
	if h <= 0 {
		return nil
	}
	l := layoutFor(vc.width)
	st := vc.styles
	out := make([]string, 0, h)
	out = append(out, st.Header.Render(clip(tableHeader(l), vc.width)))
	if len(m.rows) == 0 {
		msg := "no accounts yet: add one with `quotatui login`"
		if len(m.accounts) > 0 {
			msg = "no account matches the filter (esc clears it)"
		}
		return append(out, st.Dim.Render(msg))
	}
	n := rowsShown(h, len(m.rows))
	end := min(m.offset+n, len(m.rows))
	for i := m.offset; i < end; i++ {
		out = append(out, m.cachedRow(vc, m.rows[i], l, i == m.cursor))
	}
	if above, below := m.offset, len(m.rows)-end; above+below > 0 {
		var parts []string
		if above > 0 {
			parts = append(parts, fmt.Sprintf("↑ %d above", above))
		}
		if below > 0 {
			parts = append(parts, fmt.Sprintf("↓ %d more", below))
		}
		out = append(out, st.Dim.Render("  "+strings.Join(parts, " · ")))
	}
	return out
}

// tableHeader names the columns of a layout.
func tableHeader(l tableLayout) string {
	if l.compact {
		return fit("  STATE", 2+compactStateW) + " " + fit("ACCOUNT", l.acct) + " " + fit(" GEM", 6) + fit(" C/G", 6) + " " + fit("RESET", resetW)
	}
	var sb strings.Builder
	sb.WriteString(strings.Repeat(" ", selW))
	sb.WriteString(fit("ACCOUNT", l.acct))
	sb.WriteString(" " + fit("TIER", tierW))
	sb.WriteString(" " + fit("STATE", stateW))
	claude := "CLAUDE/GPT"
	if l.famW() < len(claude) {
		claude = "CLA/GPT"
	}
	sb.WriteString(" " + fit("GEMINI", l.famW()))
	sb.WriteString(" " + fit(claude, l.famW()))
	sb.WriteString(" " + fit("RESET", resetW))
	if l.spark {
		sb.WriteString(" " + fit("LAST 12H", sparkW))
	}
	if l.forecast {
		sb.WriteString(" " + fit("FORECAST", l.fcW))
	}
	return sb.String()
}

// fullRow renders one account in the table's full layout: its head, the
// countdown and its tail (the parts the render cache keeps apart, since
// the countdown moves every second and the tail with the history).
func (m Model) fullRow(vc viewContext, s *quota.Status, l tableLayout, sel bool) string {
	h := m.history[s.AccountID]
	return fullHead(vc, s, l, sel) + resetCell(vc, s) + fullTail(vc, s, l, h, m.sparkFor(vc, s, h))
}

// resetCell is the countdown to the account's next reset, with its
// leading space.
func resetCell(vc viewContext, s *quota.Status) string {
	return " " + fitRight(untilText(vc.now, nextReset(s)), resetW)
}

// fullHead is a full row up to the countdown: selection, name, tier,
// state and the families.
func fullHead(vc viewContext, s *quota.Status, l tableLayout, sel bool) string {
	st := vc.styles
	sev := severity(s)
	var sb strings.Builder
	if sel {
		sb.WriteString("▸ ")
	} else {
		sb.WriteString("  ")
	}
	name := fit(displayName(s), l.acct)
	if sel {
		name = st.Selected.Render(name)
	}
	sb.WriteString(name)
	sb.WriteString(" " + st.Tier[s.Tier].Render(fit(tierBadge(s.Tier), tierW)))
	sb.WriteString(" " + st.Severity[sev].Render(fit(sev.Glyph()+" "+sev.Word(), stateW)))
	for i := range s.Families {
		sb.WriteString(" " + famCell(vc, &s.Families[i], s.Marks[i], l.barW))
	}
	return sb.String()
}

// fullTail is a full row after the countdown: the sparkline spark of the
// history h and the forecast.
func fullTail(vc viewContext, s *quota.Status, l tableLayout, h *accountHistory, spark string) string {
	st := vc.styles
	var sb strings.Builder
	if l.spark {
		sb.WriteString(" " + st.Accent.Render(fit(spark, sparkW)))
	}
	if l.forecast {
		sb.WriteString(" " + st.Warn.Render(fit(forecastText(s, h, l.fcW), l.fcW)))
	}
	return sb.String()
}

// famCell renders a family's effective remaining: bar, percentage and the
// bottleneck window, coloured by the family's severity.
func famCell(vc viewContext, fq *quota.FamilyQuota, mk quota.Mark, barW int) string {
	sev := familySeverity(fq, mk)
	// Where an upstream lock or cooldown binds, its glyph takes the
	// window's place: the figure alone would contradict the state.
	win := windowText(fq.Bottleneck)
	switch mk.Kind {
	case quota.ExhaustedMark:
		win = SevExhausted.Glyph() + " "
	case quota.CooldownMark:
		win = SevCooling.Glyph() + " "
	}
	cell := famCellPct(fq, barW > 0) + " " + win
	if barW > 0 {
		cell = bar(fq.Effective, barW) + cell // famCellPct's 5 cells hold the space
	}
	return vc.styles.Severity[sev].Render(cell)
}

// compactRow renders one account on a narrow screen: state, label, the
// two families' percentages and the reset.
func compactRow(vc viewContext, s *quota.Status, l tableLayout, sel bool) string {
	return compactHead(vc, s, l, sel) + resetCell(vc, s)
}

// compactHead is a compact row up to the countdown.
func compactHead(vc viewContext, s *quota.Status, l tableLayout, sel bool) string {
	st := vc.styles
	sev := severity(s)
	mark := "  "
	if sel {
		mark = "▸ "
	}
	name := fit(displayName(s), l.acct)
	if sel {
		name = st.Selected.Render(name)
	}
	var sb strings.Builder
	sb.WriteString(mark)
	sb.WriteString(st.Severity[sev].Render(fit(sev.Glyph()+" "+sev.Short(), compactStateW)))
	sb.WriteString(" " + name + " ")
	for i := range s.Families {
		fs := familySeverity(&s.Families[i], s.Marks[i])
		sb.WriteString(st.Severity[fs].Render(fit(" "+famPct(&s.Families[i], 4), 6)))
	}
	return sb.String()
}

// tierBadge is the tier's short name; UNKNOWN would crowd the column.
func tierBadge(t cloudcode.Tier) string {
	if t == cloudcode.TierUnknown {
		return "?"
	}
	return t.String()
}

// worstFamily is the index of the family with the lowest known effective
// fraction (0 when none is known): the one the sparkline and forecast
// follow.
func worstFamily(s *quota.Status) int {
	best, idx := 2.0, 0
	for i := range s.Families {
		if e := s.Families[i].Effective; e.Known && e.Value < best {
			best, idx = e.Value, i
		}
	}
	return idx
}

// sparkFor draws the worst family's history over the last hours, one cell
// per hour; blank until the history has been fetched.
func (m Model) sparkFor(vc viewContext, s *quota.Status, h *accountHistory) string {
	if h == nil {
		return ""
	}
	pts := h.points[worstFamily(s)]
	if len(pts) == 0 {
		return ""
	}
	return m.cache.spark(h, worstFamily(s), pts, vc.now)
}

// forecastText warns when a family runs out before its reset, the family
// that runs out soonest first, in the long form when w has room for it;
// "" otherwise.
func forecastText(s *quota.Status, h *accountHistory, w int) string {
	if h == nil {
		return ""
	}
	best := -1
	for i, fc := range h.forecasts {
		if fc.Enough && fc.RunsOutFirst && (best < 0 || fc.EmptyIn < h.forecasts[best].EmptyIn) {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	fc := h.forecasts[best]
	if w >= forecastLong {
		return fmt.Sprintf("%s empty in %s, resets in %s", cloudcode.Families[best], shortDur(fc.EmptyIn), shortDur(fc.ResetIn))
	}
	return fmt.Sprintf("empty %s < reset %s", shortDur(fc.EmptyIn), shortDur(fc.ResetIn))
}
