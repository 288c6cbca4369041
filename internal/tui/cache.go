package tui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/quotatui/quotatui/internal/quota"
)

// The render cache: the idle dashboard draws a frame a second (the clock
// and the countdowns move), but almost nothing on it changed. Styling a
// table row with Lip Gloss and measuring lines by grapheme cost two thirds
// of such a frame at 1000 accounts (BenchmarkIdleTick1000); with this
// cache a frame restyles only the rows whose data, countdown text or
// sparkline changed.
//
// Entries are keyed by everything their text depends on, so nothing is
// ever invalidated by hand. A row's head (up to the countdown) by its
// snapshot (a new generation each time setAccounts takes one, so a model
// copy still holding the old snapshot never sees the new rows), its
// place, the cursor and the width; its tail (sparkline and forecast) also
// by its history (histories are replaced, never changed) and by the
// sparkline's text, which moves with the clock: it is re-sampled only
// when one of its slots passes a point (sparkMemo). The countdown between them changes every second for an account
// resetting within the hour and is drawn every frame. The key hints by
// their bindings and the width; a warning's line by the event. A row that fits the width is not measured
// again to be clipped. The cache keeps what the last two frames used and
// drops the rest, so it never holds more than two screens of text.
//
// Bubble Tea itself skips writing a frame equal to the last one (its
// renderer compares the view before diffing cells), so a message that
// changes nothing costs a lookup per line and no terminal output.

// renderCache is shared by the copies of one Model (Bubble Tea renders on
// one goroutine); a nil cache renders everything afresh.
type renderCache struct {
	gen uint64 // the last snapshot generation handed out

	rows    twoFrames[rowKey, drawn]
	lines   twoFrames[lineKey, string] // clipped lines
	footers twoFrames[lineKey, string] // by the hints' key (footerKey)
	events  twoFrames[eventKey, string]
	sparks  twoFrames[sparkKey, sparkMemo]
}

// twoFrames is a map that keeps what the current frame and the one
// before it used: what a frame needs again is found, what no recent frame
// used is dropped at endFrame.
type twoFrames[K comparable, V any] struct{ cur, prev map[K]V }

// verifyRenderCache makes every cache hit draw afresh too and panic when
// the two differ: the package's tests turn it on (cache_test.go), so that
// any test whose model changes something a key leaves out fails, not
// only the cache's own. It is a test hook, never set outside tests.
var verifyRenderCache = false

// get returns the value for k, made by draw when no recent frame had it.
func (t *twoFrames[K, V]) get(k K, draw func() V) V {
	v, ok := t.cur[k]
	if !ok {
		v, ok = t.prev[k]
		if !ok {
			v = draw()
		}
		t.put(k, v)
	}
	if ok && verifyRenderCache {
		if fresh := draw(); any(fresh) != any(v) {
			panic(fmt.Sprintf("tui: render cache: stale entry for %+v:\n%v\ndrawn afresh:\n%v", k, v, fresh))
		}
	}
	return v
}

func (t *twoFrames[K, V]) put(k K, v V) {
	if t.cur == nil {
		t.cur = map[K]V{}
	}
	t.cur[k] = v
}

// endFrame makes the current frame the previous one.
func (t *twoFrames[K, V]) endFrame() {
	t.prev, t.cur = t.cur, t.prev
	clear(t.cur)
}

// len is how many entries the two frames hold.
func (t *twoFrames[K, V]) len() int { return len(t.cur) + len(t.prev) }

// eventKey is what a warning's line depends on: the event (events are
// kept in slices that are replaced, never changed) and the styles.
type eventKey struct {
	e      *quota.Event
	styles *Styles
}

// sparkKey is what a row's sparkline depends on besides the clock: its
// history (replaced, never changed) and the family drawn.
type sparkKey struct {
	h *accountHistory
	f int // index into h.points
}

// sparkMemo is a sparkline and the clock times it holds for: from at
// until just before until (zero: for ever). Its slots move with the clock
// but its samples only change when a slot's end passes a point, so at
// 1000 accounts re-sampling every visible row each second was an eighth of
// the idle frame.
type sparkMemo struct {
	text      string
	at, until time.Time
}

// drawn is a rendered part of a row and its width in cells.
type drawn struct {
	text  string
	width int
}

// rowKey is what a table row's text depends on.
type rowKey struct {
	snap   uint64 // the accounts snapshot (Model.snap)
	index  int    // into that snapshot's accounts
	sel    bool
	width  int
	styles *Styles
	tail   bool // the part after the countdown (sparkline, forecast)
	hist   *accountHistory
	spark  string // the sparkline, as shown
}

type lineKey struct {
	line  string
	width int
}

