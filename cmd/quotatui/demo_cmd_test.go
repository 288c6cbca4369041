package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quotatui/quotatui/internal/store"
)

// realToken is the refresh token of the "real" account the demo tests
// put in a database the demo must leave alone.
const realToken = "1//real-refresh-token-of-a-real-account"

// seedRealAccount creates a database at path holding one real-looking
// account, me@gmail.com.
func seedRealAccount(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.UpsertAccounts(ctx, []store.Account{{Email: "me@gmail.com", Label: "me", RefreshToken: realToken, State: store.StateActive}}); err != nil {
		t.Fatal(err)
	}
}

// checkRealAccountAlone fails the test unless the database at path still
// holds only the account seedRealAccount put there, unchanged.
func checkRealAccountAlone(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	accts, err := st.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != 1 {
		t.Fatalf("the database holds %d accounts; want only the real one: %+v", len(accts), accts)
	}
	if a := accts[0]; a.Email != "me@gmail.com" || a.RefreshToken != realToken || a.State != store.StateActive {
		t.Errorf("the real account changed: email %s, token kept %v, state %s", a.Email, a.RefreshToken == realToken, a.State)
	}
}

// A database holding real accounts is refused by the demo before it
// changes anything: no demo account is added, the real account keeps its
// state and its refresh token, and the token went nowhere.
func TestDemoRefusesDatabaseWithRealAccounts(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "quotatui.db")
	seedRealAccount(t, dbPath)
	r := runCLI(t, testEnv(t), "", "demo", "--db", dbPath, "--rate", "0")
	if r.code == 0 {
		t.Fatalf("demo ran on a database with a real account: stdout %q", r.stdout)
	}
	for _, want := range []string{dbPath, "me@gmail.com", "not the demo's"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the refusal does not say %q: %s", want, r.stderr)
		}
	}
	if strings.Contains(r.stdout+r.stderr, realToken) {
		t.Errorf("the output shows the real refresh token")
	}
	checkRealAccountAlone(t, dbPath)
}
