package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"text/template"
	"time"

	"github.com/spf13/cobra"

	"github.com/quotatui/quotatui/internal/cmdline"
	"github.com/quotatui/quotatui/internal/config"
	"github.com/quotatui/quotatui/internal/quota"
	"github.com/quotatui/quotatui/internal/statusapi"
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
	exitNotRunning = 7 // --line only: no running quotatui answered, and the line says so
)

// askTimeout bounds the wait for a running quotatui's answer; one answers
// in about a millisecond, so only a stopped (SIGSTOP) or swamped process
// takes this long.
const askTimeout = 2 * time.Second

// statusOptions are status's own flags.
type statusOptions struct {
	json, sync, line, tmux bool
	format                 string
}

func statusCommand(c *cli) *cobra.Command {
	var o statusOptions
	cmd := &cobra.Command{
		Use:   "status",
		Short: "print every account's state and remaining quota",
		Long: "Asks the running dashboard or serve on the same database (no upstream call); when none runs,\n" +
			"syncs every account once. --line prints one short line for tmux or a prompt and never syncs.\n" +
			"Exit status: 0 every account is usable; 1 quotatui failed; 2 usage error; 3 an account is\n" +
			"exhausted for some model family; 4 an account needs a login, a verification or is\n" +
			"forbidden; 5 both 3 and 4; 6 an account failed to sync (network, upstream error or timeout),\n" +
			"so what is shown for it is not current; 7 (--line) no quotatui is running or answering.\n" +
			"When several apply, the highest wins.",
		Args: cmdline.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runStatus(cmd.Context(), c, o) },
	}
	f := cmd.Flags()
	f.BoolVar(&o.json, "json", false, "print JSON")
	f.BoolVar(&o.sync, "sync", false, "sync every account now instead of asking the running quotatui")
	f.BoolVar(&o.line, "line", false, "print one short line for a status bar, from the running quotatui only")
	f.StringVar(&o.format, "format", "", "Go template for the line (implies --line; fields in the README)")
	f.BoolVar(&o.tmux, "tmux", false, "colour the line with tmux styles (implies --line; NO_COLOR turns it off)")
	return cmd
}

func runStatus(ctx context.Context, c *cli, o statusOptions) error {
	if c.process {
		// A one-shot answer allocates a few MiB (a thousand accounts:
		// about 8) and exits: collecting on the way cost a third of the
		// time (docs/BENCHMARKS.md), so the collector waits for 256 MiB.
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(256 << 20)
	}
	o.line = o.line || o.format != "" || o.tmux
	if o.line && o.json {
		return cmdline.Usagef("--json and --line (or --format, --tmux) do not go together")
	}
	var tmpl *template.Template
	if o.line {
		var err error
		if tmpl, err = statusapi.ParseFormat(statusapi.LineOptions{Format: o.format, Tmux: o.tmux, NoColor: c.getenv("NO_COLOR") != ""}); err != nil {
			return cmdline.Usagef("%v", err)
		}
	}
	cfg, _, err := loadConfig(c)
	if err != nil {
		return err
	}
	dir := statusapi.DefaultDir(c.getenv)
	if !o.sync {
		actx, cancel := context.WithTimeout(ctx, askTimeout)
		defer cancel()
		switch {
		case o.line:
			return statusLine(actx, c, tmpl, dir, cfg.DBPath)
		default:
			// The instance writes what is printed and sums up: a thousand
			// accounts are not decoded here and encoded again.
			resource := statusapi.TablePath
			if o.json {
				resource = statusapi.JSONPath
			}
			p, err := statusapi.AskPrinted(actx, dir, cfg.DBPath, resource)
			if err == nil {
				if _, err := c.stdout.Write(p.Text); err != nil {
					return fmt.Errorf("write the status: %w", err)
				}
				return exitFor(p.Summary)
			}
			noteNoAnswer(c, err)
		}
	}
	ans, err := syncedAnswer(ctx, cfg, o.sync)
	if err != nil {
		return err
	}
	switch {
	case o.line:
		if err := statusapi.WriteLine(c.stdout, tmpl, statusapi.LineOf(ans)); err != nil {
			return lineErr(err)
		}
	case o.json:
		if err := statusapi.WriteJSON(c.stdout, ans.Accounts); err != nil {
			return err
		}
	default:
		if err := statusapi.WriteStatus(c.stdout, ans); err != nil {
			return fmt.Errorf("write the status: %w", err)
		}
	}
	return exitFor(ans.Summary)
}

// noteNoAnswer says why status syncs although an instance seems to run.
func noteNoAnswer(c *cli, err error) {
	if !errors.Is(err, statusapi.ErrNotRunning) {
		fmt.Fprintf(c.stderr, "quotatui: the running quotatui did not answer, syncing instead: %v\n", err)
	}
}

// exitFor is the exit status for the summed-up accounts.
func exitFor(sum statusapi.Summary) error {
	if code := statusExit(sum); code != exitOK {
		return &cmdline.ExitError{Code: code}
	}
	return nil
}

// statusLine prints the line of the running instance on db. It never
// syncs: a status bar asks every few seconds, and syncing each time would
// cost seconds and upstream calls, so with nothing running the line says
// so and the exit status is 7.
func statusLine(ctx context.Context, c *cli, tmpl *template.Template, dir, db string) error {
	l, err := statusapi.AskLine(ctx, dir, db)
	code := exitNotRunning
	switch {
	case err == nil:
		code = statusExit(l.Summary())
	case errors.Is(err, statusapi.ErrNotRunning):
		l = &statusapi.Line{Down: "not running"}
	default:
		l = &statusapi.Line{Down: "not answering"}
	}
	if err := statusapi.WriteLine(c.stdout, tmpl, *l); err != nil {
		return lineErr(err)
	}
	if code != exitOK {
		return &cmdline.ExitError{Code: code}
	}
	return nil
}

// lineErr makes a template that fails to run a usage error.
func lineErr(err error) error {
	if fe := (*statusapi.FormatError)(nil); errors.As(err, &fe) {
		return cmdline.Usagef("%v", err)
	}
	return err
}

// syncedAnswer builds the answer in this process: a sync of every account
// with force, else the cheapest refresh (quota.Manager.RefreshAll: the
// figures a poller of another machine or user wrote, when one holds the
// lease).
func syncedAnswer(ctx context.Context, cfg config.Config, force bool) (*statusapi.Answer, error) {
	s, err := openStack(ctx, cfg, discardLogger(), stackOptions{})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if force {
		s.quota.SyncAll(ctx)
	} else {
		s.quota.RefreshAll(ctx)
	}
	return statusapi.Build(s.quota, tuiJudge, nil, s.clock.Now()), nil
}

func statusExit(sum statusapi.Summary) int {
	exhausted, human, failed := sum.Exhausted > 0, sum.NeedsLogin+sum.Forbidden > 0, sum.SyncErrors > 0
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

// tuiJudge names severities with the dashboard's words, so status and the
// dashboard never disagree.
var tuiJudge = statusapi.Judge{
	Account: func(s *quota.Status) string { return tui.SeverityOf(s).Word() },
	Family:  func(f *quota.FamilyQuota, m quota.Mark) string { return tui.FamilySeverityOf(f, m).Word() },
}

// printStatusTable prints the table of the accounts ids (login shows the
// new account with it).
func printStatusTable(w io.Writer, s *stack, ids []int64) {
	var all []quota.Status
	for _, id := range ids {
		if st, ok := s.quota.Account(id); ok {
			all = append(all, st)
		}
	}
	statusapi.WriteTable(w, statusapi.Accounts(all, tuiJudge), s.clock.Now())
}
