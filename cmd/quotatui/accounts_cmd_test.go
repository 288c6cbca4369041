package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/store"
)

// accountsOut is the part of `accounts list --json` the tests read.
type accountsOut struct {
	ID    int64  `json:"id"`
	Label string `json:"label"`
	Email string `json:"email"`
}

func listAccounts(t *testing.T, env func(string) string, dbPath string) ([]accountsOut, string) {
	t.Helper()
	r := runCLI(t, env, "", "accounts", "list", "--json", "--db", dbPath)
	if r.code != 0 {
		t.Fatalf("accounts list --json exited %d: %s", r.code, r.stderr)
	}
	var got []accountsOut
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("accounts list --json does not parse: %v\n%s", err, r.stdout)
	}
	return got, r.stdout
}

func TestAccountsImportListRemove(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "quotatui.db")
	file := filepath.Join(dir, "accounts.json")
	const erinToken, frankToken = "1//import-erin-secret", "1//import-frank-secret"
	writeFile(t, file, `[
  {"email": "erin@example.com", "refresh_token": "`+erinToken+`", "label": "erin-laptop"},
  {"email": "frank@example.com", "refresh_token": "`+frankToken+`"}
]`)
	env := testEnv(t)

	r := runCLI(t, env, "", "accounts", "import", "--no-verify", "--db", dbPath, file)
	if r.code != 0 {
		t.Fatalf("accounts import exited %d: %s%s", r.code, r.stdout, r.stderr)
	}
	got, raw := listAccounts(t, env, dbPath)
	want := map[string]string{"erin@example.com": "erin-laptop", "frank@example.com": ""}
	if len(got) != len(want) {
		t.Fatalf("listed %d accounts; want %d:\n%s", len(got), len(want), raw)
	}
	for _, a := range got {
		label, ok := want[a.Email]
		if !ok {
			t.Errorf("unexpected account %+v", a)
		}
		if label != "" && a.Label != label {
			t.Errorf("%s labelled %q; want %q", a.Email, a.Label, label)
		}
	}
	for _, secret := range []string{erinToken, frankToken, "refresh_token", "access_token"} {
		if strings.Contains(raw, secret) {
			t.Errorf("accounts list --json shows %q:\n%s", secret, raw)
		}
	}

	r = runCLI(t, env, "", "accounts", "remove", "--yes", "--db", dbPath, "frank@example.com")
	if r.code != 0 || !strings.Contains(r.stdout, "removed frank@example.com") {
		t.Fatalf("accounts remove --yes: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	got, raw = listAccounts(t, env, dbPath)
	if len(got) != 1 || got[0].Email != "erin@example.com" {
		t.Errorf("after removing frank, list shows:\n%s", raw)
	}

	// Without --yes the answer is read from stdin; anything but yes keeps it.
	r = runCLI(t, env, "no\n", "accounts", "remove", "--db", dbPath, "erin-laptop")
	if r.code == 0 {
		t.Errorf("accounts remove answered no: exit 0, stdout %q", r.stdout)
	}
	if got, raw = listAccounts(t, env, dbPath); len(got) != 1 {
		t.Errorf("answering no removed the account:\n%s", raw)
	}
}

func TestAccountsAddTokenFromStdin(t *testing.T) {
	srv := cloudcodetest.NewServer(cloudcodetest.Options{Clock: clock.Real{}})
	t.Cleanup(srv.Close)
	acct := srv.AddAccount(cloudcodetest.AccountSpec{Email: "hedy@example.com", TierID: "g1-pro-tier"})
	dbPath := filepath.Join(t.TempDir(), "quotatui.db")
	env := testEnv(t)
	args := append([]string{"accounts", "add-token", "--label", "hedy-work"}, simFlags(srv, dbPath)...)

	r := runCLI(t, env, acct.RefreshToken+"\n", args...)
	if r.code != 0 {
		t.Fatalf("accounts add-token exited %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "added hedy@example.com") {
		t.Errorf("add-token output %q does not name the account it found through userinfo", r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, acct.RefreshToken) {
		t.Errorf("add-token echoed the refresh token")
	}
	if n := srv.Requests("hedy@example.com", "token"); n < 1 {
		t.Errorf("add-token did not verify the token with a refresh (%d token requests)", n)
	}

	st, err := store.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, err := st.AccountByEmail(context.Background(), "hedy@example.com")
	if err != nil {
		t.Fatalf("the added account is not in the store: %v", err)
	}
	if a.RefreshToken != acct.RefreshToken || a.Label != "hedy-work" {
		t.Errorf("stored refresh token matches: %v, label %q; want the pasted token and hedy-work", a.RefreshToken == acct.RefreshToken, a.Label)
	}

	// A dead token is refused and nothing is stored.
	other := srv.AddAccount(cloudcodetest.AccountSpec{Email: "joan@example.com"})
	srv.RevokeRefreshToken("joan@example.com")
	r = runCLI(t, env, other.RefreshToken+"\n", append([]string{"accounts", "add-token"}, simFlags(srv, dbPath)...)...)
	if r.code == 0 {
		t.Errorf("add-token accepted a revoked token: %s", r.stdout)
	}
	if _, err := st.AccountByEmail(context.Background(), "joan@example.com"); err == nil {
		t.Errorf("a revoked token was stored")
	}
}
