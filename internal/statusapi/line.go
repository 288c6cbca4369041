package statusapi

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
)

// Line is what `quotatui status --line` shows, and what a --format
// template sees. Every figure comes from the running instance's answer.
type Line struct {
	Schema string `json:"schema"` // Schema when it came from an instance
	// Running is set when an instance answered; when it is not, Down says
	// why ("not running", "not answering") and nothing else is set.
	Running bool   `json:"running"`
	Down    string `json:"down,omitempty"`
	Command string `json:"command,omitempty"` // the process that answered: "serve" or "dashboard"
	PID     int    `json:"pid,omitempty"`
	Poller  bool   `json:"poller"` // it polls the upstream itself
	// Age is the time since the newest figure was read upstream ("40s",
	// "" when there is none).
	Age string `json:"age,omitempty"`

	Accounts   int      `json:"accounts"`    // every account, disabled ones included
	Usable     int      `json:"usable"`      // accounts usable for at least one family
	Exhausted  int      `json:"exhausted"`   // accounts with a family EXHAUSTED
	NeedsLogin int      `json:"needs_login"` // accounts a person must log in, verify or give an OAuth client
	Forbidden  int      `json:"forbidden"`
	SyncErrors int      `json:"sync_errors"` // accounts whose last sync failed (not usable: their figures are not current)
	Disabled   int      `json:"disabled"`
	Problems   []string `json:"problems,omitempty"` // quotatui's own (its database)

	Families []LineFamily `json:"families"` // in the dashboard's order: gemini, claude-gpt
}

// LineFamily is the pool's standing for one model family.
type LineFamily struct {
	Name   string `json:"name"`   // "gemini", "claude-gpt"
	Letter string `json:"letter"` // "G", "C"
	// Status is OK or LOW (for the best usable account), EXHAUSTED (no
	// account is usable) or UNKNOWN (none has figures).
	Status string `json:"status"`
	Glyph  string `json:"glyph,omitempty"` // "" for OK, "!" LOW, "✗" EXHAUSTED, "?" UNKNOWN
	// Best is the highest effective remaining fraction among the usable
	// accounts (0 when none is usable), Percent the same as the dashboard
	// shows it (floored; 1 for anything above 0).
	Best    float64 `json:"best"`
	Percent int     `json:"percent"`
	Usable  int     `json:"usable"` // accounts usable for the family
	// Estimated is set when Best is an estimate since the last sync (the
	// requests served since counted): Text then starts with ≈.
	Estimated bool `json:"estimated"`
	// Reset, when no account is usable, is the time until the first one
	// is back ("1h20m"; "" when unknown).
	Reset string `json:"reset,omitempty"`
	// Text is the family's part of the default line: "42%", "≈38%"
	// (estimated), "7%!", "✗1h20m", "?".
	Text string `json:"text"`
}

// Family returns the family named name ("gemini") or lettered so ("G"),
// the zero LineFamily when there is none.
func (l Line) Family(name string) LineFamily {
	for _, f := range l.Families {
		if strings.EqualFold(f.Name, name) || f.Letter == name {
			return f
		}
	}
	return LineFamily{}
}

// Summary returns the counts the exit status is made of.
func (l *Line) Summary() Summary {
	return Summary{Accounts: l.Accounts, NeedsLogin: l.NeedsLogin, Forbidden: l.Forbidden, SyncErrors: l.SyncErrors, Disabled: l.Disabled, Exhausted: l.Exhausted}
}

// blocked reports whether an account's word keeps it from every family:
// a person must act, the user turned it off, or its figures are not
// current.
func blocked(word string) bool {
	switch word {
	case WordNeedsLogin, WordForbidden, WordDisabled, WordSyncError:
		return true
	}
	return false
}

// usableFor reports whether family f of an account is usable: OK, LOW or
// only cooling down for seconds, with a figure. A status line refreshes
// every few seconds; a cooldown is gone by the next.
func usableFor(f Family) bool {
	switch f.Status {
	case WordOK, WordLow, WordCooling:
		return f.Effective != nil
	}
	return false
}

