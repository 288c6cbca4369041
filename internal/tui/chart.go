package tui

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// Point is one history sample of an (account, family)'s effective
// remaining fraction, oldest first. It has the fields of store.Point, the
// type quota.Manager.History returns.
type Point struct {
	At, LastSeen time.Time
	Fraction     float64
	ResetTime    time.Time
}

var sparkRunes = []rune("▁▂▃▄▅▆▇█")

// bar renders f as a w-cell bar of ▓ (left) and ░ (spent).
func bar(f cloudcode.Fraction, w int) string {
	if w <= 0 {
		return ""
	}
	if !f.Known {
		return strings.Repeat(" ", w)
	}
	n := int(math.Round(f.Value * float64(w)))
	if f.Value > 0 && n == 0 {
		n = 1 // a sliver left must not look spent
	}
	if f.Value < 1 && n == w {
		n = w - 1
	}
	return strings.Repeat("▓", n) + strings.Repeat("░", w-n)
}

// pctText renders f as a right-aligned 4-cell percentage; unknown is "  ? "
// (never 0 % or 100 %).
func pctText(f cloudcode.Fraction) string {
	if !f.Known {
		return "  ? "
	}
	return fmt.Sprintf("%4s", f.String())
}

// windowText names the bottleneck window in two cells.
func windowText(w cloudcode.Window) string {
	switch w {
	case cloudcode.Window5h:
		return "5h"
	case cloudcode.WindowWeekly:
		return "wk"
	default:
		return "  "
	}
}

// sample resamples points (oldest first) into n values over [from, to]: the
// value of a column is that of the last point at or before its end; NaN
// before the first point, so no data is drawn as a gap, not as 0 %.
func sample(points []Point, from, to time.Time, n int) []float64 {
	out, _ := sampleFor(points, from, to, n)
	return out
}

// sampleFor is sample, and for how long after to the same samples hold
// when from and to move on together (-1: for ever). A sample is the last
// point at or before its slot's end, so it changes only when that end
// passes the next point.
func sampleFor(points []Point, from, to time.Time, n int) ([]float64, time.Duration) {
	out := make([]float64, n)
	step := to.Sub(from) / time.Duration(max(n, 1))
	j := 0
	cur := math.NaN()
	holds := time.Duration(-1)
	for i := range n {
		end := from.Add(step * time.Duration(i+1))
		for j < len(points) && !points[j].At.After(end) {
			cur = points[j].Fraction
			j++
		}
		out[i] = cur
		if j < len(points) {
			if d := points[j].At.Sub(end); holds < 0 || d < holds {
				holds = d
			}
		}
	}
	return out, holds
}

// sparkline renders values in [0, 1] as one row of block glyphs; NaN is a
// space.
func sparkline(values []float64) string {
	var sb strings.Builder
	sb.Grow(len(values) * 3)
	for _, v := range values {
		if math.IsNaN(v) {
			sb.WriteByte(' ')
			continue
		}
		i := int(math.Round(v * float64(len(sparkRunes)-1)))
		sb.WriteRune(sparkRunes[min(max(i, 0), len(sparkRunes)-1)])
	}
	return sb.String()
}

// chartRows renders values in [0, 1] as rows of block glyphs, top row
// first: each row covers 1/rows of the range, eight steps per cell.
func chartRows(values []float64, rows int) []string {
	out := make([]string, rows)
	var sb strings.Builder
	for r := range rows {
		sb.Reset()
		lo := float64(rows-1-r) / float64(rows) // bottom of this row
		for _, v := range values {
			if math.IsNaN(v) {
				sb.WriteByte(' ')
				continue
			}
			fill := (v - lo) * float64(rows) // 0..1 within this row
			switch {
			case fill >= 1:
				sb.WriteRune('█')
			case fill <= 0:
				if r == rows-1 {
					sb.WriteRune('▁') // keep the baseline visible at 0 %
				} else {
					sb.WriteByte(' ')
				}
			default:
				i := int(math.Round(fill * float64(len(sparkRunes)-1)))
				sb.WriteRune(sparkRunes[min(max(i, 0), len(sparkRunes)-1)])
			}
		}
		out[r] = sb.String()
	}
	return out
}
