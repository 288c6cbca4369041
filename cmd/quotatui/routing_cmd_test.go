package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// routingOut is the routing part of `accounts list --json`.
type routingOut struct {
	Email            string   `json:"email"`
	Priority         int      `json:"priority"`
	Reserve          float64  `json:"reserve"`
	Families         []string `json:"families"`
	DisabledForProxy bool     `json:"disabled_for_proxy"`
}

func listRouting(t *testing.T, env func(string) string, dbPath string) map[string]routingOut {
	t.Helper()
	_, raw := listAccounts(t, env, dbPath)
	var got []routingOut
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatal(err)
	}
	out := map[string]routingOut{}
	for _, a := range got {
		out[a.Email] = a
	}
	return out
}

func TestAccountsSet(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "quotatui.db")
	file := filepath.Join(dir, "accounts.json")
	writeFile(t, file, `[{"email": "erin@example.com", "refresh_token": "1//erin", "label": "erin-laptop"},
		{"email": "frank@example.com", "refresh_token": "1//frank"}]`)
	env := testEnv(t)
	if r := runCLI(t, env, "", "accounts", "import", "--no-verify", "--db", dbPath, file); r.code != 0 {
		t.Fatalf("import exited %d: %s", r.code, r.stderr)
	}

	r := runCLI(t, env, "", "accounts", "set", "--db", dbPath, "erin-laptop",
		"priority=2", "reserve=0.2", "families=gemini", "disabled_for_proxy=true")
	if r.code != 0 {
		t.Fatalf("accounts set exited %d: %s", r.code, r.stderr)
	}
	if want := "erin@example.com: priority 2, reserve 20%, families gemini, monitored only\n"; r.stdout != want {
		t.Errorf("accounts set printed %q, want %q", r.stdout, want)
	}
	want := routingOut{Email: "erin@example.com", Priority: 2, Reserve: 0.2, Families: []string{"gemini"}, DisabledForProxy: true}
	got := listRouting(t, env, dbPath)
	if g := got["erin@example.com"]; g.Priority != want.Priority || g.Reserve != want.Reserve || strings.Join(g.Families, ",") != "gemini" || !g.DisabledForProxy {
		t.Errorf("list after set: %+v, want %+v", g, want)
	}
	if g := got["frank@example.com"]; g.Priority != 0 || g.Reserve != 0 || g.Families != nil || g.DisabledForProxy {
		t.Errorf("frank changed: %+v", g)
	}
	table := runCLI(t, env, "", "accounts", "list", "--db", dbPath)
	if !strings.Contains(table.stdout, "ROUTING") || !strings.Contains(table.stdout, "priority 2, reserve 20%, families gemini, monitored only") {
		t.Errorf("accounts list does not show the routing:\n%s", table.stdout)
	}

	// Bad input: a usage error naming the key and the allowed values, and
	// nothing written, not even the good settings beside it.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"erin-laptop", "priority=5", "reserve=2"}, "reserve=2: want a fraction from 0 up to (not including) 1"},
		{[]string{"erin-laptop", "families=gemini,mistral"}, `unknown family "mistral": want gemini, claude-gpt`},
		{[]string{"erin-laptop", "colour=blue"}, `unknown setting "colour": want priority, reserve, families or disabled_for_proxy`},
		{[]string{"erin-laptop", "disabled_for_proxy"}, `want key=value`},
		{[]string{"erin-laptop"}, "name at least one setting"},
	} {
		r := runCLI(t, env, "", append([]string{"accounts", "set", "--db", dbPath}, tt.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "usage: quotatui accounts set") {
			t.Errorf("accounts set %q: exit %d, stderr %q; want 2 and %q with the usage", tt.args, r.code, r.stderr, tt.want)
		}
	}
	if g := listRouting(t, env, dbPath)["erin@example.com"]; g.Priority != 2 || g.Reserve != 0.2 {
		t.Errorf("a refused command changed the account: %+v", g)
	}
	if r := runCLI(t, env, "", "accounts", "set", "--db", dbPath, "nobody@example.com", "priority=1"); r.code != 1 || !strings.Contains(r.stderr, "not found") {
		t.Errorf("unknown account: exit %d, stderr %q", r.code, r.stderr)
	}
	// Back to the defaults.
	r = runCLI(t, env, "", "accounts", "set", "--db", dbPath, "erin@example.com",
		"priority=0", "reserve=0", "families=all", "disabled_for_proxy=false")
	if r.code != 0 || r.stdout != "erin@example.com: default\n" {
		t.Errorf("reset to defaults: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// The help says what each key takes.
func TestAccountsSetHelp(t *testing.T) {
	r := runCLI(t, testEnv(t), "", "accounts", "set", "--help")
	for _, want := range []string{"usage: quotatui accounts set [flags] ACCOUNT KEY=VALUE...", "priority=N", "reserve=F", "families=LIST", "disabled_for_proxy=BOOL"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("accounts set --help lacks %q:\n%s", want, r.stdout)
		}
	}
}

// An unknown routing policy is a configuration error, like any other bad
// setting, before anything runs.
func TestUnknownRoutingPolicy(t *testing.T) {
	r := runCLI(t, testEnv(t, "QUOTATUI_ROUTING_POLICY=round-robin"), "", "status")
	if r.code == 0 || !strings.Contains(r.stderr, `routing.policy = "round-robin": want one of balanced, reset-aware, fill-first, priority (from env QUOTATUI_ROUTING_POLICY)`) {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}
