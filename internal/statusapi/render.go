package statusapi

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
)

// Summary counts what `status`'s exit status and its line are made of.
type Summary struct {
	Accounts   int `json:"accounts"`    // every account, disabled ones included
	NeedsLogin int `json:"needs_login"` // a person must log in, verify, or configure its OAuth client
	Forbidden  int `json:"forbidden"`
	SyncErrors int `json:"sync_errors"` // the last sync failed: what is shown is not current, so not usable
	Disabled   int `json:"disabled"`
	Exhausted  int `json:"exhausted"` // accounts with at least one family EXHAUSTED
	// Failed counts accounts whose last sync left an error, whatever
	// their word (a NEEDS LOGIN account's sync fails too).
	Failed int `json:"failed"`
}

// Summarize counts the accounts by their words.
func Summarize(accts []Account) Summary {
	s := Summary{Accounts: len(accts)}
	for i := range accts {
		a := &accts[i]
		switch a.Status {
		case WordNeedsLogin:
			s.NeedsLogin++
		case WordForbidden:
			s.Forbidden++
		case WordSyncError:
			s.SyncErrors++
		case WordDisabled:
			s.Disabled++
		}
		if a.LastError != "" {
			s.Failed++
		}
		for _, f := range a.Families {
			if f.Status == WordExhausted {
				s.Exhausted++
				break
			}
		}
	}
	return s
}

// WriteJSON prints the accounts as `quotatui status --json` does: an
// indented JSON array.
func WriteJSON(w io.Writer, accts []Account) error {
	b, err := appendJSON(make([]byte, 0, 2048*len(accts)+3), accts)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// WriteStatus prints what `quotatui status` prints: the table, then what
// else the user should know (failed syncs, quotatui's own problems, which
// process answered). The instance writes it for TablePath, status itself
// after a sync.
func WriteStatus(w io.Writer, ans *Answer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if len(ans.Accounts) == 0 {
		fmt.Fprintln(bw, "no accounts yet: add one with 'quotatui login' or 'quotatui accounts import FILE'")
	}
	if err := WriteTable(bw, ans.Accounts, ans.At); err != nil {
		return err
	}
	if n := ans.Summary.Failed; n > 0 {
		fmt.Fprintf(bw, "\n%d account(s) failed to sync; see LAST ERROR\n", n)
	}
	for _, p := range ans.Problems {
		fmt.Fprintf(bw, "\nquotatui: %s\n", p)
	}
	if in := ans.Instance; in != nil {
		role := "reads the poller's figures"
		if in.Poller {
			role = "polls the upstream"
		}
		fmt.Fprintf(bw, "\nfrom the running %s (pid %d, %s); synced %s ago at the latest\n", in.Command, in.PID, role, LineOf(ans).Age)
	}
	return bw.Flush()
}

// errWidth bounds the LAST ERROR column, in runes.
const errWidth = 60

// WriteTable prints the accounts as a table, with reset countdowns from
// now; an estimated figure shows as ≈42% (Family.Shown).
func WriteTable(w io.Writer, accts []Account, now time.Time) error {
	rows := make([][]string, 0, len(accts)+1)
	head := []string{"ID", "ACCOUNT", "TIER", "STATE"}
	for _, f := range cloudcode.Families {
		head = append(head, strings.ToUpper(f.String()), "RESET")
	}
	rows = append(rows, append(head, "LAST ERROR"))
	for i := range accts {
		a := &accts[i]
		row := make([]string, 0, len(head)+1)
		row = append(row, strconv.FormatInt(a.ID, 10), a.Label, a.Tier, a.Status)
		for _, fam := range cloudcode.Families {
			f := a.Families[fam.String()]
			shown := f.Shown()
			if f.Bottleneck == string(cloudcode.WindowWeekly) {
				shown += " wk"
			}
			row = append(row, shown, until(f.ResetTime.Time, now))
		}
		errText := a.LastError
		switch {
		case a.ValidationURL != "":
			errText = "verify at " + a.ValidationURL
		case a.QuotaUnreadable != "":
			errText = "quota unreadable: " + a.QuotaUnreadable
		}
		rows = append(rows, append(row, truncate(errText, errWidth)))
	}
	return writeColumns(w, rows)
}

// The table's columns: at least tableMinWidth wide, tablePadding spaces
// after the widest cell, as text/tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
// aligns them.
const (
	tableMinWidth = 2
	tablePadding  = 2
)

// writeColumns prints rows of cells, every row as long as the first,
// aligned in columns; the last cell of a row is not padded. It writes what
// text/tabwriter writes for the cells joined by tabs, line by line, and
// hands them to tabwriter when a cell holds a character tabwriter gives a
// meaning (a tab, a line or page break, its escape byte): an error text
// from the upstream may. A thousand accounts' table takes about half the
// time tabwriter took (docs/BENCHMARKS.md), and half the memory.
func writeColumns(w io.Writer, rows [][]string) error {
	if len(rows) == 0 {
		return nil
	}
	cols := len(rows[0]) - 1
	widths := make([]int, cols)
	for i := range widths {
		widths[i] = tableMinWidth
	}
	size := 0
	for _, row := range rows {
		if len(row) != cols+1 {
			return writeTabwriter(w, rows)
		}
		for j, c := range row {
			cw, ok := cellWidth(c)
			if !ok {
				return writeTabwriter(w, rows)
			}
			size += len(c) + tablePadding
			if j < cols {
				widths[j] = max(widths[j], cw+tablePadding)
			}
		}
	}
	b := make([]byte, 0, size+len(rows)*cols*8)
	for _, row := range rows {
		for j, c := range row {
			b = append(b, c...)
			if j < cols {
				cw, _ := cellWidth(c)
				for range widths[j] - cw {
					b = append(b, ' ')
				}
			}
		}
		b = append(b, '\n')
	}
	_, err := w.Write(b)
	return err
}

// cellWidth returns a cell's width as tabwriter counts it (in runes, an
// invalid byte one), and false when tabwriter would give a character of
// it a meaning of its own.
func cellWidth(c string) (int, bool) {
	ascii := true
	for i := 0; i < len(c); i++ {
		switch b := c[i]; {
		case b == '\t' || b == '\n' || b == '\v' || b == '\f' || b == tabwriter.Escape:
			return 0, false
		case b >= utf8.RuneSelf:
			ascii = false
		}
	}
	if ascii {
		return len(c), true
	}
	return utf8.RuneCountInString(c), true
}

// writeTabwriter prints rows through text/tabwriter, as writeColumns
// would.
func writeTabwriter(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, tableMinWidth, 4, tablePadding, ' ', 0)
	for _, row := range rows {
		io.WriteString(tw, strings.Join(row, "\t"))
		io.WriteString(tw, "\n")
	}
	return tw.Flush()
}

// truncate cuts s to n runes, the last one an ellipsis, never inside a
// UTF-8 character.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// until renders the time from now to t, "-" when t is unknown.
func until(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return clock.Short(t.Sub(now))
}
