package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/quotatui/quotatui/internal/cmdline"
)

func versionCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version, the commit and the Go version it was built with",
		Args:  cmdline.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(c.stdout, cmdline.VersionText(version))
			return err
		},
	}
}
