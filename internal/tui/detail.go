package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
)

// detailContent is the selected account's detail for a body of h lines:
// state, per-family buckets with reset times and models, a history chart,
// the forecast, and recent events, every line wrapped to the width. The
// charts get the lines the rest leaves (one to four rows each); what does
// not fit scrolls.
func (m Model) detailContent(vc viewContext, h int) []string {
	base := m.detailLines(vc, 0)
	rows := min(max((h-len(base))/len(cloudcode.Families)-1, 1), 4)
	return wrapAll(m.detailLines(vc, rows), vc.width)
}

// detailLines is the detail view with charts of chartH rows (none at 0),
// before wrapping.
func (m Model) detailLines(vc viewContext, chartH int) []string {
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
	out = append(out, "routing: "+m.policy.String()+" · this account: "+s.Routing.String())
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
		// The state, then what binds: an upstream lock, an empty or low
		// window, or the effective figure.
		state := fs.Glyph() + " " + fs.Word()
		if bind := bindText(fq, s.Marks[i], vc.now); fs == SevOK || fs == SevUnknown {
			state += " " + bind
		} else {
			state += ": " + bind
		}
		out = append(out, st.Title.Render(f.Title())+"  "+st.Severity[fs].Render(state))
		out = append(out, bucketLine(vc, "5h", fq.FiveHour, barW, fq.Estimated))
		out = append(out, bucketLine(vc, "weekly", fq.Weekly, barW, fq.Estimated))
		if line := estimateLine(fq); line != "" {
			out = append(out, st.Dim.Render(line))
		}
		if line := m.standingLine(f, &s.Routing); line != "" {
			out = append(out, "  "+line)
		}
		if len(fq.Models) > 0 {
			parts := make([]string, 0, len(fq.Models))
			for _, mq := range fq.Models {
				parts = append(parts, mq.ID+" "+strings.TrimSpace(pctText(mq.Remaining)))
			}
			out = append(out, wrapItems(parts, "  models: ", "          ", " · ", w)...)
		}
		if hist != nil {
			out = append(out, "  "+forecastLine(hist.forecasts[i], fq, vc.now))
			if chartH > 0 {
				out = append(out, historyChart(vc, hist.points[i], chartH)...)
			}
		}
	}
	if hist != nil && hist.err != "" {
		out = append(out, st.Error.Render(hist.err))
	}
	out = append(out, m.detailUsageLines(vc, s.AccountID)...)
	out = append(out, "", st.Title.Render("RECENT EVENTS"))
	switch {
	case m.detailErr != "":
		out = append(out, st.Error.Render("events: "+m.detailErr))
	case len(m.detailEvts) == 0:
		out = append(out, st.Dim.Render("none"))
	}
	out = append(out, m.eventLines(vc, m.detailEvts)...)
	return out
}

// standingLine says where the detail's account stands in the proxy's
// ranking for f and why (quota's words), with its reserve when it has
// one; "" until the standings arrive.
func (m Model) standingLine(f cloudcode.Family, r *quota.Routing) string {
	if m.standingsFor != m.detailID {
		return ""
	}
	for _, st := range m.standings {
		if st.Family != f {
			continue
		}
		head := "proxy"
		if r.Reserve > 0 {
			head += " (reserve " + strings.TrimSpace(pctText(cloudcode.KnownFraction(r.Reserve))) + ")"
		}
		head += ": "
		if st.Position > 0 {
			head += fmt.Sprintf("%s of %d · ", ordinal(st.Position), st.Usable)
		}
		return head + st.Why
	}
	return ""
}

// ordinal writes n as "1st", "2nd", "3rd", "4th", "11th", "21st".
func ordinal(n int) string {
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return fmt.Sprintf("%d%s", n, suffix)
}

// bottleneckName says which window limits the effective figure.
func bottleneckName(w cloudcode.Window) string {
	if n := windowName(w); n != "" {
		return "(" + n + " window)"
	}
	return ""
}

// bucketLine renders one bucket with its reset time and countdown.
func bucketLine(vc viewContext, name string, b quota.BucketQuota, barW int, estimated bool) string {
	sev := SevUnknown
	if b.Remaining.Known {
		sev = familySeverity(&quota.FamilyQuota{Effective: b.Remaining}, quota.Mark{})
	}
	reset := "reset unknown"
	if !b.ResetTime.IsZero() {
		reset = fmt.Sprintf("resets %s (in %s)", resetClock(vc.now, b.ResetTime), untilText(vc.now, b.ResetTime))
	}
	pct := pctText(b.Remaining)
	if estimated && b.Remaining.Known {
		pct = fitRight(estimateMark+b.Remaining.String(), 4)
	}
	cell := bar(b.Remaining, barW) + " " + pct
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

// forecastLine describes a forecast in words. A family already empty is
// not forecast: it is empty now, until its window resets.
func forecastLine(fc quota.Forecast, fq *quota.FamilyQuota, now time.Time) string {
	switch {
	case fq.Effective.Known && familySeverity(fq, quota.Mark{}) == SevExhausted:
		window := "its window"
		if w := windowName(fq.Bottleneck); w != "" {
			window = "the " + w + " window"
		}
		return "forecast: empty now; " + window + " resets " + whenText(now, fq.ResetTime)
	case !fc.Enough:
		return "forecast: not enough history yet"
	case fc.BurnPerHour <= 0:
		return "forecast: not draining"
	case fc.RunsOutFirst:
		return fmt.Sprintf("forecast: at this pace empty in %s, before the reset in %s (%.0f%%/h)", shortDur(fc.EmptyIn), shortDur(fc.ResetIn), fc.BurnPerHour*100)
	case fc.EmptyIn <= 0:
		return fmt.Sprintf("forecast: lasts until the reset in %s (%.0f%%/h)", shortDur(fc.ResetIn), fc.BurnPerHour*100)
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
