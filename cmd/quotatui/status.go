package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cmdline"
	"github.com/quotatui/quotatui/internal/quota"
	"github.com/quotatui/quotatui/internal/tui"
)

// Exit statuses of `quotatui status`, for scripts and status bars. When
// several apply, the highest wins.
const (
	exitOK         = 0 // every account is usable for every family it reports
	exitExhausted  = 3 // at least one account is exhausted for some family
	exitNeedsHuman = 4 // at least one account needs a login, a verification, or is forbidden
	exitBoth       = 5 // both of the above
	exitSyncFailed = 6 // at least one account's sync failed: what status shows for it is not current
)

func statusCommand(c *cli) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "sync every account once and print its state and remaining quota",
		Long: "Exit status: 0 every account is usable; 1 quotatui failed; 2 usage error; 3 an account is\n" +
			"exhausted for some model family; 4 an account needs a login, a verification or is\n" +
			"forbidden; 5 both 3 and 4; 6 an account failed to sync (network, upstream error or timeout),\n" +
			"so what is shown for it is not current. When several apply, the highest wins.",
		Args: cmdline.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runStatus(cmd.Context(), c, asJSON) },
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func runStatus(ctx context.Context, c *cli, asJSON bool) error {
	cfg, _, err := loadConfig(c)
	if err != nil {
		return err
	}
	s, err := openStack(ctx, cfg, discardLogger(), stackOptions{})
	if err != nil {
		return err
	}
	defer s.Close()
	// When a dashboard or serve polls this database, read its figures
	// instead of polling every account a second time.
	res := s.quota.RefreshAll(ctx)
	all := s.quota.GetAllQuotas()
	if asJSON {
		if err := writeStatusJSON(c.stdout, all, s.clock.Now()); err != nil {
			return err
		}
	} else {
		if len(all) == 0 {
			fmt.Fprintln(c.stdout, "no accounts yet: add one with 'quotatui login' or 'quotatui accounts import FILE'")
		}
		ids := make([]int64, len(all))
		for i, st := range all {
			ids[i] = st.AccountID
		}
		printStatusTable(c.stdout, s, ids)
		if n := len(res.Errors); n > 0 {
			fmt.Fprintf(c.stdout, "\n%d account(s) failed to sync; see LAST ERROR\n", n)
		}
		for _, p := range s.quota.Health().Problems {
			fmt.Fprintf(c.stdout, "\nquotatui: %s\n", p)
		}
	}
	if code := statusExit(all); code != exitOK {
		return &cmdline.ExitError{Code: code}
	}
	return nil
}

func statusExit(all []quota.Status) int {
	exhausted, human, failed := false, false, false
	for _, st := range all {
		switch tui.SeverityOf(&st) {
		case tui.SevNeedsLogin, tui.SevForbidden:
			human = true
		case tui.SevSyncError:
			failed = true
		}
		for i := range st.Families {
			if tui.FamilySeverityOf(&st.Families[i], st.Marks[i]) == tui.SevExhausted {
				exhausted = true
			}
		}
	}
	switch {
	case failed:
		return exitSyncFailed
	case exhausted && human:
		return exitBoth
	case human:
		return exitNeedsHuman
	case exhausted:
		return exitExhausted
	}
	return exitOK
}

// stateWord is the state column: the dashboard's word for the account.
func stateWord(st quota.Status) string { return tui.SeverityOf(&st).Word() }

func untilText(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return clock.Short(t.Sub(now))
}

