package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Without a terminal the dashboard and the demo say so at once and point
// at serve, before they create anything.
func TestDashboardWithoutTerminal(t *testing.T) {
	for _, args := range [][]string{nil, {"demo"}} {
		home := t.TempDir()
		env := testEnv(t, "HOME="+home)
		r := runCLI(t, env, "", args...)
		if r.code == 0 {
			t.Errorf("%v without a terminal: exit 0", args)
		}
		for _, want := range []string{"needs a terminal", "quotatui serve"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%v without a terminal: stderr %q does not say %q", args, r.stderr, want)
			}
		}
		if strings.Contains(r.stderr, "TTY") || strings.Contains(r.stderr, "bubbletea") {
			t.Errorf("%v: the message speaks of the library, not the user's problem: %q", args, r.stderr)
		}
		if left := listTree(t, home); len(left) != 0 {
			t.Errorf("%v without a terminal created %v", args, left)
		}
	}
}

// The binary run as `quotatui < /dev/null > out` ends promptly with the
// message on stderr, rather than drawing into the file and waiting for a
// key that cannot come.
func TestBinaryWithoutTerminal(t *testing.T) {
	bin := quotatuiBinary(t)
	t.Parallel()
	home, _, env := isolatedEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, devNull, out, &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("quotatui without a terminal was still running after 20s; stderr: %s", stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Errorf("quotatui without a terminal: %v; want a non-zero exit", err)
	}
	if !strings.Contains(stderr.String(), "quotatui serve") {
		t.Errorf("stderr does not point at quotatui serve: %q", stderr.String())
	}
	if data, _ := os.ReadFile(out.Name()); len(data) != 0 {
		t.Errorf("quotatui drew into the file standing for stdout: %q", data)
	}
	if left := listTree(t, home); len(left) != 0 {
		t.Errorf("quotatui without a terminal left %v in HOME", left)
	}
}
