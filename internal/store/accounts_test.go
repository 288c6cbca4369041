package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestUpsertAccountsMerge(t *testing.T) {
	t1 := t0.Add(time.Hour)
	base := Account{
		Email: "User@Example.com", Label: "work", RefreshToken: "rt-old", AccessToken: "at-old", AccessExpiry: t0,
		ProjectID: "proj-old", TierID: "free-tier", TierName: "Free", Tier: "FREE", TierCheckedAt: t0, AddedAt: t0,
	}
	tests := []struct {
		name  string
		old   Account // stored first (zero Email: nothing stored)
		in    Account
		check func(t *testing.T, got Account)
	}{
		{
			name: "new account gets defaults",
			in:   Account{Email: " new@example.com ", RefreshToken: "rt"},
			check: func(t *testing.T, got Account) {
				if got.Email != "new@example.com" || got.State != StateActive || !got.AddedAt.Equal(t1) || got.ID == 0 {
					t.Errorf("got %+v", fields(got))
				}
			},
		},
		{
			name: "email matched without case; non-empty fields overwrite",
			old:  base,
			in: Account{Email: "user@EXAMPLE.com", RefreshToken: "rt-new", AccessToken: "at-new", AccessExpiry: t1,
				ProjectID: "proj-new", TierID: "g1-pro-tier", TierName: "Google AI Pro", Tier: "PRO", TierCheckedAt: t1},
			check: func(t *testing.T, got Account) {
				want := base
				want.RefreshToken, want.AccessToken, want.AccessExpiry = "rt-new", "at-new", t1
				want.ProjectID, want.TierID, want.TierName, want.Tier, want.TierCheckedAt = "proj-new", "g1-pro-tier", "Google AI Pro", "PRO", t1
				want.ID, want.State, want.StateAt = got.ID, StateActive, t0
				if !accountsEqual(got, want) {
					t.Errorf("got  %+v\nwant %+v", fields(got), fields(want))
				}
			},
		},
		{
			name: "empty fields keep the stored ones",
			old:  base,
			in:   Account{Email: base.Email},
			check: func(t *testing.T, got Account) {
				want := base
				want.ID, want.State, want.StateAt = got.ID, StateActive, t0
				if !accountsEqual(got, want) {
					t.Errorf("got  %+v\nwant %+v", fields(got), fields(want))
				}
			},
		},
		{
			name: "new label replaces the old one",
			old:  base,
			in:   Account{Email: base.Email, Label: "home"},
			check: func(t *testing.T, got Account) {
				if got.Label != "home" {
					t.Errorf("label = %q", got.Label)
				}
			},
		},
		{
			name: "new refresh token revives needs_login",
			old:  withState(base, StateNeedsLogin, "invalid_grant"),
			in:   Account{Email: base.Email, RefreshToken: "rt-new"},
			check: func(t *testing.T, got Account) {
				if got.State != StateActive || got.StateReason != "" || !got.StateAt.Equal(t1) || got.RefreshToken != "rt-new" {
					t.Errorf("got %+v", fields(got))
				}
			},
		},
		{
			name: "same refresh token does not revive forbidden",
			old:  withState(base, StateForbidden, "SERVICE_DISABLED"),
			in:   Account{Email: base.Email, RefreshToken: "rt-new"},
			check: func(t *testing.T, got Account) {
				if got.State != StateForbidden || got.StateReason != "SERVICE_DISABLED" {
					t.Errorf("forbidden account changed state: %+v", fields(got))
				}
			},
		},
		{
			name: "needs_login without a new refresh token stays",
			old:  withState(base, StateNeedsLogin, "invalid_grant"),
			in:   Account{Email: base.Email, AccessToken: "at-new"},
			check: func(t *testing.T, got Account) {
				if got.State != StateNeedsLogin {
					t.Errorf("state = %s", got.State)
				}
			},
		},
		{
			name: "explicit state overwrites",
			old:  base,
			in:   Account{Email: base.Email, State: StateForbidden, StateReason: "by engine"},
			check: func(t *testing.T, got Account) {
				if got.State != StateForbidden || got.StateReason != "by engine" || !got.StateAt.Equal(t1) {
					t.Errorf("got %+v", fields(got))
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, now := openTest(t)
			ctx := context.Background()
			var oldID int64
			if tt.old.Email != "" {
				got, err := s.UpsertAccounts(ctx, []Account{tt.old})
				if err != nil {
					t.Fatal(err)
				}
				oldID = got[0].ID
			}
			*now = t1
			got, err := s.UpsertAccounts(ctx, []Account{tt.in})
			if err != nil {
				t.Fatal(err)
			}
			if oldID != 0 && got[0].ID != oldID {
				t.Errorf("merged into a new id %d, want %d", got[0].ID, oldID)
			}
			tt.check(t, got[0])
			// What was returned is what is stored.
			stored, err := s.Account(ctx, got[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if !accountsEqual(stored, got[0]) {
				t.Errorf("stored %+v\nreturned %+v", fields(stored), fields(got[0]))
			}
			if all, _ := s.Accounts(ctx); len(all) != 1 {
				t.Errorf("%d accounts stored, want 1", len(all))
			}
		})
	}
}

func withState(a Account, st AccountState, reason string) Account {
	a.State, a.StateReason, a.StateAt = st, reason, t0
	return a
}

func TestUpsertAccountsValidation(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		batch []Account
		want  string
	}{
		{"empty email", []Account{{Email: "a@example.com"}, {Email: "  "}}, "account 1: empty email"},
		{"unknown state", []Account{{Email: "a@example.com", State: "sleeping"}}, `account 0 (a@example.com): unknown state "sleeping"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.UpsertAccounts(ctx, tt.batch)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
			if all, _ := s.Accounts(ctx); len(all) != 0 {
				t.Errorf("a failed batch stored %d accounts", len(all))
			}
		})
	}
}

func TestUpsertAccountsOneBatch(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	got, err := s.UpsertAccounts(ctx, []Account{
		{Email: "a@example.com", Label: "first"},
		{Email: "b@example.com"},
		{Email: "A@example.com", RefreshToken: "rt"}, // merges into the first, in the same transaction
	})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].ID != got[2].ID || got[2].Label != "first" || got[2].RefreshToken != "rt" || got[1].ID == got[0].ID {
		t.Errorf("batch result %+v", got)
	}
	all, err := s.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].ID >= all[1].ID {
		t.Errorf("accounts = %v, want 2 by id", all)
	}
}

func TestAccountUpdates(t *testing.T) {
	s, now := openTest(t)
	ctx := context.Background()
	accts, err := s.UpsertAccounts(ctx, []Account{{Email: "a@example.com", RefreshToken: "rt", ProjectID: "p"}})
	if err != nil {
		t.Fatal(err)
	}
	id := accts[0].ID
	exp := t0.Add(time.Hour)

	if err := s.UpdateTokens(ctx, id, "at-1", exp, ""); err != nil {
		t.Fatal(err)
	}
	a, _ := s.Account(ctx, id)
	if a.AccessToken != "at-1" || !a.AccessExpiry.Equal(exp) || a.RefreshToken != "rt" {
		t.Errorf("after UpdateTokens with no refresh: %+v", fields(a))
	}

	if err := s.SetState(ctx, id, StateNeedsLogin, "invalid_grant", "", t0); err != nil {
		t.Fatal(err)
	}
	*now = t0.Add(time.Minute)
	if err := s.UpdateTokens(ctx, id, "at-2", exp, "rt-2"); err != nil {
		t.Fatal(err)
	}
	a, _ = s.Account(ctx, id)
	if a.RefreshToken != "rt-2" || a.State != StateActive || !a.StateAt.Equal(*now) {
		t.Errorf("after UpdateTokens with a new refresh: %+v", fields(a))
	}

	if err := s.SetState(ctx, id, StateValidationRequired, "VALIDATION_REQUIRED", "https://verify", t0); err != nil {
		t.Fatal(err)
	}
	a, _ = s.Account(ctx, id)
	if a.State != StateValidationRequired || a.ValidationURL != "https://verify" || !a.StateAt.Equal(t0) {
		t.Errorf("after SetState: %+v", fields(a))
	}
	if err := s.SetState(ctx, id, "nope", "", "", t0); err == nil {
		t.Error("SetState accepted an unknown state")
	}

	if err := s.SetTier(ctx, id, "", "g1-ultra-tier", "Google AI Ultra", "ULTRA", t0); err != nil {
		t.Fatal(err)
	}
	a, _ = s.Account(ctx, id)
	if a.ProjectID != "p" || a.Tier != "ULTRA" || a.TierID != "g1-ultra-tier" || !a.TierCheckedAt.Equal(t0) {
		t.Errorf("after SetTier with no project: %+v", fields(a))
	}
	if err := s.SetTier(ctx, id, "p2", "g1-ultra-tier", "Google AI Ultra", "ULTRA", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.ClearTierCache(ctx); err != nil {
		t.Fatal(err)
	}
	a, _ = s.Account(ctx, id)
	if a.ProjectID != "p2" || !a.TierCheckedAt.IsZero() || a.Tier != "ULTRA" {
		t.Errorf("after ClearTierCache: %+v", fields(a))
	}

	if err := s.SetLabel(ctx, id, "mine"); err != nil {
		t.Fatal(err)
	}
	if a, _ = s.AccountByEmail(ctx, "A@EXAMPLE.COM"); a.Label != "mine" {
		t.Errorf("label = %q", a.Label)
	}
}

func TestMissingAccountIsNotFound(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	const id = 404
	tests := []struct {
		name string
		call func() error
	}{
		{"Account", func() error { _, err := s.Account(ctx, id); return err }},
		{"AccountByEmail", func() error { _, err := s.AccountByEmail(ctx, "nobody@example.com"); return err }},
		{"UpdateTokens", func() error { return s.UpdateTokens(ctx, id, "a", t0, "") }},
		{"SetState", func() error { return s.SetState(ctx, id, StateForbidden, "", "", t0) }},
		{"SetDisabled", func() error { return s.SetDisabled(ctx, id, true, t0) }},
		{"SetTier", func() error { return s.SetTier(ctx, id, "p", "t", "n", "FREE", t0) }},
		{"SetLabel", func() error { return s.SetLabel(ctx, id, "x") }},
		{"DeleteAccount", func() error { return s.DeleteAccount(ctx, id) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, ErrNotFound) {
				t.Errorf("err = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestDeleteAccountCascades(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	accts, err := s.UpsertAccounts(ctx, []Account{{Email: "gone@example.com"}, {Email: "kept@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	gone, kept := accts[0].ID, accts[1].ID
	for i := range 3 {
		at := t0.Add(time.Duration(i) * 5 * time.Minute)
		var samples []Sample
		for _, id := range []int64{gone, kept} {
			samples = append(samples, Sample{AccountID: id, Family: "gemini", Window: "5h", Fraction: 1 - float64(i)/10})
		}
		events := []Event{{Kind: "quota_changed", AccountID: gone}, {Kind: "quota_changed", AccountID: kept}}
		if err := s.RecordSync(ctx, at, samples, events); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteAccount(ctx, gone); err != nil {
		t.Fatal(err)
	}
	count := func(query string, args ...any) int {
		t.Helper()
		var n int
		if err := s.read.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, table := range []string{"quota_history", "quota_latest", "events"} {
		if n := count(`SELECT count(*) FROM `+table+` WHERE account_id = ?`, gone); n != 0 {
			t.Errorf("%d %s rows left for the deleted account", n, table)
		}
		if n := count(`SELECT count(*) FROM `+table+` WHERE account_id = ?`, kept); n == 0 {
			t.Errorf("%s rows of the other account were deleted", table)
		}
	}
	if _, err := s.Account(ctx, gone); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted account still readable: %v", err)
	}
}
