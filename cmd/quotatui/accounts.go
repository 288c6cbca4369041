package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/quotatui/quotatui/internal/auth"
	"github.com/quotatui/quotatui/internal/cmdline"
	"github.com/quotatui/quotatui/internal/config"
)

// accountRef documents the ACCOUNT argument the same way everywhere.
const accountRef = "an account's id, email or label"

func accountsCommand(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "accounts <command>",
		Short: "list, import, export, enable, disable, label, set or remove accounts",
		Long:  "Tokens never appear in the output unless 'export --include-secrets' asks for them.",
		Args:  cmdline.Subcommands,
		RunE: func(*cobra.Command, []string) error {
			return cmdline.Usagef("name a command: list, add-token, import, export, disable, enable, label, set or remove")
		},
	}
	cmd.AddCommand(
		accountsList(c), accountsAddToken(c), accountsImport(c), accountsExport(c),
		accountsEnable(c, false), accountsEnable(c, true), accountsLabel(c), accountsSet(c), accountsRemove(c),
	)
	return cmd
}

// withStore runs fn with the effective configuration and the store open.
func withStore(ctx context.Context, c *cli, fn func(cfg config.Config, st backend) error) error {
	cfg, _, err := loadConfig(c)
	if err != nil {
		return err
	}
	st, err := openBackend(ctx, cfg.DBPath, discardLogger())
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(cfg, st)
}

func accountsList(c *cli) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "list accounts (never tokens)",
		Args:  cmdline.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd.Context(), c, func(cfg config.Config, st backend) error {
				return auth.ListAccounts(cmd.Context(), st, c.stdout, asJSON, auth.ClientsFromConfig(cfg))
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func accountsAddToken(c *cli) *cobra.Command {
	var label string
	cmd := &cobra.Command{
		Use:   "add-token",
		Short: "add an account from a refresh token read from stdin",
		Long:  "The token is checked with one refresh, which also tells the account's email.",
		Args:  cmdline.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return withStore(ctx, c, func(cfg config.Config, st backend) error {
				tokens, err := verifier(cfg, st)
				if err != nil {
					return err
				}
				if isTerminal(c.stdin) {
					fmt.Fprintln(c.stderr, "paste the refresh token, then press Enter:")
				}
				a, err := auth.AddToken(ctx, st, tokens, c.stdin, label)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "added %s (account %d)\n", a.Email, a.ID)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&label, "label", "", "label for the account")
	return cmd
}

func accountsImport(c *cli) *cobra.Command {
	var (
		noVerify bool
		client   string
	)
	cmd := &cobra.Command{
		Use:   "import FILE...",
		Short: "import accounts from Antigravity-Manager, CLIProxyAPI or {email, refresh_token} files",
		Long: "Each file's format is detected; accounts merge by email. A bad file is reported with the\n" +
			"file and the field, and nothing from it is written.",
		Args: cmdline.MinArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			ctx := cmd.Context()
			return withStore(ctx, c, func(cfg config.Config, st backend) error {
				opt := auth.ImportOptions{Paths: files, NoVerify: noVerify, Clients: auth.ClientsFromConfig(cfg), Client: client}
				if !noVerify {
					v, err := verifier(cfg, st)
					if err != nil {
						return fmt.Errorf("%w\n(or pass --no-verify to import without checking the tokens)", err)
					}
					opt.Verifier = v
				}
				rep, err := auth.Import(ctx, st, opt)
				if werr := rep.Write(c.stdout); werr != nil && err == nil {
					err = werr
				}
				return err
			})
		},
	}
	cmdline.DocumentArgs(cmd, "FILE...", "an account file (JSON): Antigravity-Manager, CLIProxyAPI, or [{email, refresh_token}]")
	cmd.Flags().BoolVar(&noVerify, "no-verify", false, "store tokens without checking them with one refresh")
	cmd.Flags().StringVar(&client, "client", "", "the configured OAuth client (by name) that issued the tokens of files naming none; default: the default client")
	return cmd
}

func accountsExport(c *cli) *cobra.Command {
	var (
		secrets bool
		outFile string
	)
	cmd := &cobra.Command{
		Use:   "export",
		Short: "export accounts as JSON (tokens only with --include-secrets)",
		Args:  cmdline.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return withStore(ctx, c, func(_ config.Config, st backend) error {
				if outFile == "" {
					return auth.Export(ctx, st, c.stdout, secrets)
				}
				if err := auth.ExportFile(ctx, st, outFile, secrets); err != nil {
					return err
				}
				fmt.Fprintf(c.stderr, "wrote %s (mode 0600)\n", outFile)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&secrets, "include-secrets", false, "include refresh and access tokens")
	cmd.Flags().StringVarP(&outFile, "output", "o", "", "write to `FILE` (mode 0600) instead of stdout")
	return cmd
}

// accountsEnable is `accounts enable` (enable true) or `accounts disable`.
func accountsEnable(c *cli, enable bool) *cobra.Command {
	name, short := "disable", "stop using an account (the proxy and the monitor skip it)"
	if enable {
		name, short = "enable", "use a disabled account again"
	}
	cmd := &cobra.Command{
		Use:   name + " ACCOUNT",
		Short: short,
		Args:  cmdline.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return withStore(ctx, c, func(_ config.Config, st backend) error {
				a, err := auth.SetEnabled(ctx, st, args[0], enable, time.Now())
				if err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "%sd %s\n", name, a.Email)
				return nil
			})
		},
	}
	cmdline.DocumentArgs(cmd, "ACCOUNT", accountRef)
	return cmd
}

func accountsLabel(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "label ACCOUNT LABEL",
		Short: "set the name an account is shown by",
		Args:  cmdline.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return withStore(ctx, c, func(_ config.Config, st backend) error {
				a, err := auth.SetLabel(ctx, st, args[0], args[1])
				if err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "%s is now labelled %q\n", a.Email, a.Label)
				return nil
			})
		},
	}
	cmdline.DocumentArgs(cmd, "ACCOUNT", accountRef, "LABEL", "the new label")
	return cmd
}

