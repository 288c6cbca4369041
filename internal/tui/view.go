package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
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

// render lays out the frame: title, body (table and panels, detail, or
// help), status line and key hints. Every line is clipped to the width
// and the frame to the height.
func (m Model) render() string {
	if m.width <= 0 || m.height <= 0 {
		return "quotatui: starting…"
	}
	vc := m.vc()
	lines := make([]string, 0, m.height)
	lines = append(lines, m.titleLine(vc))
	bodyH := max(m.height-3, 0)
	switch {
	case m.showHelp:
		lines = append(lines, m.helpLines(vc, bodyH)...)
	case m.detail:
		lines = append(lines, m.detailLines(vc, bodyH)...)
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
		sb.WriteString(clip(l, m.width))
	}
	return sb.String()
}

// titleLine shows the product, the table's sort and filter, and the time.
func (m Model) titleLine(vc viewContext) string {
	st := vc.styles
	left := st.Title.Render("quotatui")
	if m.deps.Version != "" {
		left += " " + st.Dim.Render(m.deps.Version)
	}
	info := fmt.Sprintf(" · %d accounts · sort %s", len(m.accounts), m.sortBy)
	if len(m.rows) != len(m.accounts) {
		info = fmt.Sprintf(" · %d/%d accounts · sort %s", len(m.rows), len(m.accounts), m.sortBy)
	}
	left += info
	switch {
	case m.filtering:
		left += " · filter: " + m.filter.Value() + "█"
	case m.filter.Value() != "":
		left += " · filter: " + m.filter.Value()
	}
	right := vc.now.Format("15:04:05")
	if m.deps.Proxy != nil && m.pstats.Paused {
		right = st.Warn.Render("PAUSED") + " " + right
	}
	gap := vc.width - ansi.StringWidth(left) - ansi.StringWidth(right)
	if gap < 1 {
		return clip(left, vc.width)
	}
	return left + strings.Repeat(" ", gap) + right
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

// hintLine is the one-line help.
func (m Model) hintLine(vc viewContext) string {
	if m.filtering {
		return vc.styles.Dim.Render("type to filter · enter keep · esc clear")
	}
	h := m.help
	h.SetWidth(vc.width)
	switch {
	case m.showHelp:
		return h.ShortHelpView([]key.Binding{m.keys.Help, m.keys.Quit})
	case m.detail:
		return h.ShortHelpView(m.keys.DetailHelp())
	}
	return h.ShortHelpView(m.keys.ShortHelp())
}

// helpLines is the help overlay: every key by column, with the state
// legend, since severity is told by word and glyph.
func (m Model) helpLines(vc viewContext, h int) []string {
	hm := m.help
	hm.SetWidth(vc.width)
	out := []string{"", vc.styles.Title.Render("Keys")}
	out = append(out, strings.Split(hm.FullHelpView(m.keys.FullHelp()), "\n")...)
	out = append(out, "", vc.styles.Title.Render("States"))
	var legend []string
	for s := SevOK; s <= SevNeedsLogin; s++ {
		legend = append(legend, vc.styles.Severity[s].Render(s.Glyph()+" "+s.Word()))
	}
	out = append(out, wrapItems(legend, "", "", "  ", vc.width)...)
	out = append(out, "", "bars: ▓ left ░ spent · 5h/wk: the bucket that limits · ? never means 0 %")
	if len(out) > h {
		out = out[:h]
	}
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

// split shares h lines between the table and the panels: the table always
// keeps up to half the height (all its rows when they fit); the panels go
// terse, then get cut, when they would leave it less.
func (m Model) split(vc viewContext, h int) (tableH int, panels []string) {
	tableWant := 1 + max(len(m.rows), 1)
	tableMin := min(tableWant, max(h/2, 3))
	panels = m.panelLines(vc, false, 0)
	if h-len(panels) < tableWant {
		if terse := m.panelLines(vc, true, h-tableWant); len(terse) < len(panels) {
			panels = terse
		}
	}
	if len(panels) > h-tableMin {
		panels = panels[:max(h-tableMin, 0)]
	}
	return h - len(panels), panels
}

// tableRows is how many account rows the table shows at the current size.
func (m *Model) tableRows() int {
	if m.height <= 0 {
		return 0
	}
	tableH, _ := m.split(m.vc(), max(m.height-3, 0))
	return max(tableH-1, 1)
}
