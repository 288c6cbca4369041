package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/quotatui/quotatui/internal/cmdline"
	"github.com/quotatui/quotatui/internal/config"
	"github.com/quotatui/quotatui/internal/usage"
)

// usageOptions are usage's own flags.
type usageOptions struct {
	since, by string
	json      bool
	top       int
}

func usageCommand(c *cli) *cobra.Command {
	o := usageOptions{since: "24h", by: "model", top: 10}
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "print the tokens and requests the proxy served, per account, model or day",
		Long: "Reads the usage the proxy recorded in the database (every answered request's usageMetadata:\n" +
			"prompt, output, thoughts and cached tokens; failed requests count as errors, not tokens),\n" +
			"summed per account, model or day, with the conversations that used the most tokens.\n" +
			"Spans start at a whole hour. Works on SQLite and PostgreSQL, with or without a running quotatui.",
		Args: cmdline.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runUsage(cmd.Context(), c, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.since, "since", o.since, "how far back: a duration such as 24h, 90m or 7d")
	f.StringVar(&o.by, "by", o.by, "group by account, model or day")
	f.BoolVar(&o.json, "json", false, "print JSON")
	f.IntVar(&o.top, "top", o.top, "how many conversations to list (0: none)")
	return cmd
}

func runUsage(ctx context.Context, c *cli, o usageOptions) error {
	span, err := usage.ParseSince(o.since)
	if err != nil {
		return cmdline.Usagef("%v", err)
	}
	by, err := usage.ParseBy(o.by)
	if err != nil {
		return cmdline.Usagef("%v", err)
	}
	if o.top < 0 {
		return cmdline.Usagef("--top %d: want 0 or more", o.top)
	}
	return withStore(ctx, c, func(_ config.Config, st backend) error {
		accts, err := st.Accounts(ctx)
		if err != nil {
			return err
		}
		names := make(map[int64]string, len(accts))
		for _, a := range accts {
			names[a.ID] = a.Email
		}
		name := func(id int64) string { return names[id] }
		now := time.Now()
		rep, err := usage.Build(ctx, st, usage.Options{Since: now.Add(-span), Until: now, By: by, Name: name,
			Location: time.Local, Conversations: o.top})
		if err != nil {
			return fmt.Errorf("read usage: %w", err)
		}
		if o.json {
			return usage.WriteJSON(c.stdout, rep, name)
		}
		return usage.WriteTable(c.stdout, rep, name)
	})
}
