package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// View renders the whole screen. It is the only place that returns a
// tea.View: alternate screen on, mouse off.
func (m Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeNone
	v.WindowTitle = "quotatui"
	return v
}

// Layout breakpoints, in columns.
const (
	compactBelow = 55  // one line per account below this
	sparkFrom    = 80  // the sparkline column needs this much
	wideFrom     = 116 // three panels side by side, the warnings 40 wide
)

// page names what the body shows.
type page uint8

const (
	pageMain page = iota
	pageDetail
	pageLog
	pageHelp
	pageUsage
	numPages
)

// page is what the body shows now: help over everything, then the
// warnings log, then the detail, else the table with its panels.
func (m *Model) page() page {
	switch {
	case m.showHelp:
		return pageHelp
	case m.usage.open:
		return pageUsage
	case m.logView:
		return pageLog
	case m.detail:
		return pageDetail
	}
	return pageMain
}

// bodyHeight is the lines between the title and the status line.
func (m *Model) bodyHeight() int { return max(m.height-3, 0) }

// render lays out the frame: title, body (table and panels, detail,
// warnings log or help), status line and key hints. Every line is clipped
// to the width and the frame to the height.
func (m Model) render() string {
	if m.width <= 0 || m.height <= 0 {
		return "quotatui: starting…"
	}
	vc := m.vc()
	lines := make([]string, 0, m.height)
	lines = append(lines, m.titleLine(vc))
	bodyH := m.bodyHeight()
	switch m.page() {
	case pageHelp:
		lines = append(lines, scrollWindow(vc, m.helpContent(vc), m.scroll[pageHelp], bodyH)...)
	case pageLog:
		lines = append(lines, scrollWindow(vc, m.logContent(vc), m.scroll[pageLog], bodyH)...)
	case pageUsage:
		lines = append(lines, scrollWindow(vc, m.usageContent(vc), m.scroll[pageUsage], bodyH)...)
	case pageDetail:
		lines = append(lines, scrollWindow(vc, m.detailContent(vc, bodyH), m.scroll[pageDetail], bodyH)...)
	default:
		lines = append(lines, m.mainLines(vc, bodyH)...)
	}
	for len(lines) < m.height-2 {
		lines = append(lines, "")
	}
	lines = append(lines, m.statusLine(vc))
	lines = append(lines, m.hintLine(vc))
	if len(lines) > m.height {
		lines = lines[:m.height]
	}
	var sb strings.Builder
	for i, l := range lines {
		if i > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(m.cache.clip(l, m.width))
	}
	m.cache.endFrame()
	return sb.String()
}

// titleLine shows the product, the table's count, the database (its kind
// and the instances live on it), sort and filter, and the time. What does
// not fit goes, least useful first: the version, the sort, the database,
// the time; the filter and the count stay.
func (m Model) titleLine(vc viewContext) string {
	st := vc.styles
	name := st.Title.Render("quotatui")
	version := ""
	if m.deps.Version != "" {
		version = " " + st.Dim.Render(m.deps.Version)
	}
	count := fmt.Sprintf(" · %d accounts", len(m.accounts))
	if len(m.rows) != len(m.accounts) {
		count = fmt.Sprintf(" · %d/%d accounts", len(m.rows), len(m.accounts))
	}
	db := ""
	if b := m.mon.Backend; b != "" {
		// The database and, when it is shared, how many instances are on
		// it (their heartbeats), so two pollers on two machines show.
		db = " · " + b
		if n := m.mon.Instances; n > 0 {
			db += fmt.Sprintf(", %d live", n)
		}
	}
	sort := " · sort " + m.sortBy.String()
	filter := ""
	switch {
	case m.filtering:
		filter = " · filter: " + m.filter.Value() + "█"
	case m.filter.Value() != "":
		filter = " · filter: " + m.filter.Value()
	}
	right := vc.now.Format("15:04:05")
	if m.deps.Proxy != nil && m.pstats.Paused {
		right = st.Warn.Render("PAUSED") + " " + right
	}
	for _, left := range []string{
		name + version + count + db + sort + filter,
		name + count + db + sort + filter,
		name + count + db + filter,
		name + count + filter,
	} {
		if gap := vc.width - ansi.StringWidth(left) - ansi.StringWidth(right); gap >= 1 {
			return left + strings.Repeat(" ", gap) + right
		}
	}
	return clip(name+count+filter, vc.width)
}