func newRenderCache() *renderCache { return &renderCache{} }

// snapshot returns a new generation for a new accounts snapshot.
func (c *renderCache) snapshot() uint64 {
	if c == nil {
		return 0
	}
	c.gen++
	return c.gen
}

// row returns the part of a row for k, drawing it with draw when no
// recent frame did.
func (c *renderCache) row(k rowKey, draw func() string) drawn {
	if c == nil {
		return drawn{text: draw(), width: -1}
	}
	return c.rows.get(k, func() drawn {
		s := draw()
		return drawn{text: s, width: ansi.StringWidth(s)}
	})
}

// fits records that line is within width w, so that clip need not
// measure it.
func (c *renderCache) fits(line string, w int) {
	if c != nil {
		c.lines.put(lineKey{line, w}, line)
	}
}

// footer is footer(vc, hints), remembered.
func (c *renderCache) footer(vc viewContext, hints []hint) string {
	if c == nil {
		return footer(vc, hints)
	}
	return c.footers.get(lineKey{footerKey(vc, hints), vc.width}, func() string { return footer(vc, hints) })
}

// event is eventLine(vc, e), remembered.
func (c *renderCache) event(vc viewContext, e *quota.Event) string {
	if c == nil {
		return eventLine(vc, e)
	}
	return c.events.get(eventKey{e, vc.styles}, func() string { return eventLine(vc, e) })
}

// footerKey is what footer's text depends on besides the width.
func footerKey(vc viewContext, hints []hint) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%p", vc.styles)
	for _, h := range hints {
		help := h.b.Help()
		sb.WriteString("\x00" + help.Key + "\x00" + help.Desc + "\x00" + h.desc + "\x00" + strconv.Itoa(h.keep))
	}
	return sb.String()
}

// clip is clip(s, w), remembered.
func (c *renderCache) clip(s string, w int) string {
	if c == nil {
		return clip(s, w)
	}
	return c.lines.get(lineKey{s, w}, func() string { return clip(s, w) })
}

// spark is the sparkline of pts (h's points of family f) at now.
func (c *renderCache) spark(h *accountHistory, f int, pts []Point, now time.Time) string {
	draw := func() sparkMemo {
		vals, holds := sampleFor(pts, now.Add(-historyWindow), now, sparkW)
		v := sparkMemo{text: sparkline(vals), at: now}
		if holds >= 0 {
			v.until = now.Add(holds)
		}
		return v
	}
	if c == nil {
		return draw().text
	}
	k := sparkKey{h, f}
	v, ok := c.sparks.cur[k]
	if !ok {
		v, ok = c.sparks.prev[k]
	}
	if !ok || now.Before(v.at) || !v.until.IsZero() && !now.Before(v.until) {
		v, ok = draw(), false
	}
	c.sparks.put(k, v)
	if ok && verifyRenderCache {
		if fresh := draw(); fresh.text != v.text {
			panic(fmt.Sprintf("tui: render cache: stale sparkline for %+v at %v (drawn at %v): %q, afresh %q", k, now, v.at, v.text, fresh.text))
		}
	}
	return v.text
}

// endFrame forgets what neither this frame nor the one before used.
func (c *renderCache) endFrame() {
	if c == nil {
		return
	}
	c.rows.endFrame()
	c.lines.endFrame()
	c.footers.endFrame()
	c.events.endFrame()
	c.sparks.endFrame()
}

// cachedRow is the table row of the account at index i of the snapshot:
// its head and tail from the cache when their data is as drawn before,
// the countdown between them drawn afresh.
func (m Model) cachedRow(vc viewContext, i int, l tableLayout, sel bool) string {
	s := &m.accounts[i]
	k := rowKey{snap: m.snap, index: i, sel: sel, width: vc.width, styles: vc.styles}
	reset := resetCell(vc, s)
	var head, tail drawn
	if l.compact {
		head = m.cache.row(k, func() string { return compactHead(vc, s, l, sel) })
	} else {
		head = m.cache.row(k, func() string { return fullHead(vc, s, l, sel) })
		h := m.history[s.AccountID]
		spark := ""
		if l.spark {
			spark = m.sparkFor(vc, s, h)
		}
		tk := rowKey{snap: m.snap, index: i, width: vc.width, styles: vc.styles, tail: true, hist: h, spark: spark}
		tail = m.cache.row(tk, func() string { return fullTail(vc, s, l, h, spark) })
	}
	row := head.text + reset + tail.text
	// The countdown is plain text of fixed width: no need to measure it
	// by grapheme.
	if head.width >= 0 && tail.width >= 0 && head.width+len(reset)+tail.width <= vc.width && isASCII(reset) {
		m.cache.fits(row, vc.width)
	}
	return row
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
