package statusapi

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

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
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprint(tw, "ID\tACCOUNT\tTIER\tSTATE")
	for _, f := range cloudcode.Families {
		fmt.Fprintf(tw, "\t%s\tRESET", strings.ToUpper(f.String()))
	}
	fmt.Fprintln(tw, "\tLAST ERROR")
	for i := range accts {
		a := &accts[i]
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s", a.ID, a.Label, a.Tier, a.Status)
		for _, fam := range cloudcode.Families {
			f := a.Families[fam.String()]
			win := ""
			if f.Bottleneck == string(cloudcode.WindowWeekly) {
				win = " wk"
			}
			fmt.Fprintf(tw, "\t%s%s\t%s", f.Shown(), win, until(f.ResetTime.Time, now))
		}
		errText := a.LastError
		switch {
		case a.ValidationURL != "":
			errText = "verify at " + a.ValidationURL
		case a.QuotaUnreadable != "":
			errText = "quota unreadable: " + a.QuotaUnreadable
		}
		fmt.Fprintf(tw, "\t%s\n", truncate(errText, errWidth))
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
