package store

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
)

// Upgrading from schema 6 keeps every account and gives each the default
// routing: no priority, no reserve, every family, routed by the proxy.
func TestMigrateFromSchema6(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	oldDatabase(t, path, 6,
		`INSERT INTO accounts (id, email, label, refresh_token, state, state_reason, state_at, added_at, disabled, disabled_at) VALUES
			(1, 'a@example.com', 'work', 'rt-a', 'active', '', 1, 1, 0, 0),
			(2, 'b@example.com', '', 'rt-b', 'forbidden', 'nope', 2, 2, 1, 5)`)
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
	if len(accts) != 2 {
		t.Fatalf("%d accounts after the upgrade, want 2", len(accts))
	}
	for _, a := range accts {
		if !reflect.DeepEqual(a.Routing, Routing{}) {
			t.Errorf("%s: routing %+v after the upgrade, want the defaults", a.Email, a.Routing)
		}
	}
	if a, b := accts[0], accts[1]; a.Label != "work" || b.State != StateForbidden || b.StateReason != "nope" || !b.Disabled {
		t.Errorf("the upgrade changed the rows: %+v / %+v", a, b)
	}
	// The new columns take settings at once.
	r := Routing{Priority: 2, Reserve: 0.2, Families: []string{"gemini"}, ProxyDisabled: true}
	if err := s.SetRouting(ctx, 2, r); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Account(ctx, 2); !reflect.DeepEqual(got.Routing, r) {
		t.Errorf("routing read back %+v, want %+v", got.Routing, r)
	}
}

// Routing is the user's: it round-trips, moves the change counter (so
// running processes reload it), and nothing the engine or a login writes
// touches it.
func TestRoutingIsTheUsers(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	accts, err := s.UpsertAccounts(ctx, []Account{{Email: "a@example.com", RefreshToken: "rt"}})
	if err != nil {
		t.Fatal(err)
	}
	id := accts[0].ID
	v0, _ := s.AccountsVersion(ctx)
	want := Routing{Priority: -3, Reserve: 0.25, Families: []string{"gemini", "claude-gpt"}, ProxyDisabled: true}
	if err := s.SetRouting(ctx, id, want); err != nil {
		t.Fatal(err)
	}
	if v1, _ := s.AccountsVersion(ctx); v1 == v0 {
		t.Error("SetRouting did not move the accounts version: other processes would not reload it")
	}
	// The engine's writes and a new login leave it alone.
	if err := s.SetState(ctx, id, StateForbidden, "403", "", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpsertAccounts(ctx, []Account{{Email: "a@example.com", RefreshToken: "rt2", Label: "new", State: StateActive}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDisabled(ctx, id, true, t0); err != nil {
		t.Fatal(err)
	}
	got, err := s.Account(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Routing, want) {
		t.Errorf("routing %+v after engine writes and a login, want %+v", got.Routing, want)
	}
	// Back to the defaults.
	if err := s.SetRouting(ctx, id, Routing{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Account(ctx, id); !reflect.DeepEqual(got.Routing, Routing{}) {
		t.Errorf("routing %+v after clearing, want the defaults", got.Routing)
	}
	if err := s.SetRouting(ctx, id+100, want); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetRouting of a missing account: %v, want ErrNotFound", err)
	}
}

// Values the engine could not act on are refused, and nothing is written.
func TestSetRoutingRefusesBadValues(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	accts, err := s.UpsertAccounts(ctx, []Account{{Email: "a@example.com", RefreshToken: "rt"}})
	if err != nil {
		t.Fatal(err)
	}
	id := accts[0].ID
	good := Routing{Priority: 1, Reserve: 0.1, Families: []string{"gemini"}}
	if err := s.SetRouting(ctx, id, good); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]Routing{
		"reserve 1":          {Reserve: 1},
		"negative reserve":   {Reserve: -0.1},
		"priority too high":  {Priority: MaxPriority + 1},
		"priority too low":   {Priority: -MaxPriority - 1},
		"empty family":       {Families: []string{""}},
		"family with comma":  {Families: []string{"gemini,claude-gpt"}},
		"family with spaces": {Families: []string{"gemini "}},
	} {
		if err := s.SetRouting(ctx, id, r); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if got, _ := s.Account(ctx, id); !reflect.DeepEqual(got.Routing, good) {
		t.Errorf("a refused setting changed the row: %+v, want %+v", got.Routing, good)
	}
}