func accountsSet(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "set ACCOUNT KEY=VALUE...",
		Short: "set how the proxy may use an account: priority, reserve, families, disabled_for_proxy",
		Long: "Settings:\n" +
			"  priority=N               a whole number; higher is used first under routing.policy = priority (default 0)\n" +
			"  reserve=F                the part of each family the proxy leaves unused, 0.2 or 20% (default 0)\n" +
			"  families=LIST            families the proxy may send to it: gemini, claude-gpt (comma-separated) or all\n" +
			"  disabled_for_proxy=BOOL  true: monitored only, never routed (default false)\n\n" +
			"Settings not named keep their value. A running quotatui applies the change within seconds.\n" +
			"A bad setting is reported with what is allowed, and nothing is written.",
		Args: cmdline.MinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return withStore(ctx, c, func(_ config.Config, st backend) error {
				a, err := auth.SetRouting(ctx, st, args[0], args[1:])
				var bad *auth.RoutingError
				if errors.As(err, &bad) {
					return cmdline.Usagef("%w", bad)
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "%s: %s\n", a.Email, auth.RoutingText(a.Routing))
				return nil
			})
		},
	}
	cmdline.DocumentArgs(cmd, "ACCOUNT", accountRef, "KEY=VALUE...", "one or more settings (above)")
	return cmd
}

func accountsRemove(c *cli) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "remove ACCOUNT",
		Short: "delete an account with its history (asks first)",
		Args:  cmdline.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return withStore(ctx, c, func(_ config.Config, st backend) error {
				a, err := auth.RemoveAccount(ctx, st, args[0], c.stdin, c.stdout, yes)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "removed %s\n", a.Email)
				return nil
			})
		},
	}
	cmdline.DocumentArgs(cmd, "ACCOUNT", accountRef)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

// verifier is the token source import and add-token check tokens with;
// checking needs the OAuth client, so its absence is reported first.
func verifier(cfg config.Config, st backend) (*auth.Tokens, error) {
	oauth := oauthConfig(cfg)
	if err := oauth.Check(); err != nil {
		return nil, err
	}
	return auth.NewTokens(oauth, st, auth.TokensOptions{Clients: auth.ClientsFromConfig(cfg)}), nil
}
