package tui

import (
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
)

// Severity is the one judgement of how an account (or one of its model
// families) is doing. It decides the word, the glyph, the colour and the
// "worst first" order, so they can never disagree.
type Severity uint8

// The severities, from best to worst for sorting; Unknown sorts between
// the usable and the unusable ones because missing data is a worry, not a
// failure.
const (
	SevOK Severity = iota
	SevUnknown
	SevLow
	SevCooling
	SevExhausted
	SevSyncError
	SevDisabled
	SevForbidden
	SevNeedsLogin
)

// severityNames holds each severity's word, its abbreviation for the
// compact view and its one-cell glyph, in the order of the constants.
var severityNames = [...]struct{ word, short, glyph string }{
	SevOK:         {"OK", "OK", "✓"},
	SevUnknown:    {"UNKNOWN", "?", "?"},
	SevLow:        {"LOW", "LOW", "!"},
	SevCooling:    {"COOLING", "COOL", "◷"},
	SevExhausted:  {"EXHAUSTED", "EXH", "✗"},
	SevSyncError:  {"SYNC ERROR", "ERR", "×"},
	SevDisabled:   {"DISABLED", "OFF", "–"},
	SevForbidden:  {"FORBIDDEN", "FORB", "⊘"},
	SevNeedsLogin: {"NEEDS LOGIN", "LOGIN", "⚿"},
}

// Word returns the severity's upper-case label, shown next to its glyph so
// colour is never the only signal.
func (s Severity) Word() string { return severityNames[s].word }

// Short returns an abbreviation of Word for the compact view.
func (s Severity) Short() string { return severityNames[s].short }

// Glyph returns the one-cell symbol of the severity.
func (s Severity) Glyph() string { return severityNames[s].glyph }

// SeverityOf is the severity the dashboard shows for an account; other
// views (quotatui status) use it so the words never disagree.
func SeverityOf(s *quota.Status) Severity { return severity(s) }

// FamilySeverityOf is the severity of one of an account's families.
func FamilySeverityOf(fq *quota.FamilyQuota, mk quota.Mark) Severity { return familySeverity(fq, mk) }

// rank orders severities for "worst first": what needs a human, then
// what is spent, then what is low; a disabled account was turned off on
// purpose and sorts last.
func (s Severity) rank() int {
	if s == SevDisabled {
		return -1
	}
	return int(s)
}

// severity computes an account's severity: its state first (a human must
// act), then a failed last sync (what is shown is not current), then marks
// set by the proxy, then the worst family decision.
func severity(s *quota.Status) Severity {
	switch s.State {
	case quota.StateNeedsLogin, quota.StateValidationRequired, quota.StateNeedsClient, quota.StateClientMismatch:
		return SevNeedsLogin // a person must act; the detail view says what
	case quota.StateForbidden:
		return SevForbidden
	case quota.StateDisabled:
		return SevDisabled
	}
	if s.LastError != "" {
		return SevSyncError
	}
	worst := SevOK
	known := false
	for i := range cloudcode.Families {
		fs := familySeverity(&s.Families[i], s.Marks[i])
		if fs != SevUnknown {
			known = true
			worst = max(worst, fs)
		}
	}
	if !known {
		return SevUnknown
	}
	return worst
}

// familySeverity judges one family of an account: a mark outranks the
// decision because it comes from a real upstream error.
func familySeverity(fq *quota.FamilyQuota, mk quota.Mark) Severity {
	switch mk.Kind {
	case quota.ExhaustedMark:
		return SevExhausted
	case quota.CooldownMark:
		return SevCooling
	}
	// The engine decided with the user's thresholds (and coarse steps);
	// deciding again here with the defaults would disagree with it.
	switch fq.Decision {
	case quota.Proceed:
		return SevOK
	case quota.LowQuota:
		return SevLow
	case quota.Exhausted:
		return SevExhausted
	}
	return SevUnknown
}

// Styles is every style the dashboard uses, built once. Colours are ANSI
// palette indexes 0–15 so the dashboard follows the terminal's theme; with
// NoColor every style is plain and no escape code is emitted.
type Styles struct {
	Title    lipgloss.Style // product name and panel titles
	Header   lipgloss.Style // the table's column names
	Dim      lipgloss.Style // secondary text
	Selected lipgloss.Style // the selected account's name
	Key      lipgloss.Style // keys in the help
	Error    lipgloss.Style // failed actions and errors
	Good     lipgloss.Style // finished actions, RUNNING
	Warn     lipgloss.Style // PAUSED, forecasts that run out
	Bad      lipgloss.Style // nothing to route to
	Accent   lipgloss.Style // spinner, sparklines, focus

	Severity [SevNeedsLogin + 1]lipgloss.Style       // indexed by Severity
	Tier     [cloudcode.TierUltra + 1]lipgloss.Style // indexed by cloudcode.Tier
}

// NewStyles builds the Styles; noColor turns every attribute off.
func NewStyles(noColor bool) Styles {
	var st Styles
	if noColor {
		plain := lipgloss.NewStyle()
		st.Title, st.Header, st.Dim, st.Selected, st.Key = plain, plain, plain, plain, plain
		st.Error, st.Good, st.Warn, st.Bad, st.Accent = plain, plain, plain, plain, plain
		for i := range st.Severity {
			st.Severity[i] = plain
		}
		for i := range st.Tier {
			st.Tier[i] = plain
		}
		return st
	}
	// BasicColor emits the 16-colour SGR codes, which every terminal maps
	// through its own palette.
	col := func(n int) lipgloss.Style { return lipgloss.NewStyle().Foreground(ansi.BasicColor(n)) }
	st.Title = lipgloss.NewStyle().Bold(true)
	st.Header = lipgloss.NewStyle().Bold(true).Underline(true)
	st.Dim = col(8)
	st.Selected = lipgloss.NewStyle().Reverse(true)
	st.Key = col(6).Bold(true)
	st.Error = col(9)
	st.Good = col(2)
	st.Warn = col(3)
	st.Bad = col(1)
	st.Accent = col(4)
	st.Severity = [...]lipgloss.Style{
		SevOK:         st.Good,
		SevUnknown:    st.Dim,
		SevLow:        st.Warn,
		SevCooling:    col(5),
		SevExhausted:  st.Bad.Bold(true),
		SevSyncError:  st.Error,
		SevDisabled:   st.Dim,
		SevForbidden:  st.Bad,
		SevNeedsLogin: col(11),
	}
	st.Tier = [...]lipgloss.Style{
		cloudcode.TierUnknown: st.Dim,
		cloudcode.TierFree:    col(7),
		cloudcode.TierPro:     col(12),
		cloudcode.TierUltra:   col(13).Bold(true),
	}
	return st
}
