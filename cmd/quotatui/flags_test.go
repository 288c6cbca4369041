package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// Flags work before or after the arguments, in every command.
func TestFlagsAfterArguments(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "quotatui.db")
	file := filepath.Join(dir, "accounts.json")
	writeFile(t, file, `[{"email": "erin@example.com", "refresh_token": "1//erin"}, {"email": "frank@example.com", "refresh_token": "1//frank"}]`)
	// A simulator, so a verification that should not happen is counted
	// rather than failing for want of an OAuth client.
	srv := cloudcodetest.NewServer(cloudcodetest.Options{})
	t.Cleanup(srv.Close)
	env := testEnv(t)

	r := runCLI(t, env, "", append([]string{"accounts", "import", file, "--no-verify"}, simFlags(srv, dbPath)...)...)
	if r.code != 0 {
		t.Fatalf("accounts import FILE --no-verify: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if n := srv.TotalRequests("token"); n != 0 {
		t.Errorf("--no-verify after FILE still verified the tokens (%d token requests)", n)
	}
	if got, raw := listAccounts(t, env, dbPath); len(got) != 2 {
		t.Fatalf("after import, list shows:\n%s", raw)
	}

	steps := []struct {
		args []string
		want string
	}{
		{[]string{"accounts", "label", "erin@example.com", "erin-laptop", "--db", dbPath}, `labelled "erin-laptop"`},
		{[]string{"accounts", "disable", "erin-laptop", "--db", dbPath}, "disabled erin@example.com"},
		{[]string{"accounts", "enable", "--db", dbPath, "erin-laptop"}, "enabled erin@example.com"},
		{[]string{"accounts", "remove", "frank@example.com", "--yes", "--db", dbPath}, "removed frank@example.com"},
		{[]string{"accounts", "list", "--db", dbPath, "--json"}, `"erin@example.com"`},
		{[]string{"accounts", "export", "--db", dbPath}, "erin@example.com"},
		{[]string{"config", "--db", dbPath}, "db = " + `"` + dbPath + `"`},
		{[]string{"--db", dbPath, "config"}, "db = " + `"` + dbPath + `"`},
	}
	for _, st := range steps {
		r := runCLI(t, env, "", st.args...)
		if r.code != 0 || !strings.Contains(r.stdout, st.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %q in stdout", strings.Join(st.args, " "), r.code, r.stdout, r.stderr, st.want)
		}
	}
	if got, raw := listAccounts(t, env, dbPath); len(got) != 1 || got[0].Email != "erin@example.com" {
		t.Errorf("after removing frank with --yes after the argument, list shows:\n%s", raw)
	}

	// After "--" everything is an argument, even what looks like a flag.
	r = runCLI(t, env, "", "accounts", "import", "--no-verify", "--db", dbPath, "--", "--no-such-file")
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "--no-such-file") {
		t.Errorf("import -- --no-such-file: exit %d, output %q%q; want the file named in an error", r.code, r.stdout, r.stderr)
	}
}