// statusLine shows running actions with a spinner, else the last result.
func (m Model) statusLine(vc viewContext) string {
	st := vc.styles
	if m.busy() {
		var parts []string
		for a, r := range m.running {
			if r {
				parts = append(parts, action(a).running())
			}
		}
		line := st.Accent.Render(m.spin.View()) + " " + strings.Join(parts, " · ")
		if m.status != "" {
			line += " · " + st.Dim.Render(m.status)
		}
		return line
	}
	if m.status == "" {
		return ""
	}
	at := ""
	if !m.statusAt.IsZero() {
		at = st.Dim.Render(m.statusAt.Format("15:04:05")) + " "
	}
	if m.statErr {
		return at + st.Error.Render("error: "+m.status)
	}
	return at + st.Good.Render(m.status)
}

// hintLine is the footer: the keys that matter in the current view, as
// many as fit, the essential ones always; while typing a filter, the
// filter itself, so it is visible at any width.
func (m Model) hintLine(vc viewContext) string {
	if m.filtering {
		st := vc.styles
		tail := st.Dim.Render(" · enter keep · esc clear")
		text := m.filter.Value() + "█"
		room := vc.width - ansi.StringWidth("filter: ") - ansi.StringWidth(tail)
		if room < 4 {
			tail, room = "", vc.width-ansi.StringWidth("filter: ")
		}
		if w := ansi.StringWidth(text); w > room {
			text = "…" + ansi.TruncateLeft(text, w-room+1, "")
		}
		return "filter: " + text + tail
	}
	switch m.page() {
	case pageHelp, pageLog, pageUsage:
		return m.cache.footer(vc, m.keys.pagerHints())
	case pageDetail:
		return m.cache.footer(vc, m.keys.detailHints())
	}
	return m.cache.footer(vc, m.keys.mainHints(m.focus == focusLog))
}