func printStatusTable(w io.Writer, s *stack, ids []int64) {
	now := s.clock.Now()
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprint(tw, "ID\tACCOUNT\tTIER\tSTATE")
	for _, f := range cloudcode.Families {
		fmt.Fprintf(tw, "\t%s\tRESET", strings.ToUpper(f.String()))
	}
	fmt.Fprintln(tw, "\tLAST ERROR")
	for _, id := range ids {
		st, ok := s.quota.Account(id)
		if !ok {
			continue
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s", st.AccountID, st.Label, st.Tier, stateWord(st))
		for _, fq := range st.Families {
			win := ""
			if fq.Bottleneck == cloudcode.WindowWeekly {
				win = " wk"
			}
			fmt.Fprintf(tw, "\t%s%s\t%s", fq.Effective.String(), win, untilText(fq.ResetTime, now))
		}
		errText := st.LastError
		switch {
		case st.ValidationURL != "":
			errText = "verify at " + st.ValidationURL
		case st.Unreadable != "":
			errText = "quota unreadable: " + st.Unreadable
		}
		if len(errText) > 60 {
			errText = errText[:59] + "…"
		}
		fmt.Fprintf(tw, "\t%s\n", errText)
	}
	tw.Flush()
}

type statusFamilyJSON struct {
	Effective  *float64 `json:"effective"` // null when unknown
	FiveHour   *float64 `json:"five_hour"`
	Weekly     *float64 `json:"weekly"`
	Bottleneck string   `json:"bottleneck,omitempty"`
	ResetTime  string   `json:"reset_time,omitempty"`
	Decision   string   `json:"decision"`
	Mark       string   `json:"mark,omitempty"`
	MarkUntil  string   `json:"mark_until,omitempty"`
}

type statusJSON struct {
	ID            int64  `json:"id"`
	Email         string `json:"email"`
	Label         string `json:"label"`
	Tier          string `json:"tier"`
	TierID        string `json:"tier_id,omitempty"`
	Project       string `json:"project,omitempty"`
	State         string `json:"state"`
	Status        string `json:"status"`
	StateReason   string `json:"state_reason,omitempty"`
	ValidationURL string `json:"validation_url,omitempty"`
	LastSync      string `json:"last_sync,omitempty"`
	LastError     string `json:"last_error,omitempty"`
	// QuotaUnreadable says why the quota cannot be read ("" when it can);
	// the account stays routable meanwhile.
	QuotaUnreadable      string                      `json:"quota_unreadable,omitempty"`
	QuotaUnreadableCause string                      `json:"quota_unreadable_cause,omitempty"`
	QuotaUnreadableUntil string                      `json:"quota_unreadable_until,omitempty"`
	Families             map[string]statusFamilyJSON `json:"families"`
}

func fractionPtr(f cloudcode.Fraction) *float64 {
	if !f.Known {
		return nil
	}
	v := f.Value
	return &v
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func writeStatusJSON(w io.Writer, all []quota.Status, now time.Time) error {
	out := make([]statusJSON, 0, len(all))
	for _, st := range all {
		sj := statusJSON{
			ID: st.AccountID, Email: st.Email, Label: st.Label, Tier: st.Tier.String(), TierID: st.TierID,
			Project: st.ProjectID, State: string(st.State), Status: stateWord(st), StateReason: st.StateReason,
			ValidationURL: st.ValidationURL, LastSync: timeText(st.LastSync), LastError: st.LastError,
			QuotaUnreadable: st.Unreadable, QuotaUnreadableCause: st.UnreadableCause, QuotaUnreadableUntil: timeText(st.UnreadableUntil),
			Families: map[string]statusFamilyJSON{},
		}
		for i, fq := range st.Families {
			fj := statusFamilyJSON{
				Effective: fractionPtr(fq.Effective), FiveHour: fractionPtr(fq.FiveHour.Remaining), Weekly: fractionPtr(fq.Weekly.Remaining),
				Bottleneck: string(fq.Bottleneck), ResetTime: timeText(fq.ResetTime), Decision: fq.Decision.String(),
			}
			if m := st.Marks[i]; m.Kind != quota.NoMark && m.Until.After(now) {
				fj.Mark = map[quota.MarkKind]string{quota.CooldownMark: "cooldown", quota.ExhaustedMark: "exhausted"}[m.Kind]
				fj.MarkUntil = timeText(m.Until)
			}
			sj.Families[cloudcode.Families[i].String()] = fj
		}
		out = append(out, sj)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
