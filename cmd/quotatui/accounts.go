package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/quotatui/quotatui/internal/auth"
	"github.com/quotatui/quotatui/internal/config"
	"github.com/quotatui/quotatui/internal/store"
)

func runLogin(ctx context.Context, c *cli, args []string) error {
	fs := flag.NewFlagSet("quotatui login", flag.ContinueOnError)
	noBrowser := fs.Bool("no-browser", false, "only print the sign-in URL (paste the redirected URL or the code back here)")
	label := fs.String("label", "", "label for the account (default: its email)")
	timeout := fs.Duration("timeout", auth.DefaultLoginTimeout, "how long to wait for the sign-in")
	cfg, _, err := loadConfig(c, fs, args)
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
		Label:       *label,
		Out:         c.stdout,
		In:          c.stdin,
		NoBrowser:   *noBrowser,
		OpenBrowser: auth.OpenSystemBrowser,
		Timeout:     *timeout,
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

const accountsUsage = `usage: quotatui accounts <command> [flags]

commands:
  list [--json]                   list accounts (never tokens)
  add-token [--label L]           add an account from a refresh token read from stdin
  import [--no-verify] [--client NAME] FILE...
                                  import Antigravity-Manager, CLIProxyAPI or {email, refresh_token} files
                                  (--client: the configured OAuth client that issued tokens of files naming none)
  export [--include-secrets] [-o FILE]
                                  export accounts as JSON (tokens only with --include-secrets)
  disable ACCOUNT | enable ACCOUNT
  label ACCOUNT LABEL
  remove [--yes] ACCOUNT          delete an account with its history (asks first)

ACCOUNT is an id, an email or a label.
`

func runAccounts(ctx context.Context, c *cli, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(c.stdout, accountsUsage)
		if len(args) == 0 {
			return &exitError{code: 2}
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("quotatui accounts "+sub, flag.ContinueOnError)
	var (
		asJSON   = new(bool)
		label    = new(string)
		noVerify = new(bool)
		client   = new(string)
		secrets  = new(bool)
		outFile  = new(string)
		yes      = new(bool)
	)
	switch sub {
	case "list":
		fs.BoolVar(asJSON, "json", false, "print JSON")
	case "add-token":
		fs.StringVar(label, "label", "", "label for the account")
	case "import":
		fs.BoolVar(noVerify, "no-verify", false, "store tokens without checking them with one refresh")
		fs.StringVar(client, "client", "", "OAuth client (a name from the config) that issued the tokens of files that name none; default: the default client")
	case "export":
		fs.BoolVar(secrets, "include-secrets", false, "include refresh and access tokens")
		fs.StringVar(outFile, "o", "", "write to FILE (mode 0600) instead of stdout")
	case "remove":
		fs.BoolVar(yes, "yes", false, "do not ask for confirmation")
	case "disable", "enable", "label":
	default:
		fmt.Fprint(c.stderr, accountsUsage)
		return &exitError{code: 2, err: fmt.Errorf("unknown accounts command %q", sub)}
	}
	cfg, _, err := loadConfig(c, fs, args)
	if err != nil {
		return err
	}
	rest := fs.Args()
	st, err := store.Open(ctx, cfg.DBPath)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now()
	needRef := func(n int) error {
		if len(rest) != n {
			return &exitError{code: 2, err: fmt.Errorf("accounts %s: want %d argument(s), got %d\n\n%s", sub, n, len(rest), accountsUsage)}
		}
		return nil
	}
	switch sub {
	case "list":
		return auth.ListAccounts(ctx, st, c.stdout, *asJSON, auth.ClientsFromConfig(cfg))
	case "add-token":
		tokens, err := verifier(cfg, st)
		if err != nil {
			return err
		}
		if f, ok := c.stdin.(*os.File); ok && isTerminal(f) {
			fmt.Fprintln(c.stderr, "paste the refresh token, then press Enter:")
		}
		a, err := auth.AddToken(ctx, st, tokens, c.stdin, *label)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "added %s (account %d)\n", a.Email, a.ID)
		return nil
	case "import":
		if len(rest) == 0 {
			return &exitError{code: 2, err: errors.New("accounts import: name at least one FILE")}
		}
		opt := auth.ImportOptions{Paths: rest, NoVerify: *noVerify, Clients: auth.ClientsFromConfig(cfg), Client: *client}
		if !*noVerify {
			v, err := verifier(cfg, st)
			if err != nil {
				return err
			}
			opt.Verifier = v
		}
		rep, err := auth.Import(ctx, st, opt)
		if werr := rep.Write(c.stdout); werr != nil && err == nil {
			err = werr
		}
		return err
	case "export":
		if *outFile != "" {
			if err := auth.ExportFile(ctx, st, *outFile, *secrets); err != nil {
				return err
			}
			fmt.Fprintf(c.stderr, "wrote %s (mode 0600)\n", *outFile)
			return nil
		}
		return auth.Export(ctx, st, c.stdout, *secrets)
	case "disable", "enable":
		if err := needRef(1); err != nil {
			return err
		}
		a, err := auth.SetEnabled(ctx, st, rest[0], sub == "enable", now)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%sd %s\n", sub, a.Email)
		return nil
	case "label":
		if err := needRef(2); err != nil {
			return err
		}
		a, err := auth.SetLabel(ctx, st, rest[0], rest[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s is now labelled %q\n", a.Email, a.Label)
		return nil
	case "remove":
		if err := needRef(1); err != nil {
			return err
		}
		a, err := auth.RemoveAccount(ctx, st, rest[0], c.stdin, c.stdout, *yes)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "removed %s\n", a.Email)
		return nil
	}
	return nil
}

// verifier is the token source import and add-token check tokens with;
// checking needs the OAuth client, so its absence is reported first.
func verifier(cfg config.Config, st *store.Store) (*auth.Tokens, error) {
	oauth := oauthConfig(cfg)
	if err := oauth.Check(); err != nil {
		return nil, fmt.Errorf("%w\n(or pass --no-verify to import without checking the tokens)", err)
	}
	return auth.NewTokens(oauth, st, auth.TokensOptions{Clients: auth.ClientsFromConfig(cfg)}), nil
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
