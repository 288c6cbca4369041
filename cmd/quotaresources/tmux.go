package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// tmuxSession is one detached tmux session on a private server socket, so
// the harness never touches the user's own tmux.
type tmuxSession struct {
	socket string
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shellCommand joins argv into one sh command line.
func shellCommand(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

// startTmux starts a private tmux server running command in a width×height
// pane. The command should exec the program so the pane's pid is its pid.
func startTmux(ctx context.Context, socket, command string, width, height int) (*tmuxSession, error) {
	t := &tmuxSession{socket: socket}
	_, err := t.run(ctx, "new-session", "-d", "-x", strconv.Itoa(width), "-y", strconv.Itoa(height), command)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (t *tmuxSession) run(ctx context.Context, args ...string) (string, error) {
	// -f /dev/null: the user's tmux.conf must not change the pane (status
	// line, size, shell hooks).
	full := append([]string{"-L", t.socket, "-f", "/dev/null"}, args...)
	out, err := exec.CommandContext(ctx, "tmux", full...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("tmux %s: %w: %s", args[0], err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// capture returns the pane's visible text.
func (t *tmuxSession) capture(ctx context.Context) (string, error) {
	return t.run(ctx, "capture-pane", "-p")
}

// sendKeys types keys into the pane (tmux key names, e.g. "Enter").
func (t *tmuxSession) sendKeys(ctx context.Context, keys ...string) error {
	_, err := t.run(ctx, append([]string{"send-keys"}, keys...)...)
	return err
}

// pid returns the pid of the pane's process.
func (t *tmuxSession) pid(ctx context.Context) (int, error) {
	out, err := t.run(ctx, "list-panes", "-F", "#{pane_pid}")
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return 0, fmt.Errorf("tmux pane pid %q: %w", out, err)
	}
	return pid, nil
}

// errNotShown is returned by waitScreen when the deadline passes.
var errNotShown = errors.New("not shown before the deadline")

// waitScreen polls the pane until ok accepts it, ctx ends or timeout
// passes; it returns the last screen seen either way.
func (t *tmuxSession) waitScreen(ctx context.Context, timeout time.Duration, ok func(string) bool) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	var screen string
	for {
		s, err := t.capture(ctx)
		if err == nil {
			screen = s
			if ok(s) {
				return s, nil
			}
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return screen, err // e.g. the pane is gone: the program exited
			}
			return screen, errNotShown
		case <-poll.C:
		}
	}
}

// kill stops the tmux server and everything in it. It runs on its own
// short deadline so cleanup works after the run's context has ended.
func (t *tmuxSession) kill() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = t.run(ctx, "kill-server") // already gone is fine
}
