package main

import (
	"strings"
	"testing"
)

// A command's help starts with its usage line, lists its own flags, and
// sums up the settings in one line instead of listing them.
func TestCommandHelp(t *testing.T) {
	tests := []struct {
		args  []string
		usage string   // the first line
		want  []string // its own flags and arguments
	}{
		{[]string{"--help"}, "usage: quotatui [flags] [command]", []string{"accounts", "serve", "status", "--version"}},
		{[]string{"accounts", "import", "--help"}, "usage: quotatui accounts import [flags] FILE...", []string{"--no-verify", "FILE..."}},
		{[]string{"accounts", "remove", "-h"}, "usage: quotatui accounts remove [flags] ACCOUNT", []string{"--yes", "ACCOUNT"}},
		{[]string{"accounts", "--help"}, "usage: quotatui accounts [flags] <command>", []string{"add-token", "import FILE...", "label ACCOUNT LABEL"}},
		{[]string{"help", "status"}, "usage: quotatui status [flags]", []string{"--json", "3 an account is"}},
		{[]string{"demo", "--help"}, "usage: quotatui demo [flags]", []string{"--speed", "--accounts", "--rate", "--seed"}},
		{[]string{"serve", "--help"}, "usage: quotatui serve [flags]", []string{"-v, --verbose"}},
		{[]string{"login", "--help"}, "usage: quotatui login [flags]", []string{"--no-browser", "--label", "--timeout"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCLI(t, testEnv(t), "", tt.args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
			if lines[0] != tt.usage {
				t.Errorf("first line %q; want %q", lines[0], tt.usage)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("help does not show %q:\n%s", w, r.stdout)
				}
			}
			// The settings are one line pointing at the reference, not 25.
			for _, setting := range []string{"--quota-sync-interval", "--proxy-body-limit", "--oauth-client-secret"} {
				if strings.Contains(r.stdout, setting) {
					t.Errorf("help lists the setting %s:\n%s", setting, r.stdout)
				}
			}
			if !strings.Contains(r.stdout, "quotatui config --reference") {
				t.Errorf("help does not point at 'quotatui config --reference':\n%s", r.stdout)
			}
			if len(lines) > 30 {
				t.Errorf("help is %d lines long:\n%s", len(lines), r.stdout)
			}
		})
	}
}

// A mistake in a command line exits 2 and shows that command's short
// usage on stderr, whether the mistake is a command, a flag or an argument.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args  []string
		first string // the first line of stderr says what was wrong
		usage string // then the command's usage line
	}{
		{[]string{"status", "--bogus"}, "quotatui status: unknown flag: --bogus", "usage: quotatui status [flags]"},
		{[]string{"accounts", "import", "x.json", "--no-verfy"}, "quotatui accounts import: unknown flag: --no-verfy", "usage: quotatui accounts import [flags] FILE..."},
		{[]string{"demo", "--speed", "fast"}, `quotatui demo: invalid argument "fast" for "--speed"`, "usage: quotatui demo [flags]"},
		{[]string{"statu"}, `quotatui: unknown command "statu" (did you mean status?)`, "usage: quotatui [flags] [command]"},
		{[]string{"accounts", "lst"}, `quotatui accounts: unknown command "lst" (did you mean list or set?)`, "usage: quotatui accounts [flags] <command>"},
		{[]string{"accounts", "remove"}, "quotatui accounts remove: want 1 argument(s), got 0", "usage: quotatui accounts remove [flags] ACCOUNT"},
		{[]string{"accounts", "import"}, "quotatui accounts import: want at least 1 argument(s), got 0", "usage: quotatui accounts import [flags] FILE..."},
		{[]string{"status", "now"}, `quotatui status: takes no arguments, got "now"`, "usage: quotatui status [flags]"},
		{[]string{"--db"}, "quotatui: flag needs an argument: --db", "usage: quotatui [flags] [command]"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCLI(t, testEnv(t), "", tt.args...)
			if r.code != 2 {
				t.Errorf("exit %d; want 2 (usage error)\nstderr: %s", r.code, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("a usage error wrote to stdout: %q", r.stdout)
			}
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if !strings.HasPrefix(lines[0], tt.first) {
				t.Errorf("first line %q; want it to start with %q", lines[0], tt.first)
			}
			if !strings.Contains(r.stderr, "\n"+tt.usage+"\n") {
				t.Errorf("stderr does not show the usage line %q:\n%s", tt.usage, r.stderr)
			}
			if len(lines) > 25 {
				t.Errorf("a usage error printed %d lines:\n%s", len(lines), r.stderr)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}, {"-v"}} {
		r := runCLI(t, testEnv(t), "", args...)
		if r.code != 0 {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		for _, want := range []string{"quotatui " + version, "commit ", "built with go1."} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%v prints %q; want %q in it", args, r.stdout, want)
			}
		}
	}
}
