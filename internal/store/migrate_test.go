package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// oldDatabase creates a database at path migrated only to version v, as an
// older quotatui left it, and runs seed on it.
func oldDatabase(t *testing.T, path string, v int, seed ...string) {
	t.Helper()
	db := rawDB(t, path+dsnParams)
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := enableWAL(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	if err := migrate(context.Background(), db, mustMigrations(t)[:v]); err != nil {
		t.Fatal(err)
	}
	for _, q := range seed {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// Upgrading from schema 2 keeps every account with its state, history and
// events, and gives each the default OAuth client.
func TestMigrateFromSchema2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	oldDatabase(t, path, 2,
		`INSERT INTO accounts (id, email, refresh_token, state, state_reason, state_at, added_at) VALUES
			(1, 'a@example.com', 'rt-a', 'active', '', 1, 1),
			(2, 'b@example.com', 'rt-b', 'disabled', 'disabled by the user', 2, 2),
			(3, 'c@example.com', 'rt-c', 'needs_login', 'invalid_grant', 3, 3)`,
		`INSERT INTO quota_history (account_id, family, bucket, fraction, reset_time, at, last_seen) VALUES (2, 'gemini', '5h', 0.5, 0, 10, 10)`,
		`INSERT INTO events (at, account_id, kind, message) VALUES (11, 3, 'account_disabled', 'x')`)
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	accts, err := s.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// "disabled" was a state; it is the user's own column now, and the
	// engine's state beside it is active.
	want := map[string]AccountState{"a@example.com": StateActive, "b@example.com": StateActive, "c@example.com": StateNeedsLogin}
	if len(accts) != 3 {
		t.Fatalf("%d accounts after the upgrade, want 3", len(accts))
	}
	for _, a := range accts {
		if a.State != want[a.Email] || a.OAuthClientID != "" || a.RefreshToken == "" || a.Disabled != (a.Email == "b@example.com") {
			t.Errorf("%s: state %q disabled %v client %q, want %q and the default client", a.Email, a.State, a.Disabled, a.OAuthClientID, want[a.Email])
		}
	}
	if b := accts[1]; !b.DisabledAt.Equal(fromMS(2)) || b.StateReason != "" {
		t.Errorf("b: disabled at %v reason %q, want when it was disabled and no engine reason", b.DisabledAt, b.StateReason)
	}
	if h, err := s.History(ctx, 2, "gemini", "5h", fromMS(1)); err != nil || len(h) != 1 {
		t.Errorf("history after the upgrade: %v, %v", h, err)
	}
	if ev, err := s.Events(ctx, 3, 10); err != nil || len(ev) != 1 {
		t.Errorf("events after the upgrade: %v, %v", ev, err)
	}
	// The new states are accepted.
	for _, st := range []AccountState{StateNeedsClient, StateClientMismatch} {
		if err := s.SetState(ctx, 1, st, "why", "", t0); err != nil {
			t.Errorf("SetState(%s): %v", st, err)
		}
	}
}

// Every change another process must act on moves the counter; a refreshed
// access token does not.
func TestAccountsVersion(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	v := func() int64 {
		t.Helper()
		n, err := s.AccountsVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	last := v()
	moved := func(what string, want bool) {
		t.Helper()
		now := v()
		if (now != last) != want {
			t.Errorf("%s: version %d -> %d, want moved=%v", what, last, now, want)
		}
		last = now
	}
	accts, err := s.UpsertAccounts(ctx, []Account{{Email: "a@example.com", RefreshToken: "rt"}})
	if err != nil {
		t.Fatal(err)
	}
	id := accts[0].ID
	moved("insert", true)
	if err := s.UpdateTokens(ctx, id, "at", t0, ""); err != nil {
		t.Fatal(err)
	}
	moved("access token refreshed", false)
	if err := s.SetDisabled(ctx, id, true, t0); err != nil {
		t.Fatal(err)
	}
	moved("disabled", true)
	if err := s.SetLabel(ctx, id, "work"); err != nil {
		t.Fatal(err)
	}
	moved("label", true)
	if err := s.SetState(ctx, id, StateForbidden, "x", "", t0); err != nil {
		t.Fatal(err)
	}
	moved("state", true)
	if err := s.Write(ctx, Batch{At: t0, Marks: []Mark{{AccountID: id, Family: "gemini", Kind: MarkCooldown, Until: t0.Add(time.Minute)}}}); err != nil {
		t.Fatal(err)
	}
	moved("mark", true)
	if err := s.Write(ctx, Batch{At: t0, Samples: []Sample{{AccountID: id, Family: "gemini", Window: "5h", Fraction: 0.5}}}); err != nil {
		t.Fatal(err)
	}
	moved("figures", false)
	if err := s.DeleteAccount(ctx, id); err != nil {
		t.Fatal(err)
	}
	moved("delete", true)
}