// footer renders hints as "key desc • key desc", dropping the least kept
// ones until the line fits; if even the essential ones do not, their
// keys alone.
func footer(vc viewContext, hints []hint) string {
	st := vc.styles
	sep := st.Dim.Render(" • ")
	render := func(hs []hint, withDesc bool) string {
		parts := make([]string, 0, len(hs))
		for _, h := range hs {
			p := st.Key.Render(h.b.Help().Key)
			if withDesc {
				desc := h.desc
				if desc == "" {
					desc = h.b.Help().Desc
				}
				p += " " + desc
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, sep)
	}
	kept := append([]hint(nil), hints...)
	for ansi.StringWidth(render(kept, true)) > vc.width {
		drop := -1
		for i, h := range kept {
			if h.keep > 0 && (drop < 0 || h.keep > kept[drop].keep) {
				drop = i
			}
		}
		if drop < 0 {
			return clip(render(kept, false), vc.width)
		}
		kept = append(kept[:drop:drop], kept[drop+1:]...)
	}
	return render(kept, true)
}

// helpContent is the help: every key by column (as many side by side as
// fit, the others below), with the state legend, since severity is told
// by word and glyph.
func (m Model) helpContent(vc viewContext) []string {
	st := vc.styles
	out := []string{"", st.Title.Render("Keys")}
	var cols [][]string
	for _, group := range m.keys.FullHelp() {
		keyW := 0
		for _, b := range group {
			keyW = max(keyW, ansi.StringWidth(b.Help().Key))
		}
		var col []string
		for _, b := range group {
			col = append(col, st.Key.Render(fit(b.Help().Key, keyW))+" "+b.Help().Desc)
		}
		cols = append(cols, col)
	}
	// Side by side while they fit, the rest in a block below.
	var block [][]string
	var widths []int
	flush := func() {
		if len(block) > 0 {
			out = append(out, joinColumns("   ", widths, block...)...)
		}
		block, widths = nil, nil
	}
	for _, col := range cols {
		w := 0
		for _, l := range col {
			w = max(w, ansi.StringWidth(l))
		}
		used := 0
		for _, bw := range widths {
			used += bw + 3
		}
		if len(block) > 0 && used+w > vc.width {
			flush()
		}
		block, widths = append(block, col), append(widths, w)
	}
	flush()
	out = append(out, "", st.Title.Render("States"))
	var legend []string
	for s := SevOK; s <= SevNeedsLogin; s++ {
		legend = append(legend, st.Severity[s].Render(s.Glyph()+" "+s.Word()))
	}
	out = append(out, wrapItems(legend, "", "", "  ", vc.width)...)
	out = append(out, "")
	out = append(out, wrapLine("bars: ▓ left ░ spent · ? never means 0 %", vc.width)...)
	out = append(out, wrapLine(estimateMark+"42%: an estimate, the requests served since the last sync counted; the next sync confirms it", vc.width)...)
	out = append(out, wrapLine("5h/wk: the window that limits; ✗/◷ in its place: an upstream lock or cooldown", vc.width)...)
	return out
}

// wrapItems puts items, joined by sep, on as few lines of width w as it
// can; the first line starts with first, the others with indent.
func wrapItems(items []string, first, indent, sep string, w int) []string {
	var out []string
	cur, empty := first, true
	for _, it := range items {
		switch {
		case empty:
			cur += it
		case ansi.StringWidth(cur)+ansi.StringWidth(sep)+ansi.StringWidth(it) <= w:
			cur += sep + it
		default:
			out = append(out, cur)
			cur = indent + it
		}
		empty = false
	}
	if !empty {
		out = append(out, cur)
	}
	return out
}

// mainLines is the table with the panels under it; the table gets what
// the panels leave, but always a few rows.
func (m Model) mainLines(vc viewContext, h int) []string {
	tableH, panels := m.split(vc, h)
	// The panels follow the table directly; spare lines go below them, so
	// a few accounts in a tall pane do not leave the panels stranded.
	return append(m.tableLines(vc, tableH), panels...)
}

// terseMin is the fewest lines the terse panels need to show the sync,
// the proxy and the newest warning.
const terseMin = 5

// split shares h lines between the table and the panels. The table gets
// all its rows when the panels still fit, in full or terse; otherwise it
// keeps up to half the height and scrolls, and the terse panels get the
// rest, the newest warning first.
func (m Model) split(vc viewContext, h int) (tableH int, panels []string) {
	p := m.panelLayout(vc, h)
	// Only the panels chosen are drawn.
	if p.terse {
		panels = m.tersePanels(vc, p.budget)
	} else {
		panels = m.panelLines(vc, false, 0)
	}
	if verifyRenderCache {
		// The test hook: the heights must be the drawn panels' lengths.
		if n := len(m.panelLines(vc, false, 0)); n != m.panelsHeight(vc) {
			panic(fmt.Sprintf("tui: panelsHeight says %d lines, the panels drew %d", m.panelsHeight(vc), n))
		}
		if n := len(m.tersePanels(vc, p.budget)); n != m.terseHeight(p.budget) {
			panic(fmt.Sprintf("tui: terseHeight(%d) says %d lines, the terse panels drew %d", p.budget, m.terseHeight(p.budget), n))
		}
	}
	return h - p.lines, panels[:p.lines]
}

// panelChoice is split's decision, made from the panels' heights alone.
type panelChoice struct {
	terse  bool
	budget int // the terse panels' budget
	lines  int // how many of the chosen panels' lines are shown
}

func (m Model) panelLayout(vc viewContext, h int) panelChoice {
	tableWant := 1 + max(len(m.rows), 1)
	tableMin := min(tableWant, max(h/2, 3))
	var p panelChoice
	n := m.panelsHeight(vc)
	if h-n < tableWant {
		p.budget = h - tableWant
		if p.budget < terseMin {
			p.budget = h - tableMin
		}
		if t := m.terseHeight(p.budget); t < n {
			p.terse, n = true, t
		}
	}
	p.lines = min(n, max(h-tableMin, 0))
	return p
}

// tableRows is how many account rows the table shows at the current size.
func (m *Model) tableRows() int {
	if m.height <= 0 {
		return 0
	}
	p := m.panelLayout(m.vc(), m.bodyHeight())
	return rowsShown(m.bodyHeight()-p.lines, len(m.rows))
}

// rowsShown is how many of total rows fit a table of h lines: one line is
// the header, and one says how many more there are when they do not all
// fit.
func rowsShown(h, total int) int {
	avail := h - 1
	if total <= avail {
		return max(total, 0)
	}
	return max(avail-1, 1)
}
