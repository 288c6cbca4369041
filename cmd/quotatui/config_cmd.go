package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/quotatui/quotatui/internal/cmdline"
	"github.com/quotatui/quotatui/internal/config"
)

func configCommand(c *cli) *cobra.Command {
	var ref bool
	cmd := &cobra.Command{
		Use:   "config",
		Short: "print the effective configuration and where each value came from",
		Long: "Every setting can be set in the config file, the environment or as a flag, with precedence\n" +
			"flag > environment > file > default. Secrets are shown only as [set] or [not set].",
		Args: cmdline.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runConfig(cmd.Context(), c, ref) },
	}
	cmd.Flags().BoolVar(&ref, "reference", false, "print every setting with its flag, environment variable, default and description (Markdown)")
	return cmd
}

func runConfig(_ context.Context, c *cli, ref bool) error {
	if ref {
		return config.WriteReference(c.stdout)
	}
	cfg, src, err := loadConfig(c)
	var bad *config.SettingError
	if errors.As(err, &bad) {
		// Show what was read, then what is wrong with it.
		if perr := config.Print(c.stdout, cfg, src); perr != nil {
			return errors.Join(err, perr)
		}
	}
	if err != nil {
		return err
	}
	return config.Print(c.stdout, cfg, src)
}
