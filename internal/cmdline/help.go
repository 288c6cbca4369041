package cmdline

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// argsAnnotation holds a command's arguments and what each is, one
// "NAME\tdescription" per line, for help.
const argsAnnotation = "quotatui/args"

// DocumentArgs records what a command's arguments are, for its help: pairs
// of name and description, in order.
func DocumentArgs(c *cobra.Command, nameDesc ...string) {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	var sb strings.Builder
	for i := 0; i+1 < len(nameDesc); i += 2 {
		fmt.Fprintf(&sb, "%s\t%s\n", nameDesc[i], nameDesc[i+1])
	}
	c.Annotations[argsAnnotation] = sb.String()
}

// Help writes a command's full help: its usage line, what it does, then its
// arguments, subcommands and own flags, and one line for the settings
// every command takes.
func Help(w io.Writer, c *cobra.Command) {
	fmt.Fprintln(w, usageLine(c))
	fmt.Fprintln(w)
	if c.Short != "" {
		fmt.Fprintln(w, sentence(c.Short))
	}
	if c.Long != "" {
		if c.Short != "" {
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w, strings.TrimSpace(c.Long))
	}
	sections(w, c)
}

// Usage writes a command's short usage, shown after a usage error: the
// usage line, arguments, subcommands and own flags, without the prose.
func Usage(w io.Writer, c *cobra.Command) {
	fmt.Fprintln(w, usageLine(c))
	sections(w, c)
	fmt.Fprintf(w, "Run '%s --help' for more.\n", c.CommandPath())
}

// sections writes the arguments, commands and flags of c, then the
// settings line.
func sections(w io.Writer, c *cobra.Command) {
	if args := c.Annotations[argsAnnotation]; args != "" {
		fmt.Fprintln(w, "\narguments:")
		tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
		for _, line := range strings.Split(strings.TrimRight(args, "\n"), "\n") {
			fmt.Fprintln(tw, "  "+line)
		}
		tw.Flush()
	}
	if subs := visibleCommands(c); len(subs) > 0 {
		fmt.Fprintln(w, "\ncommands:")
		tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
		for _, s := range subs {
			fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimPrefix(s.Use, c.Name()+" "), s.Short)
		}
		tw.Flush()
	}
	own := pflag.NewFlagSet(c.Name(), pflag.ContinueOnError)
	settings := 0
	visit := func(f *pflag.Flag) {
		switch {
		case isSetting(f):
			settings++
		case !f.Hidden && own.Lookup(f.Name) == nil:
			own.AddFlag(f)
		}
	}
	c.LocalFlags().VisitAll(visit)
	c.InheritedFlags().VisitAll(visit)
	if own.HasFlags() {
		fmt.Fprintln(w, "\nflags:")
		fmt.Fprint(w, own.FlagUsagesWrapped(0))
	}
	if settings > 0 {
		fmt.Fprintf(w, "\nsettings: every setting is a flag too (--db PATH, --log-file PATH, --config FILE, ... %d in all);\n"+
			"          'quotatui config --reference' lists them.\n", settings)
	}
}

// usageLine is "usage: quotatui accounts import [flags] FILE...".
func usageLine(c *cobra.Command) string {
	line := "usage: " + c.CommandPath()
	_, args, _ := strings.Cut(c.Use, " ")
	if c.HasAvailableFlags() {
		line += " [flags]"
	}
	if args != "" {
		line += " " + args
	}
	return line
}

// visibleCommands are c's subcommands shown in help, without cobra's own
// help command.
func visibleCommands(c *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() && s.Name() != "help" {
			out = append(out, s)
		}
	}
	return out
}

// sentence capitalises s and ends it with a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
