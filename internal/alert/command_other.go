//go:build !unix

package alert

import (
	"context"
	"os/exec"
)

// shellCommand runs line with cmd /C.
func shellCommand(ctx context.Context, line string) *exec.Cmd {
	return exec.CommandContext(ctx, "cmd", "/C", line)
}

// killGroup leaves cmd as it is: exec.CommandContext kills the shell, and
// WaitDelay bounds the wait for anything it started.
func killGroup(*exec.Cmd) {}
