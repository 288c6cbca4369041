package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// waitDelay is how long a command's output pipes may stay open after it was
// killed (a grandchild holding them), before Run gives up on them.
const waitDelay = 2 * time.Second

// CommandOptions configure a Command.
type CommandOptions struct {
	// Run is the command line, run by the shell (sh -c on Unix, cmd /C on
	// Windows), with the alert as JSON on stdin.
	Run     string
	Timeout time.Duration // per run; DefaultTimeout when zero
	// Env is added to the process's environment, after the
	// QUOTATUI_ALERT_* variables (tests use it; nil is fine).
	Env []string
}

// Command runs a command line for each alert.
type Command struct {
	run     string
	timeout time.Duration
	env     []string
}

// NewCommand checks o and returns the sink.
func NewCommand(o CommandOptions) (*Command, error) {
	if strings.TrimSpace(o.Run) == "" {
		return nil, errors.New("command: empty command line")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return &Command{run: o.Run, timeout: o.Timeout, env: o.Env}, nil
}

// Name returns "command". The command line is left out: it may carry a
// key (a curl with a token).
func (c *Command) Name() string { return "command" }

// Send runs the command with e as JSON on stdin and these variables set:
// QUOTATUI_ALERT_KIND, _SEVERITY, _TITLE, _MESSAGE, _ACCOUNT (the label),
// _FAMILY. A run that exits non-zero or outlives the timeout is an error
// (it is then killed with everything it started); its stderr's last lines
// are in the error.
func (c *Command) Send(ctx context.Context, e Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return Permanent(fmt.Errorf("command: encode alert: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := shellCommand(ctx, c.run)
	cmd.Stdin = bytes.NewReader(body)
	cmd.Stdout = nil // discarded: the command talks to whatever it notifies
	var stderr tailBuffer
	cmd.Stderr = &stderr
	label := ""
	if e.Account != nil {
		label = e.Account.Label
	}
	cmd.Env = append(os.Environ(),
		"QUOTATUI_ALERT_KIND="+string(e.Kind),
		"QUOTATUI_ALERT_SEVERITY="+string(e.Severity),
		"QUOTATUI_ALERT_TITLE="+e.Title,
		"QUOTATUI_ALERT_MESSAGE="+e.Message,
		"QUOTATUI_ALERT_ACCOUNT="+label,
		"QUOTATUI_ALERT_FAMILY="+e.Family,
	)
	cmd.Env = append(cmd.Env, c.env...)
	cmd.WaitDelay = waitDelay
	killGroup(cmd)
	err = cmd.Run()
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("command: still running after %s, killed%s", c.timeout, stderr.hint())
	case ctx.Err() != nil:
		return fmt.Errorf("command: %w", ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("command: %s%s", ee.ProcessState, stderr.hint())
	}
	// The shell itself could not start: nothing a retry changes.
	return Permanent(fmt.Errorf("command: %w", err))
}

// tailBuffer keeps the last 1 KiB written to it.
type tailBuffer struct{ b []byte }

const tailMax = 1 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > tailMax {
		t.b = t.b[len(t.b)-tailMax:]
	}
	return len(p), nil
}

// hint returns ": <stderr>" on one line, or "" when stderr was empty.
func (t *tailBuffer) hint() string {
	s := strings.Join(strings.Fields(string(t.b)), " ")
	if s == "" {
		return ""
	}
	return ": " + s
}
