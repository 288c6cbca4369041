package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
)

// bindText says what limits a family now, in words: an upstream lock or
// cooldown (with its end and reason, and the figures when they disagree),
// an empty or low window (with its reset), or the effective figure. It is
// the one place the detail and the warnings take this from, so a state is
// never shown next to a figure that seems to contradict it.
func bindText(fq *quota.FamilyQuota, mk quota.Mark, now time.Time) string {
	pct := strings.TrimSpace(pctText(fq.Effective))
	switch mk.Kind {
	case quota.ExhaustedMark, quota.CooldownMark:
		what := "locked by the upstream"
		if mk.Kind == quota.CooldownMark {
			what = "cooling down after an upstream error"
		}
		s := what + " until " + whenText(now, mk.Until)
		if mk.Reason != "" {
			s += ": " + mk.Reason
		}
		if fq.Effective.Known && fq.Decision != quota.Exhausted {
			s += "; its figures say " + pct
		}
		return s
	}
	window := "the window"
	if w := windowName(fq.Bottleneck); w != "" {
		window = "the " + w + " window"
	}
	switch familySeverity(fq, mk) {
	case SevExhausted:
		return window + " is empty; it resets " + whenText(now, fq.ResetTime)
	case SevLow:
		return fmt.Sprintf("%s left in %s; it resets %s", pct, window, whenText(now, fq.ResetTime))
	case SevUnknown:
		return "no figures yet"
	}
	return fmt.Sprintf("effective %s %s", pct, bottleneckName(fq.Bottleneck))
}

// windowName is "5h" or "weekly", "" when unknown.
func windowName(w cloudcode.Window) string {
	switch w {
	case cloudcode.Window5h:
		return "5h"
	case cloudcode.WindowWeekly:
		return "weekly"
	}
	return ""
}

// whenText is "17:05 (in 1h05m)", the weekday added past a day; "an
// unknown time" when t is.
func whenText(now, t time.Time) string {
	if t.IsZero() {
		return "an unknown time"
	}
	return fmt.Sprintf("%s (in %s)", resetClock(now, t), untilText(now, t))
}

// stillBinds is what a "recovered" warning leaves out when the family is
// in fact still unusable (the weekly window, or an upstream lock, outlasts
// the window that recovered): ", but still ✗ EXHAUSTED: ...". It only
// speaks for the newest warning of that account and family; "" otherwise.
func (m *Model) stillBinds(e *quota.Event, newest bool) string {
	if e.Kind != quota.EventRecovered || e.Family == cloudcode.FamilyUnknown || !newest {
		return ""
	}
	s := m.account(e.AccountID)
	if s == nil {
		return ""
	}
	for i, f := range cloudcode.Families {
		if f != e.Family {
			continue
		}
		sev := familySeverity(&s.Families[i], s.Marks[i])
		if sev != SevExhausted && sev != SevCooling {
			return ""
		}
		return fmt.Sprintf(", but still %s %s: %s", sev.Glyph(), sev.Word(), bindText(&s.Families[i], s.Marks[i], m.now))
	}
	return ""
}

// eventLines renders events (newest first) as eventLine does, adding to a
// "recovered" line what still binds when it is the newest of its family.
func (m *Model) eventLines(vc viewContext, evs []quota.Event) []string {
	type fam struct {
		id int64
		f  cloudcode.Family
	}
	seen := map[fam]bool{}
	out := make([]string, len(evs))
	for i := range evs {
		k := fam{evs[i].AccountID, evs[i].Family}
		out[i] = m.cache.event(vc, &evs[i]) + m.stillBinds(&evs[i], !seen[k])
		seen[k] = true
	}
	return out
}
