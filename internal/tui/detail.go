package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
)

// detailLines renders the selected account: state, per-family buckets
// with reset times and models, a history chart, the forecast, and recent
// events, in at most h lines. The charts get the lines the rest leaves
// (up to four rows each), so the events stay on screen.
func (m Model) detailLines(vc viewContext, h int) []string {
	base := m.detailContent(vc, 0)
	charts := len(cloudcode.Families)
	rows := min((h-len(base))/charts-1, 4)
	if rows < 1 {
		return clipLines(base, h)
	}
	return clipLines(m.detailContent(vc, rows), h)
}

// clipLines keeps the first h lines.
func clipLines(lines []string, h int) []string {
	if len(lines) > h {
		return lines[:max(h, 0)]
	}
	return lines
}

// detailContent is the detail view with charts of chartH rows (none at 0).
func (m Model) detailContent(vc viewContext, chartH int) []string {
	st := vc.styles
	s := m.account(m.detailID)
	if s == nil {
		return []string{"", st.Dim.Render("this account is gone (esc goes back)")}
	}
	w := vc.width
	sev := severity(s)
	hist := m.history[s.AccountID]
	out := []string{""}
	head := st.Title.Render(displayName(s))
	if s.Label != "" && s.Email != "" && s.Email != s.Label {
		head += " " + st.Dim.Render(s.Email)
	}
	head += "  " + st.Tier[s.Tier].Render(tierBadge(s.Tier))
	if s.TierID != "" {
		head += st.Dim.Render(" (" + s.TierID + ")")
	}
	head += "  " + st.Severity[sev].Render(sev.Glyph()+" "+sev.Word())
	out = append(out, head)
	sync := "last sync " + clockText(s.LastSync)
	if !s.LastSync.IsZero() {
		sync += " (" + shortDur(vc.now.Sub(s.LastSync)) + " ago)"
	}
	if s.ProjectID != "" {
		sync += " · project " + s.ProjectID
	}
	out = append(out, sync)
	if s.StateReason != "" {
		out = append(out, st.Error.Render("state: "+string(s.State)+": "+s.StateReason))
	}
	if s.ValidationURL != "" {
		out = append(out, st.Warn.Render("verify at "+s.ValidationURL))
	}
	if s.Unreadable != "" {
		out = append(out, st.Warn.Render("quota unreadable: "+s.Unreadable))
	}
	if s.LastError != "" {
		out = append(out, st.Error.Render("last error: "+s.LastError))
	}
	barW := min(max(w/8, 4), 12)
	for i, f := range cloudcode.Families {
		fq := &s.Families[i]
		fs := familySeverity(fq, s.Marks[i])
		out = append(out, "")
		out = append(out, st.Title.Render(f.Title())+"  "+st.Severity[fs].Render(
			fmt.Sprintf("%s %s effective %s %s", fs.Glyph(), fs.Word(), strings.TrimSpace(pctText(fq.Effective)), bottleneckName(fq.Bottleneck))))
		out = append(out, bucketLine(vc, "5h", fq.FiveHour, barW))
		out = append(out, bucketLine(vc, "weekly", fq.Weekly, barW))
		if mk := s.Marks[i]; mk.Kind != quota.NoMark {
			kind := "cooling"
			if mk.Kind == quota.ExhaustedMark {
				kind = "exhausted"
			}
			out = append(out, st.Severity[fs].Render(fmt.Sprintf("  %s until %s (%s): %s", kind, clockText(mk.Until), untilText(vc.now, mk.Until), mk.Reason)))
		}
		if len(fq.Models) > 0 {
			parts := make([]string, 0, len(fq.Models))
			for _, mq := range fq.Models {
				parts = append(parts, mq.ID+" "+strings.TrimSpace(pctText(mq.Remaining)))
			}
			out = append(out, wrapItems(parts, "  models: ", "          ", " · ", w)...)
		}
		if hist != nil {
			out = append(out, "  "+forecastLine(hist.forecasts[i]))
			if chartH > 0 {
				out = append(out, historyChart(vc, hist.points[i], chartH)...)
			}
		}
	}
	if hist != nil && hist.err != "" {
		out = append(out, st.Error.Render(hist.err))
	}
	out = append(out, "", st.Title.Render("RECENT EVENTS"))
	switch {
	case m.detailErr != "":
		out = append(out, st.Error.Render("events: "+m.detailErr))
	case len(m.detailEvts) == 0:
		out = append(out, st.Dim.Render("none"))
	}
	for i := range m.detailEvts {
		out = append(out, eventLine(vc, &m.detailEvts[i]))
	}
	return out
}

