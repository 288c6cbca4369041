package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/quotatui/quotatui/internal/auth"
	"github.com/quotatui/quotatui/internal/cmdline"
)

// loginOptions are login's own flags.
type loginOptions struct {
	noBrowser bool
	label     string
	timeout   time.Duration
}

func loginCommand(c *cli) *cobra.Command {
	var o loginOptions
	cmd := &cobra.Command{
		Use:   "login",
		Short: "add a Google account through the browser (OAuth)",
		Long: "Opens Google's sign-in page in the browser and stores the account; logging in an account\n" +
			"that exists updates its tokens. With --no-browser, open the printed URL anywhere and paste\n" +
			"the address the browser was redirected to (or the code) back here.",
		Args: cmdline.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runLogin(cmd.Context(), c, o) },
	}
	f := cmd.Flags()
	f.BoolVar(&o.noBrowser, "no-browser", false, "only print the sign-in URL (paste the redirected URL or the code back here)")
	f.StringVar(&o.label, "label", "", "label for the account (default: its email)")
	f.DurationVar(&o.timeout, "timeout", auth.DefaultLoginTimeout, "how long to wait for the sign-in")
	return cmd
}

func runLogin(ctx context.Context, c *cli, o loginOptions) error {
	cfg, _, err := loadConfig(c)
	if err != nil {
		return err
	}
	oauth := oauthConfig(cfg)
	if err := oauth.Check(); err != nil {
		return err
	}
	s, err := openStack(ctx, cfg, discardLogger(), stackOptions{})
	if err != nil {
		return err
	}
	defer s.Close()
	acct, err := auth.Login(ctx, auth.LoginOptions{
		Config:      oauth,
		Store:       s.store,
		CodeAssist:  s.client,
		Label:       o.label,
		Out:         c.stdout,
		In:          c.stdin,
		NoBrowser:   o.noBrowser,
		OpenBrowser: auth.OpenSystemBrowser,
		Timeout:     o.timeout,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "signed in as %s (account %d", acct.Email, acct.ID)
	if acct.Tier != "" {
		fmt.Fprintf(c.stdout, ", %s", acct.Tier)
	}
	fmt.Fprintln(c.stdout, ")")
	if err := s.quota.Reload(ctx); err != nil {
		return err
	}
	if err := s.quota.SyncAccount(ctx, acct.ID); err != nil {
		fmt.Fprintf(c.stderr, "first sync failed (the dashboard retries): %v\n", err)
		return nil
	}
	if st, ok := s.quota.Account(acct.ID); ok {
		printStatusTable(c.stdout, s, []int64{st.AccountID})
	}
	return nil
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
