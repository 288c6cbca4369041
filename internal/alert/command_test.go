//go:build unix

package alert

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCommandGetsTheAlertOnStdin(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "alert.json")
	env := filepath.Join(dir, "env.txt")
	c, err := NewCommand(CommandOptions{
		Run: `cat > "$OUT" && printf '%s\n%s\n%s\n%s\n' "$QUOTATUI_ALERT_KIND" "$QUOTATUI_ALERT_SEVERITY" "$QUOTATUI_ALERT_ACCOUNT" "$QUOTATUI_ALERT_FAMILY" > "$ENVOUT"`,
		Env: []string{"OUT=" + out, "ENVOUT=" + env},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := Sample(t0)
	if err := c.Send(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(e)
	if string(data) != string(want) {
		t.Errorf("stdin\n got %s\nwant %s", data, want)
	}
	vars, _ := os.ReadFile(env)
	if got := string(vars); got != "test\ninfo\nsomeone\ngemini\n" {
		t.Errorf("QUOTATUI_ALERT_* variables: %q", got)
	}
}

func TestCommandFailure(t *testing.T) {
	c, err := NewCommand(CommandOptions{Run: `echo "cannot reach the pager" >&2; exit 3`})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Send(context.Background(), Sample(t0))
	if err == nil || IsPermanent(err) {
		t.Fatalf("exit 3: %v, want a retryable error", err)
	}
	for _, want := range []string{"exit status 3", "cannot reach the pager"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestCommandTimeoutKillsEverything(t *testing.T) {
	// The shell starts a child that would run for a minute: at the
	// timeout the whole process group dies, not only the shell.
	dir := t.TempDir()
	pidFile, marker := filepath.Join(dir, "pid"), filepath.Join(dir, "finished")
	c, err := NewCommand(CommandOptions{
		Run:     `sleep 60 & echo $! > "$PIDFILE"; wait; touch "$MARKER"`,
		Timeout: 200 * time.Millisecond,
		Env:     []string{"PIDFILE=" + pidFile, "MARKER=" + marker},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Send(context.Background(), Sample(t0))
	if err == nil || !strings.Contains(err.Error(), "still running after 200ms, killed") {
		t.Fatalf("slow command: %v, want a timeout", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command ran to its end after the timeout")
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the command did not start its child: %v", err)
	}
	pid := strings.TrimSpace(string(data))
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc to look at the child")
	}
	// Killed means gone, or a zombie waiting for a reaper.
	waitFor(t, "the child sleep "+pid+" to be killed", func() bool {
		stat, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			return true
		}
		_, rest, _ := strings.Cut(string(stat), ") ")
		return strings.HasPrefix(rest, "Z")
	})
}

func TestCommandStopsWithItsContext(t *testing.T) {
	c, err := NewCommand(CommandOptions{Run: "sleep 60", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Send(ctx, Sample(t0)) }()
	cancel()
	if err := <-done; err == nil {
		t.Error("a cancelled run reported success")
	}
}

func TestNewCommandRejectsEmpty(t *testing.T) {
	if _, err := NewCommand(CommandOptions{Run: "  "}); err == nil {
		t.Error("NewCommand accepted a blank command line")
	}
}
