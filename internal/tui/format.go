package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/quotatui/quotatui/internal/clock"
)

// fit truncates s (which may hold escape codes) to w cells with "…" and
// pads it with spaces to exactly w cells.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		return ansi.Truncate(s, w, "…")
	}
	return s + strings.Repeat(" ", w-sw)
}

// clip truncates s to at most w cells without padding.
func clip(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) > w {
		return ansi.Truncate(s, w, "…")
	}
	return s
}

// fitRight right-aligns s in w cells.
func fitRight(s string, w int) string {
	sw := ansi.StringWidth(s)
	if sw >= w {
		return clip(s, w)
	}
	return strings.Repeat(" ", w-sw) + s
}

// shortDur renders a countdown in at most two units (clock.Short).
func shortDur(d time.Duration) string { return clock.Short(d) }

// untilText renders the time from now to t, "–" when t is unknown.
func untilText(now, t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return shortDur(t.Sub(now))
}

// plural renders "1 error", "2 errors".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// clockText renders a wall-clock time as HH:MM:SS, "–" when unknown.
func clockText(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.Format("15:04:05")
}

// joinColumns lays blocks of lines side by side, each padded to its width,
// separated by gap.
func joinColumns(gap string, widths []int, blocks ...[]string) []string {
	h := 0
	for _, b := range blocks {
		h = max(h, len(b))
	}
	out := make([]string, h)
	var sb strings.Builder
	for i := range h {
		sb.Reset()
		for j, b := range blocks {
			if j > 0 {
				sb.WriteString(gap)
			}
			line := ""
			if i < len(b) {
				line = b[i]
			}
			if j == len(blocks)-1 {
				sb.WriteString(clip(line, widths[j]))
			} else {
				sb.WriteString(fit(line, widths[j]))
			}
		}
		out[i] = strings.TrimRight(sb.String(), " ")
	}
	return out
}
