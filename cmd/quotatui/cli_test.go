package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/syncbuf"
)

// syncBuffer is safe for concurrent writers and readers.
type syncBuffer = syncbuf.Buffer

// testEnv is a process environment for run: HOME points at a fresh
// temporary directory, so no default path reaches the user's files, and
// nothing else is set unless the test adds it.
func testEnv(t *testing.T, vars ...string) func(string) string {
	t.Helper()
	env := map[string]string{"HOME": t.TempDir()}
	for _, kv := range vars {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

// result is what one in-process run of quotatui gave.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs quotatui in-process with args, stdin and getenv, bounded by a
// minute so a hung command fails the test rather than the whole package.
func runCLI(t *testing.T, getenv func(string) string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut syncBuffer
	var in io.Reader = strings.NewReader(stdin)
	code := run(ctx, args, &cli{stdin: in, stdout: &out, stderr: &errOut, getenv: getenv})
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}