// LineOf sums an instance's answer up for the line.
func LineOf(a *Answer) Line {
	s := Summarize(a.Accounts)
	l := Line{
		Schema: Schema, Running: true, Accounts: s.Accounts, Exhausted: s.Exhausted, NeedsLogin: s.NeedsLogin,
		Forbidden: s.Forbidden, SyncErrors: s.SyncErrors, Disabled: s.Disabled, Problems: a.Problems,
	}
	if a.Instance != nil {
		l.Command, l.PID, l.Poller = a.Instance.Command, a.Instance.PID, a.Instance.Poller
	}
	var newest time.Time
	usable := make([]bool, len(a.Accounts))
	for _, fam := range cloudcode.Families {
		name := fam.String()
		lf := LineFamily{Name: name, Letter: strings.ToUpper(name[:1]), Status: WordUnknown}
		var reset time.Time
		someUnknown := false
		for i := range a.Accounts {
			acct := &a.Accounts[i]
			f, ok := acct.Families[name]
			if ok && f.SyncedAt.After(newest) {
				newest = f.SyncedAt.Time
			}
			if !ok || blocked(acct.Status) {
				continue
			}
			switch {
			case usableFor(f):
				usable[i] = true
				lf.Usable++
				if v := *f.Effective; lf.Usable == 1 || v > lf.Best {
					lf.Best, lf.Estimated = v, f.Estimated
					lf.Status = WordOK
					if f.Decision == "LowQuota" {
						lf.Status = WordLow
					}
				}
			case f.Status == WordExhausted:
				back := f.ResetTime.Time
				if f.Mark == "exhausted" && f.MarkUntil.After(back) {
					back = f.MarkUntil.Time
				}
				if !back.IsZero() && (reset.IsZero() || back.Before(reset)) {
					reset = back
				}
			default:
				someUnknown = true
			}
		}
		if lf.Usable == 0 && !someUnknown && s.Accounts > 0 {
			lf.Status = WordExhausted
			if !reset.IsZero() {
				lf.Reset = clock.Short(reset.Sub(a.At))
			}
		}
		lf.Glyph = Glyph(lf.Status)
		pct := cloudcode.KnownFraction(lf.Best).String()
		lf.Percent, _ = strconv.Atoi(strings.TrimSuffix(pct, "%"))
		if lf.Estimated && lf.Usable > 0 {
			pct = EstimateMark + pct
		}
		switch lf.Status {
		case WordOK:
			lf.Glyph, lf.Text = "", pct
		case WordLow:
			lf.Text = pct + lf.Glyph
		case WordExhausted:
			lf.Text = lf.Glyph + lf.Reset
		default:
			lf.Text = lf.Glyph
		}
		l.Families = append(l.Families, lf)
	}
	for _, u := range usable {
		if u {
			l.Usable++
		}
	}
	if !newest.IsZero() {
		l.Age = clock.Short(a.At.Sub(newest))
	}
	return l
}

// DefaultFormat is the line `status --line` prints without --format: each
// family's letter and text, then how many accounts need a person (⚿, ⊘)
// or fail to sync (×).
const DefaultFormat = `{{if not .Running}}quotatui: {{.Down}}` +
	`{{else if not .Accounts}}quotatui: no accounts` +
	`{{else}}{{range $i, $f := .Families}}{{if $i}} {{end}}{{$f.Letter}} {{style $f.Status $f.Text}}{{end}}` +
	`{{if .NeedsLogin}} {{style "NEEDS LOGIN" (printf "%d⚿" .NeedsLogin)}}{{end}}` +
	`{{if .Forbidden}} {{style "FORBIDDEN" (printf "%d⊘" .Forbidden)}}{{end}}` +
	`{{if .SyncErrors}} {{style "SYNC ERROR" (printf "%d×" .SyncErrors)}}{{end}}{{end}}`

// tmuxStyles are the tmux styles of the words, after the dashboard's
// colours (ANSI palette names, so they follow the theme); OK and DISABLED
// stay plain so a healthy pool does not shout.
var tmuxStyles = map[string]string{
	WordUnknown: "fg=brightblack", WordLow: "fg=yellow", WordCooling: "fg=magenta", WordExhausted: "fg=red,bold",
	WordSyncError: "fg=brightred", WordForbidden: "fg=red", WordNeedsLogin: "fg=brightyellow",
}

// LineOptions say how a line is printed.
type LineOptions struct {
	// Format is a text/template over Line; "" is DefaultFormat.
	Format string
	// Tmux colours what `style` wraps with tmux's #[fg=...] styles, unless
	// NoColor.
	Tmux, NoColor bool
}

// FormatError is a --format template that does not parse or run.
type FormatError struct{ Err error }

// Error says what is wrong with the template.
func (e *FormatError) Error() string { return "--format: " + e.Err.Error() }

// Unwrap returns the template's error.
func (e *FormatError) Unwrap() error { return e.Err }

// ParseFormat parses a line template with the functions lines have:
// `style WORD TEXT` wraps TEXT in the word's colour when colour is on.
func ParseFormat(o LineOptions) (*template.Template, error) {
	format := o.Format
	if format == "" {
		format = DefaultFormat
	}
	colour := o.Tmux && !o.NoColor
	t, err := template.New("line").Option("missingkey=error").Funcs(template.FuncMap{
		"style": func(word, text string) string {
			if st := tmuxStyles[word]; colour && st != "" && text != "" {
				return "#[" + st + "]" + text + "#[default]"
			}
			return text
		},
	}).Parse(format)
	if err != nil {
		return nil, &FormatError{err}
	}
	return t, nil
}

// WriteLine prints l through t and a newline; nothing when the template
// fails.
func WriteLine(w io.Writer, t *template.Template, l Line) error {
	var b bytes.Buffer
	if err := t.Execute(&b, l); err != nil {
		return &FormatError{err}
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	if err != nil {
		return fmt.Errorf("write the line: %w", err)
	}
	return nil
}
