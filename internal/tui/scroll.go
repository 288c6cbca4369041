package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// scrollWindow returns at most h lines of content starting at line off.
// When the content does not fit, a line says how many more there are
// above (in place of the first) and below (in place of the last), so
// nothing is ever cut off without a word.
func scrollWindow(vc viewContext, content []string, off, h int) []string {
	if h <= 0 {
		return nil
	}
	if len(content) <= h {
		return content
	}
	off = min(max(off, 0), maxScroll(len(content), h))
	avail := h
	if off > 0 {
		avail--
	}
	if off+avail < len(content) {
		avail--
	}
	avail = max(avail, 0)
	out := make([]string, 0, h)
	if off > 0 {
		out = append(out, vc.styles.Dim.Render(fmt.Sprintf("↑ %d more", off)))
	}
	out = append(out, content[off:off+avail]...)
	if below := len(content) - off - avail; below > 0 {
		out = append(out, vc.styles.Dim.Render(fmt.Sprintf("↓ %d more", below)))
	}
	return out[:min(len(out), h)]
}

// maxScroll is the largest useful offset into n lines shown h at a time:
// the one that shows the last line under the "more above" line.
func maxScroll(n, h int) int {
	if n <= h {
		return 0
	}
	return n - max(h-1, 1)
}

// wrapLine breaks a line wider than w into lines of at most w cells, at
// spaces where it can; the continuation lines are indented two cells past
// the line's own indentation, so wrapped text reads as one item.
func wrapLine(s string, w int) []string {
	if w <= 0 || ansi.StringWidth(s) <= w {
		return []string{s}
	}
	plain := ansi.Strip(s)
	indent := min(len(plain)-len(strings.TrimLeft(plain, " "))+2, w/2)
	pad := strings.Repeat(" ", indent)
	lines := strings.Split(ansi.Wrap(s, w-indent, " "), "\n")
	for i := 1; i < len(lines); i++ {
		lines[i] = pad + strings.TrimLeft(lines[i], " ")
	}
	return lines
}

// wrapAll applies wrapLine to every line.
func wrapAll(lines []string, w int) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		out = append(out, wrapLine(l, w)...)
	}
	return out
}
