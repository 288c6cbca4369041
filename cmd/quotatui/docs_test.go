package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repoRoot is where README.md and the Makefile live.
const repoRoot = "../.."

// codeSpan matches `inline code` and the lines of fenced blocks.
var (
	inlineCode = regexp.MustCompile("`([^`\n]+)`")
	placeholer = regexp.MustCompile(`<[a-z][a-z -]*>`)
)

// readmeCommands returns every quotatui command line the README shows, in
// shell code blocks and inline code, as argument lists.
func readmeCommands(t *testing.T) [][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var spans []string
	inBlock, shell := false, false
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "```"):
			inBlock = !inBlock
			shell = inBlock && strings.TrimPrefix(line, "```") == "sh"
		case inBlock:
			if shell { // not the screen captures
				spans = append(spans, line)
			}
		default:
			for _, m := range inlineCode.FindAllStringSubmatch(line, -1) {
				spans = append(spans, m[1])
			}
		}
	}
	var out [][]string
	for _, s := range spans {
		s = strings.TrimSpace(s)
		if !strings.HasPrefix(s, "quotatui ") && s != "quotatui" || placeholer.MatchString(s) {
			continue
		}
		var args []string
		for _, f := range strings.Fields(s)[1:] {
			if strings.HasPrefix(f, "#") || f == "<" || f == ">" || f == "|" || f == "&&" || f == ";" {
				break // a comment or the shell's business
			}
			args = append(args, f)
		}
		out = append(out, args)
	}
	return out
}

// Every command line in the README is one quotatui accepts: its command
// exists, its flags exist on that command, and its arguments fit.
func TestREADMECommandsParse(t *testing.T) {
	cmds := readmeCommands(t)
	if len(cmds) < 15 {
		t.Fatalf("found only %d quotatui command lines in the README: is the scan broken?", len(cmds))
	}
	for _, args := range cmds {
		root := newRoot(&cli{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: testEnv(t)})
		cmd, rest, err := root.Find(args)
		if err != nil {
			t.Errorf("README: quotatui %s: %v", strings.Join(args, " "), err)
			continue
		}
		cmd.InitDefaultHelpFlag() // as cobra's Execute does
		cmd.InitDefaultVersionFlag()
		if err := cmd.ParseFlags(rest); err != nil {
			t.Errorf("README: quotatui %s: %v", strings.Join(args, " "), err)
			continue
		}
		if cmd.Args != nil {
			if err := cmd.Args(cmd, cmd.Flags().Args()); err != nil {
				t.Errorf("README: quotatui %s: %v", strings.Join(args, " "), err)
			}
		}
	}
}

// The README says how to install, and the systemd unit runs what that
// installs.
func TestREADMEInstall(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	for _, want := range []string{"go install ./cmd/quotatui", "make install", "ExecStart=%h/go/bin/quotatui serve"} {
		if !strings.Contains(readme, want) {
			t.Errorf("the README does not show %q", want)
		}
	}
	if i, j := strings.Index(readme, "go install ./cmd/quotatui"), strings.Index(readme, "ExecStart="); i < 0 || j < i {
		t.Errorf("the install line must come before the systemd unit that uses it")
	}
}

// make demo says what it builds before the build starts, so a cold first
// build is not a silent minute; make install installs the binary.
func TestMakefileTargets(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not found")
	}
	dry := func(target string) []string {
		out, err := exec.Command("make", "-n", "-C", repoRoot, "--no-print-directory", target).Output()
		if err != nil {
			t.Fatalf("make -n %s: %v", target, err)
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}
	demo := dry("demo")
	build := -1
	for i, l := range demo {
		if strings.Contains(l, "go build") {
			build = i
			break
		}
	}
	if build < 1 || !strings.Contains(demo[build-1], "echo") || !strings.Contains(demo[build-1], "building") {
		t.Errorf("make demo does not say what it builds before 'go build':\n%s", strings.Join(demo, "\n"))
	}
	if install := strings.Join(dry("install"), "\n"); !strings.Contains(install, "go install ./cmd/quotatui") {
		t.Errorf("make install does not run go install ./cmd/quotatui:\n%s", install)
	}
}
