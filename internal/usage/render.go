package usage

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/quotatui/quotatui/internal/store"
)

// Count shows a token or request count short: 950, 12.3k, 4.1M, 2.0G.
func Count(n int64) string {
	switch a := max(n, -n); {
	case a < 1000:
		return strconv.FormatInt(n, 10)
	case a < 999_950:
		return strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64) + "k"
	case a < 999_950_000:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + "M"
	default:
		return strconv.FormatFloat(float64(n)/1e9, 'f', 1, 64) + "G"
	}
}

// WriteTable prints the report as aligned columns: the groups and their
// total, then the top conversations. name gives an account's name for the
// conversations (nil: "#id").
func WriteTable(w io.Writer, r Report, name func(int64) string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage since %s, by %s\n", r.Since.Local().Format("2006-01-02 15:04"), r.By)
	if len(r.Groups) == 0 {
		b.WriteString("No requests were served through the proxy in this span.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteByte('\n')
	rows := [][]string{{strings.ToUpper(string(r.By)), "REQUESTS", "ERRORS", "PROMPT", "OUTPUT", "THOUGHTS", "CACHED", "TOTAL"}}
	row := func(key string, f Figures) {
		t := f.Tokens
		rows = append(rows, []string{key, strconv.FormatInt(f.Requests, 10), strconv.FormatInt(f.Errors, 10),
			Count(t.Prompt), Count(t.Candidates), Count(t.Thoughts), Count(t.Cached), Count(t.Total)})
	}
	for _, g := range r.Groups {
		row(g.Key, g.Figures)
	}
	row("total", r.Total)
	writeColumns(&b, rows, 1)
	if len(r.Conversations) > 0 {
		b.WriteString("\nTop conversations by tokens\n")
		rows := [][]string{{"CONVERSATION", "CLIENT", "ACCOUNT", "MODEL", "LAST", "REQUESTS", "ERRORS", "TOTAL"}}
		for _, c := range r.Conversations {
			rows = append(rows, []string{shortSession(c.Session), dash(c.Client), accountName(name, c.AccountID), dash(c.Model),
				c.Last.Local().Format("01-02 15:04"), strconv.FormatInt(c.Requests, 10), strconv.FormatInt(c.Errors, 10), Count(c.Tokens.Total)})
		}
		writeColumns(&b, rows, 5)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Columns lays rows out as columns two spaces apart, the first left
// columns aligned left (names), the others right (figures), one string
// per row without a trailing newline. The dashboard's usage view uses it
// too.
func Columns(rows [][]string, left int) []string {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	out := make([]string, 0, len(rows))
	var b strings.Builder
	for _, r := range rows {
		b.Reset()
		for i, c := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			gap := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			switch {
			case i == len(r)-1 && i < left:
				b.WriteString(c) // no trailing blanks
			case i < left:
				b.WriteString(c + gap)
			default:
				b.WriteString(gap + c)
			}
		}
		out = append(out, b.String())
	}
	return out
}

// writeColumns writes Columns' lines to b.
func writeColumns(b *strings.Builder, rows [][]string, left int) {
	for _, l := range Columns(rows, left) {
		b.WriteString(l)
		b.WriteByte('\n')
	}
}

// shortSession cuts a session key (often a long hash) for the table.
func shortSession(s string) string {
	if r := []rune(s); len(r) > 24 {
		return string(r[:23]) + "…"
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func accountName(name func(int64) string, id int64) string {
	if id == 0 {
		return "-"
	}
	if name != nil {
		if n := name(id); n != "" {
			return n
		}
	}
	return "#" + strconv.FormatInt(id, 10)
}

// The JSON form (stable; the README documents it).
type (
	jsonTokens struct {
		Prompt     int64 `json:"prompt"`
		Candidates int64 `json:"candidates"`
		Thoughts   int64 `json:"thoughts"`
		Cached     int64 `json:"cached"`
		Total      int64 `json:"total"`
	}
	jsonFigures struct {
		Key      string     `json:"key,omitempty"`
		Requests int64      `json:"requests"`
		Errors   int64      `json:"errors"`
		Charged  int64      `json:"charged"`
		Tokens   jsonTokens `json:"tokens"`
	}
	jsonConversation struct {
		Session  string     `json:"session"`
		Client   string     `json:"client"`
		Account  string     `json:"account"`
		Model    string     `json:"model"`
		First    time.Time  `json:"first"`
		Last     time.Time  `json:"last"`
		Requests int64      `json:"requests"`
		Errors   int64      `json:"errors"`
		Tokens   jsonTokens `json:"tokens"`
	}
	jsonReport struct {
		Since         time.Time          `json:"since"`
		Until         time.Time          `json:"until"`
		By            By                 `json:"by"`
		Groups        []jsonFigures      `json:"groups"`
		Total         jsonFigures        `json:"total"`
		Conversations []jsonConversation `json:"conversations"`
	}
)

func tokensJSON(t store.Tokens) jsonTokens {
	return jsonTokens{Prompt: t.Prompt, Candidates: t.Candidates, Thoughts: t.Thoughts, Cached: t.Cached, Total: t.Total}
}

func figuresJSON(key string, f Figures) jsonFigures {
	return jsonFigures{Key: key, Requests: f.Requests, Errors: f.Errors, Charged: f.Charged, Tokens: tokensJSON(f.Tokens)}
}

// WriteJSON prints the report as one indented JSON object.
func WriteJSON(w io.Writer, r Report, name func(int64) string) error {
	out := jsonReport{Since: r.Since.UTC(), Until: r.Until.UTC(), By: r.By, Total: figuresJSON("", r.Total),
		Groups: make([]jsonFigures, 0, len(r.Groups)), Conversations: make([]jsonConversation, 0, len(r.Conversations))}
	for _, g := range r.Groups {
		out.Groups = append(out.Groups, figuresJSON(g.Key, g.Figures))
	}
	for _, c := range r.Conversations {
		acct := ""
		if c.AccountID != 0 {
			acct = accountName(name, c.AccountID)
		}
		out.Conversations = append(out.Conversations, jsonConversation{Session: c.Session, Client: c.Client, Account: acct, Model: c.Model,
			First: c.First.UTC(), Last: c.Last.UTC(), Requests: c.Requests, Errors: c.Errors, Tokens: tokensJSON(c.Tokens)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
