package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Closing the terminal sends SIGHUP; the demo must clean up as it does
// on q: its temporary directory goes.
func TestDemoCleansUpOnHangup(t *testing.T) {
	bin := quotatuiBinary(t)
	t.Parallel()
	_, tmp, env := isolatedEnv(t)
	p := startPane(t, 100, 30, runInShell(env, bin, "demo", "--rate", "0"))
	p.waitFor("the demo accounts in the table", 30*time.Second, containsAll("ACCOUNT", "ada"))
	if d := demoDirs(t, tmp); len(d) != 1 {
		t.Fatalf("while running, TMPDIR holds %v; want one quotatui-demo-* directory", d)
	}
	// Killing the tmux server closes the pane's terminal: the kernel
	// hangs up on the processes in it.
	p.tmux("kill-server")
	deadline := time.Now().Add(20 * time.Second)
	for len(demoDirs(t, tmp)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("20s after the terminal closed, TMPDIR still holds %v", demoDirs(t, tmp))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A --db that is not a database is refused with its mode untouched.
func TestNonDatabaseFileKeepsItsMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(path, []byte("my notes, not a database\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	for _, args := range [][]string{{"accounts", "list"}, {"status"}, {"config"}} {
		r := runCLI(t, testEnv(t), "", append(args, "--db", path)...)
		if args[0] == "config" {
			continue // config does not open the database
		}
		if r.code == 0 || !strings.Contains(r.stderr, "not an SQLite database") {
			t.Errorf("%v on a text file: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("refusing the file changed its mode to %v; want 0644", fi.Mode().Perm())
	}
	if data, _ := os.ReadFile(path); string(data) != "my notes, not a database\n" {
		t.Errorf("refusing the file changed it: %q", data)
	}
}

// serve logs to the file --log-file names, not to stderr.
func TestServeHonoursLogFile(t *testing.T) {
	dir := t.TempDir()
	dbPath, logPath := filepath.Join(dir, "quotatui.db"), filepath.Join(dir, "logs", "serve.log")
	srv, _ := seedSim(t, dbPath, statusAccounts[0])
	s := startServe(t, append(simFlags(srv, dbPath), "--proxy-listen", "127.0.0.1:0", "--log-file", logPath)...)
	if code := s.stop(t); code != 0 {
		t.Fatalf("serve exited %d: %s", code, s.stderr.String())
	}
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatalf("serve --log-file %s: %v", logPath, err)
	}
	for _, want := range []string{"level=INFO", "quotatui serving", "quotatui stopped"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the log file does not hold %q:\n%s", want, data)
		}
	}
	if strings.Contains(s.stderr.String(), "level=") {
		t.Errorf("with --log-file, serve still logs to stderr:\n%s", s.stderr.String())
	}
	if fi, err := os.Stat(logPath); err == nil && fi.Mode().Perm() != 0o600 {
		t.Errorf("the log file's mode is %v; want 0600", fi.Mode().Perm())
	}
}
