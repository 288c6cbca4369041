//go:build unix

package alert

import (
	"context"
	"os/exec"
	"syscall"
)

// shellCommand runs line with sh -c.
func shellCommand(ctx context.Context, line string) *exec.Cmd {
	return exec.CommandContext(ctx, "/bin/sh", "-c", line)
}

// killGroup starts cmd in a process group of its own and makes a timeout
// kill the whole group, so a shell's children (sleep, curl) die with it
// instead of holding stdin/stderr open.
func killGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
