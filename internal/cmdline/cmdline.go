// Package cmdline holds the conventions every quotatui command shares, on
// top of cobra: settings as flags on every command, help that puts the
// command's own usage, arguments and flags first, usage errors that exit 2
// with the command's short usage, and the exit status of each outcome.
// cmd/quotatui only declares its commands and wires parts together.
package cmdline

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/quotatui/quotatui/internal/config"
)

// Exit statuses shared by every command; commands with their own (status)
// use numbers from 3 up.
const (
	ExitOK      = 0 // success
	ExitFailure = 1 // quotatui itself failed: bad config, database error, ...
	ExitUsage   = 2 // unknown command or flag, wrong arguments
)

// UsageError is a mistake in how a command was called. Execute prints it
// with the command's short usage and exits ExitUsage.
type UsageError struct {
	Err error
}

// Error returns the mistake's description.
func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap returns the mistake.
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a *UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ExitError carries a specific exit status out of a command. Err, when
// set, is printed first.
type ExitError struct {
	Code int
	Err  error
}

// Error returns Err's message, or the exit status when there is none.
func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns Err.
func (e *ExitError) Unwrap() error { return e.Err }

// settingAnnotation marks the flags that are settings (and --config), so
// help can sum them up in one line instead of listing 25 of them.
const settingAnnotation = "quotatui/setting"

// AddSettings makes every setting (and --config) a flag of fs, normally
// the root command's persistent flags so every command takes them, and
// returns the flags for config.Resolve.
func AddSettings(fs *pflag.FlagSet) *config.Flags {
	gfs := flag.NewFlagSet("settings", flag.ContinueOnError)
	settings := config.Register(gfs)
	gfs.VisitAll(func(f *flag.Flag) {
		pf := pflag.PFlagFromGoFlag(f)
		// A one-letter setting would get a shorthand from pflag; settings
		// have none, so "-d" can never mean a setting by accident.
		pf.Shorthand = ""
		pf.Annotations = map[string][]string{settingAnnotation: {"true"}}
		fs.AddFlag(pf)
	})
	return settings
}

// isSetting reports whether f is one of the flags AddSettings added.
func isSetting(f *pflag.Flag) bool {
	_, ok := f.Annotations[settingAnnotation]
	return ok
}

// Prepare sets root (and so every command under it) to quotatui's
// conventions: errors are returned, not printed by cobra; help and short
// usage are Help and Usage; a bad flag is a *UsageError; the root takes no
// arguments but its subcommands' names; version prints versionText.
func Prepare(root *cobra.Command, versionText string) {
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetHelpFunc(func(c *cobra.Command, _ []string) { Help(c.OutOrStdout(), c) })
	root.SetUsageFunc(func(c *cobra.Command) error { Usage(c.OutOrStderr(), c); return nil })
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Err: err} })
	root.Version = versionText
	root.SetVersionTemplate("{{.Version}}\n")
	if root.Args == nil {
		root.Args = Subcommands
	}
	// cobra's help command takes its topic from the tree; it must answer a
	// wrong topic with a usage error like any other command.
	root.InitDefaultHelpCmd()
	for _, c := range root.Commands() {
		if c.Name() == "help" {
			c.Args = func(_ *cobra.Command, args []string) error {
				if len(args) == 0 {
					return nil
				}
				if found, rest, err := root.Find(args); err != nil || len(rest) > 0 || found == root {
					return Usagef("no command %q to help with%s", strings.Join(args, " "), suggestion(root, args[0]))
				}
				return nil
			}
		}
	}
}

// Execute runs root with args and returns the process's exit status. It
// prints errors itself, prefixed with the command they came from; a usage
// error is followed by the command's short usage.
func Execute(ctx context.Context, root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	if args == nil {
		args = []string{} // cobra reads os.Args for nil
	}
	root.SetArgs(args)
	root.SetIn(strings.NewReader(""))
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	if cmd == nil {
		cmd = root
	}
	name := cmd.CommandPath()
	var (
		ue *UsageError
		ee *ExitError
	)
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s: %v\n\n", name, ue.Err)
		Usage(stderr, cmd)
		return ExitUsage
	case errors.As(err, &ee):
		if ee.Err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, ee.Err)
		}
		return ee.Code
	case strings.HasPrefix(err.Error(), "unknown command "):
		// cobra's own check, for a command that declares no Args.
		fmt.Fprintf(stderr, "%s: %v\n\n", name, err)
		Usage(stderr, cmd)
		return ExitUsage
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return ExitFailure
}

// Subcommands is the Args of a command that only groups others: any
// argument is an unknown subcommand.
func Subcommands(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return Usagef("unknown command %q%s", args[0], suggestion(c, args[0]))
}

// suggestion returns "; did you mean x?" for a mistyped subcommand of c,
// or a pointer to the list.
func suggestion(c *cobra.Command, typed string) string {
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2 // cobra sets it on the root only
	}
	if s := c.SuggestionsFor(typed); len(s) > 0 {
		return fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
	}
	return ""
}

// NoArgs is the Args of a command that takes no arguments.
func NoArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return Usagef("takes no arguments, got %q", strings.Join(args, " "))
	}
	return nil
}

// ExactArgs is the Args of a command that takes exactly n arguments.
func ExactArgs(n int) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return Usagef("want %d argument(s), got %d", n, len(args))
		}
		return nil
	}
}

// MinArgs is the Args of a command that takes at least n arguments.
func MinArgs(n int) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < n {
			return Usagef("want at least %d argument(s), got %d", n, len(args))
		}
		return nil
	}
}
