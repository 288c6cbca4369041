package statusapi

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var at = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

func fptr(v float64) *float64 { return &v }

// fam is a family with a figure (nil: unknown), its word and decision.
func fam(eff *float64, word, decision string) Family {
	return Family{Effective: eff, Status: word, Decision: decision, SyncedAt: Time{at.Add(-40 * time.Second)}}
}

// acct is an account with its word and its two families.
func acct(id int64, word string, gemini, claude Family) Account {
	return Account{ID: id, Label: "a", Status: word, Families: map[string]Family{"gemini": gemini, "claude-gpt": claude}}
}

func answerOf(accts ...Account) *Answer {
	return &Answer{Schema: Schema, At: at, Instance: &Instance{Command: "serve", PID: 4242, Poller: true}, Accounts: accts}
}

// The cases the golden lines show.
var lineCases = []struct {
	name string
	line Line
}{
	{"healthy", LineOf(answerOf(
		acct(1, WordOK, fam(fptr(0.42), WordOK, "Proceed"), fam(fptr(0.07), WordLow, "LowQuota")),
		acct(2, WordLow, fam(fptr(0.30), WordOK, "Proceed"), fam(fptr(0.05), WordLow, "LowQuota")),
	))},
	// The best usable figure, not the best figure: a blocked account's
	// 90 % and a failing one's 80 % are not usable.
	{"trouble", LineOf(answerOf(
		acct(1, WordNeedsLogin, fam(fptr(0.9), WordOK, "Proceed"), fam(fptr(0.9), WordOK, "Proceed")),
		acct(2, WordSyncError, fam(fptr(0.8), WordOK, "Proceed"), fam(fptr(0.8), WordOK, "Proceed")),
		acct(3, WordExhausted, func() Family {
			f := fam(fptr(0), WordExhausted, "Exhausted")
			f.ResetTime = Time{at.Add(80 * time.Minute)}
			return f
		}(), fam(fptr(0.55), WordOK, "Proceed")),
		acct(4, WordExhausted, func() Family {
			// A 429 locks it beyond its reset time: the lock says when.
			f := fam(fptr(0.5), WordExhausted, "Proceed")
			f.ResetTime, f.Mark, f.MarkUntil = Time{at.Add(10 * time.Minute)}, "exhausted", Time{at.Add(3 * time.Hour)}
			return f
		}(), fam(nil, WordUnknown, "Unknown")),
		acct(5, WordForbidden, fam(nil, WordUnknown, "Unknown"), fam(nil, WordUnknown, "Unknown")),
		acct(6, WordDisabled, fam(fptr(1), WordOK, "Proceed"), fam(fptr(1), WordOK, "Proceed")),
	))},
	{"cooling", LineOf(answerOf(
		acct(1, WordCooling, fam(fptr(0.6), WordCooling, "Proceed"), fam(fptr(0.2), WordOK, "Proceed")),
	))},
	{"unknown", LineOf(answerOf(acct(1, WordUnknown, fam(nil, WordUnknown, "Unknown"), fam(nil, WordUnknown, "Unknown"))))},
	{"all-blocked", LineOf(answerOf(acct(1, WordNeedsLogin, fam(fptr(1), WordOK, "Proceed"), fam(fptr(1), WordOK, "Proceed"))))},
	{"no-accounts", LineOf(answerOf())},
	{"not-running", Line{Down: "not running"}},
}

func render(t *testing.T, o LineOptions, l Line) string {
	t.Helper()
	tmpl, err := ParseFormat(o)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteLine(&b, tmpl, l); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestLineGolden(t *testing.T) {
	for _, style := range []struct {
		suffix string
		o      LineOptions
	}{{"", LineOptions{}}, {".tmux", LineOptions{Tmux: true}}} {
		for _, tt := range lineCases {
			t.Run(tt.name+style.suffix, func(t *testing.T) {
				got := render(t, style.o, tt.line)
				file := filepath.Join("testdata", "line", tt.name+style.suffix+".golden")
				if *update {
					if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(file)
				if err != nil {
					t.Fatalf("%v (run with -update to write it)", err)
				}
				if got != string(want) {
					t.Errorf("line:\n got %q\nwant %q", got, want)
				}
				// NO_COLOR wins over --tmux: the plain line.
				if style.o.Tmux {
					if plain := render(t, LineOptions{Tmux: true, NoColor: true}, tt.line); plain != render(t, LineOptions{}, tt.line) {
						t.Errorf("--tmux with NO_COLOR: %q; want the plain line", plain)
					}
				}
			})
		}
	}
}

// What the fields say for the trouble case, beyond the default line.
func TestLineFields(t *testing.T) {
	l := lineCases[1].line
	if l.Accounts != 6 || l.Usable != 1 || l.NeedsLogin != 1 || l.SyncErrors != 1 || l.Forbidden != 1 || l.Disabled != 1 || l.Exhausted != 2 {
		t.Errorf("counts: %+v", l)
	}
	g, c := l.Family("gemini"), l.Family("C")
	if g.Status != WordExhausted || g.Usable != 0 || g.Reset != "1h20m" || g.Percent != 0 {
		t.Errorf("gemini: %+v", g)
	}
	if c.Status != WordOK || c.Usable != 1 || c.Best != 0.55 || c.Percent != 55 {
		t.Errorf("claude-gpt: %+v", c)
	}
	if l.Age != "40s" || l.Command != "serve" || l.PID != 4242 || !l.Poller {
		t.Errorf("instance fields: age %q command %q pid %d poller %v", l.Age, l.Command, l.PID, l.Poller)
	}
}

func TestFormat(t *testing.T) {
	l := lineCases[0].line
	for _, tt := range []struct{ format, want string }{
		{`{{.Command}} {{.PID}} {{(.Family "gemini").Percent}} {{.Usable}}/{{.Accounts}}`, "serve 4242 42 2/2\n"},
		{`{{range .Families}}{{.Letter}}={{.Status}}{{.Glyph}} {{end}}`, "G=OK C=LOW! \n"},
		{`{{if .Running}}up{{else}}{{.Down}}{{end}} {{style "LOW" "x"}}`, "up x\n"},
		{`{{printf "%.2f" (.Family "claude-gpt").Best}}`, "0.07\n"},
	} {
		if got := render(t, LineOptions{Format: tt.format}, l); got != tt.want {
			t.Errorf("%s: %q; want %q", tt.format, got, tt.want)
		}
	}
	if got := render(t, LineOptions{Format: `{{style "LOW" "x"}}{{style "OK" "y"}}`, Tmux: true}, l); got != "#[fg=yellow]x#[default]y\n" {
		t.Errorf("style with --tmux: %q", got)
	}
	var fe *FormatError
	if _, err := ParseFormat(LineOptions{Format: "{{.Usable"}); !errors.As(err, &fe) {
		t.Errorf("a template that does not parse: %v; want a FormatError", err)
	}
	tmpl, err := ParseFormat(LineOptions{Format: "before {{.Nope}}"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteLine(&b, tmpl, l); !errors.As(err, &fe) || b.Len() != 0 {
		t.Errorf("a template that fails: %v, wrote %q; want a FormatError and nothing written", err, b.String())
	}
}