// bottleneckName says which window limits the effective figure.
func bottleneckName(w cloudcode.Window) string {
	switch w {
	case cloudcode.Window5h:
		return "(5h window)"
	case cloudcode.WindowWeekly:
		return "(weekly window)"
	}
	return ""
}

// bucketLine renders one bucket with its reset time and countdown.
func bucketLine(vc viewContext, name string, b quota.BucketQuota, barW int) string {
	sev := SevUnknown
	if b.Remaining.Known {
		sev = familySeverity(&quota.FamilyQuota{Effective: b.Remaining}, quota.Mark{})
	}
	reset := "reset unknown"
	if !b.ResetTime.IsZero() {
		reset = fmt.Sprintf("resets %s (in %s)", resetClock(vc.now, b.ResetTime), untilText(vc.now, b.ResetTime))
	}
	cell := bar(b.Remaining, barW) + " " + pctText(b.Remaining)
	return fmt.Sprintf("  %-7s %s  %s", name, vc.styles.Severity[sev].Render(cell), reset)
}

// resetClock shows a reset time as a clock time today, else with the
// weekday.
func resetClock(now, t time.Time) string {
	if t.Sub(now) < 20*time.Hour {
		return t.Format("15:04")
	}
	return t.Format("Mon 15:04")
}

// forecastLine describes a forecast in words.
func forecastLine(fc quota.Forecast) string {
	switch {
	case !fc.Enough:
		return "forecast: not enough history yet"
	case fc.BurnPerHour <= 0:
		return "forecast: not draining"
	case fc.RunsOutFirst:
		return fmt.Sprintf("forecast: at this pace empty in %s, before the reset in %s (%.0f%%/h)", shortDur(fc.EmptyIn), shortDur(fc.ResetIn), fc.BurnPerHour*100)
	default:
		return fmt.Sprintf("forecast: lasts until the reset in %s (%.0f%%/h, empty in %s)", shortDur(fc.ResetIn), fc.BurnPerHour*100, shortDur(fc.EmptyIn))
	}
}

// historyChart draws rows of blocks over historyWindow with a y label on
// the top and bottom rows and a time axis under them.
func historyChart(vc viewContext, pts []Point, rows int) []string {
	const labelW = 7 // "  100% "
	w := vc.width - labelW - 1
	if w < 8 || rows <= 0 {
		return nil
	}
	if len(pts) == 0 {
		return []string{vc.styles.Dim.Render("  no history yet")}
	}
	vals := sample(pts, vc.now.Add(-historyWindow), vc.now, w)
	body := chartRows(vals, rows)
	out := make([]string, 0, rows+1)
	for r, line := range body {
		label := "       "
		switch r {
		case 0:
			label = "  100% "
		case rows - 1:
			label = "    0% "
		}
		out = append(out, vc.styles.Dim.Render(label+"│")+vc.styles.Accent.Render(line))
	}
	left := fmt.Sprintf("-%dh", int(historyWindow/time.Hour))
	mid := fmt.Sprintf("-%dh", int(historyWindow/time.Hour/2))
	axis := []byte(strings.Repeat(" ", w))
	copy(axis, left)
	copy(axis[max(w/2-len(mid)/2, len(left)+1):], mid)
	copy(axis[w-3:], "now")
	out = append(out, vc.styles.Dim.Render(strings.Repeat(" ", labelW)+"└"+string(axis)))
	return out
}
