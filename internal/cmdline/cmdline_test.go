package cmdline

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestVersionText(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var out []debug.BuildSetting
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	platform := " for " + runtime.GOOS + "/" + runtime.GOARCH
	tests := []struct {
		name    string
		version string
		bi      *debug.BuildInfo
		want    string
	}{
		{"no build info", "dev", nil,
			"quotatui dev, commit unknown (built without version control information), built with " + runtime.Version() + platform},
		{"checkout with changes", "dev", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", "0123456789abcdef0123", "vcs.time", "2026-11-27T16:00:00Z", "vcs.modified", "true")},
			"quotatui dev, commit 0123456789ab (2026-11-27T16:00:00Z, with uncommitted changes), built with go1.26.8" + platform},
		{"go install module@version", "dev", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}},
			"quotatui v1.2.3, commit unknown (built without version control information), built with go1.26.8" + platform},
		{"linked version wins", "v2.0.0", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"},
			Settings: vcs("vcs.revision", "abc", "vcs.modified", "false")},
			"quotatui v2.0.0, commit abc, built with go1.26.8" + platform},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionText(tt.version, tt.bi); got != tt.want {
				t.Errorf("versionText = %q\nwant          %q", got, tt.want)
			}
		})
	}
}

// tree is a small command tree under quotatui's conventions.
func tree(run func() error) *cobra.Command {
	root := &cobra.Command{Use: "tool [command]", RunE: func(*cobra.Command, []string) error { return nil }}
	AddSettings(root.PersistentFlags())
	var yes bool
	rm := &cobra.Command{Use: "rm NAME", Short: "remove NAME", Args: ExactArgs(1),
		RunE: func(*cobra.Command, []string) error { return run() }}
	rm.Flags().BoolVar(&yes, "yes", false, "do not ask")
	DocumentArgs(rm, "NAME", "what to remove")
	root.AddCommand(rm)
	Prepare(root, "tool v1")
	return root
}

func TestExecuteExitStatus(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		err    error
		code   int
		stderr string
	}{
		{"success", []string{"rm", "x", "--yes"}, nil, ExitOK, ""},
		{"failure", []string{"rm", "x"}, errors.New("disk full"), ExitFailure, "tool rm: disk full\n"},
		{"exit error", []string{"rm", "x"}, &ExitError{Code: 3}, 3, ""},
		{"exit error with message", []string{"rm", "x"}, &ExitError{Code: 4, Err: errors.New("two need a login")}, 4, "tool rm: two need a login\n"},
		{"usage error from the command", []string{"rm", "x"}, Usagef("x is not a name"), ExitUsage, "tool rm: x is not a name\n\nusage: tool rm [flags] NAME\n"},
		{"unknown flag", []string{"rm", "--force", "x"}, nil, ExitUsage, "tool rm: unknown flag: --force\n\nusage: tool rm [flags] NAME\n"},
		{"wrong arguments", []string{"rm"}, nil, ExitUsage, "tool rm: want 1 argument(s), got 0\n"},
		{"unknown command", []string{"mr"}, nil, ExitUsage, `tool: unknown command "mr" (did you mean rm?)`},
		{"help", []string{"rm", "--help"}, nil, ExitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Execute(context.Background(), tree(func() error { return tt.err }), tt.args, &out, &errOut)
			if code != tt.code {
				t.Errorf("exit %d; want %d (stderr %q)", code, tt.code, errOut.String())
			}
			if !strings.HasPrefix(errOut.String(), tt.stderr) || (tt.stderr == "" && errOut.Len() > 0) {
				t.Errorf("stderr %q; want it to start with %q", errOut.String(), tt.stderr)
			}
		})
	}
}

func TestHelpSumsUpSettings(t *testing.T) {
	var out bytes.Buffer
	code := Execute(context.Background(), tree(func() error { return nil }), []string{"rm", "--help"}, &out, &out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	want := "usage: tool rm [flags] NAME\n\nRemove NAME.\n\narguments:\n  NAME   what to remove\n\nflags:\n"
	if !strings.HasPrefix(out.String(), want) {
		t.Errorf("help starts\n%s\nwant\n%s", out.String(), want)
	}
	if !strings.Contains(out.String(), "--yes") || strings.Contains(out.String(), "--quota-") {
		t.Errorf("help should list --yes and no setting:\n%s", out.String())
	}
	if n := strings.Count(out.String(), "quotatui config --reference"); n != 1 {
		t.Errorf("the settings line appears %d times:\n%s", n, out.String())
	}
}
