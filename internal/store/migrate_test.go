package store

import (
	"context"
	"path/filepath"
	"testing"
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
		`INSERT INTO accounts (id, email, refresh_token, state, state_reason, added_at) VALUES
			(1, 'a@example.com', 'rt-a', 'active', '', 1),
			(2, 'b@example.com', 'rt-b', 'disabled', 'disabled by the user', 2),
			(3, 'c@example.com', 'rt-c', 'needs_login', 'invalid_grant', 3)`,
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
	want := map[string]AccountState{"a@example.com": StateActive, "b@example.com": StateDisabled, "c@example.com": StateNeedsLogin}
	if len(accts) != 3 {
		t.Fatalf("%d accounts after the upgrade, want 3", len(accts))
	}
	for _, a := range accts {
		if a.State != want[a.Email] || a.OAuthClientID != "" || a.RefreshToken == "" {
			t.Errorf("%s: state %q client %q, want %q and the default client", a.Email, a.State, a.OAuthClientID, want[a.Email])
		}
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
