// Package storetest is the contract every quotatui store keeps, run
// against each backend: the SQLite store (package store) and the
// PostgreSQL store (package store/pg). A rule tested here holds on both,
// so the quota engine, the token source and the proxy can be given
// either.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/store"
)

// Backend is everything a store offers the rest of quotatui: the union of
// what its users (quota, auth, proxy, cmd) declare.
type Backend interface {
	Backend() string
	Accounts(ctx context.Context) ([]store.Account, error)
	Account(ctx context.Context, id int64) (store.Account, error)
	AccountByEmail(ctx context.Context, email string) (store.Account, error)
	UpsertAccounts(ctx context.Context, accts []store.Account) ([]store.Account, error)
	UpdateTokens(ctx context.Context, id int64, access string, expiry time.Time, refresh string) error
	SetState(ctx context.Context, id int64, state store.AccountState, reason, validationURL string, at time.Time) error
	SetDisabled(ctx context.Context, id int64, disabled bool, at time.Time) error
	SetTier(ctx context.Context, id int64, projectID, tierID, tierName, tier string, checkedAt time.Time) error
	ClearTierCache(ctx context.Context) error
	SetLabel(ctx context.Context, id int64, label string) error
	SetRouting(ctx context.Context, id int64, r store.Routing) error
	DeleteAccount(ctx context.Context, id int64) error
	AccountsVersion(ctx context.Context) (int64, error)
	SyncVersion(ctx context.Context) (int64, error)
	RecordSync(ctx context.Context, at time.Time, samples []store.Sample, events []store.Event) error
	AddEvents(ctx context.Context, events []store.Event) error
	Write(ctx context.Context, b store.Batch) error
	History(ctx context.Context, accountID int64, family, window string, since time.Time) ([]store.Point, error)
	Latest(ctx context.Context) ([]store.Sample, error)
	Marks(ctx context.Context, now time.Time) ([]store.Mark, error)
	Events(ctx context.Context, accountID int64, limit int) ([]store.Event, error)
	Compact(ctx context.Context, now time.Time, rollupAfter, retention time.Duration) error
	Counters(ctx context.Context) (map[string]int64, error)
	SaveCounters(ctx context.Context, c map[string]int64) error
	TryLease(ctx context.Context, holder string, now time.Time, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, holder string) error
	Health() store.Health
	Close() error
	Ledger
}

// Opener opens a new, empty store for one test. A second call with the
// same test opens another handle on the same database (a second process).
type Opener func(t *testing.T) (first Backend, another func() Backend)

// t0 is the tests' epoch.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// Run runs the contract against the backend open makes.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		f    func(t *testing.T, open Opener)
	}{
		{"UpsertMerges", testUpsertMerges},
		{"UpsertValidation", testUpsertValidation},
		{"AccountUpdates", testAccountUpdates},
		{"MissingAccountIsNotFound", testMissingIsNotFound},
		{"DeleteCascades", testDeleteCascades},
		{"Routing", testRouting},
		{"Versions", testVersions},
		{"HistoryChangesOnly", testHistoryChangesOnly},
		{"HistorySince", testHistorySince},
		{"BatchSkipsDeletedAccounts", testSkipsDeleted},
		{"BatchRejectedWholly", testRejectedWholly},
		{"EventsOrder", testEventsOrder},
		{"Counters", testCounters},
		{"Marks", testMarks},
		{"AccountSyncs", testAccountSyncs},
		{"Compact", testCompact},
		{"CompactMatchesSQLite", testCompactMatchesSQLite},
		{"LeaseOneHolder", testLease},
		{"ConcurrentWriters", testConcurrentWriters},
		{"UsageSumsPerHour", testUsageSumsPerHour},
		{"UsageRefusesBadRows", testUsageRefusesBadRows},
		{"ConversationsAddUp", testConversationsAddUp},
		{"CompactUsage", testCompactUsage},
		{"CostReadings", testCostReadings},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.f(t, open)
		})
	}
}

func addAccounts(t *testing.T, s Backend, n int) []int64 {
	t.Helper()
	in := make([]store.Account, n)
	for i := range in {
		in[i] = store.Account{Email: fmt.Sprintf("user%04d@example.com", i), RefreshToken: "rt"}
	}
	out, err := s.UpsertAccounts(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, n)
	for i, a := range out {
		ids[i] = a.ID
	}
	return ids
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testUpsertMerges(t *testing.T, open Opener) {
	s, _ := open(t)
	ctx := context.Background()
	t1 := t0.Add(time.Hour)
	before := time.Now().Add(-time.Second)
	got, err := s.UpsertAccounts(ctx, []store.Account{
		{Email: " User@Example.com ", Label: "work", RefreshToken: "rt-old", AccessToken: "at-old", AccessExpiry: t0,
			ProjectID: "proj-old", TierID: "free-tier", Tier: "FREE", TierCheckedAt: t0},
		{Email: "b@example.com"},
		{Email: "user@EXAMPLE.com", RefreshToken: "rt-new", OAuthClientID: "other", AccessExpiry: t1, ProjectID: "proj-new"},
	})
	must(t, err)
	a := got[2]
	if got[0].ID != a.ID || got[1].ID == a.ID {
		t.Fatalf("ids %d %d %d: the third must merge into the first", got[0].ID, got[1].ID, a.ID)
	}
	if a.Email != "User@Example.com" || a.Label != "work" || a.RefreshToken != "rt-new" || a.OAuthClientID != "other" ||
		a.AccessToken != "at-old" || !a.AccessExpiry.Equal(t1) || a.ProjectID != "proj-new" || a.Tier != "FREE" ||
		a.State != store.StateActive || a.AddedAt.Before(before) {
		t.Errorf("merged account %+v", a)
	}
	stored, err := s.AccountByEmail(ctx, "USER@example.COM")
	must(t, err)
	if stored.ID != a.ID || stored.RefreshToken != "rt-new" || !stored.AddedAt.Equal(a.AddedAt) || !stored.AccessExpiry.Equal(t1) {
		t.Errorf("stored %+v, returned %+v", stored, a)
	}
	// A new refresh token revives needs_login; the same call without one does not.
	must(t, s.SetState(ctx, a.ID, store.StateNeedsLogin, "invalid_grant", "", t0))
	got, err = s.UpsertAccounts(ctx, []store.Account{{Email: a.Email, AccessToken: "at-x"}})
	must(t, err)
	if got[0].State != store.StateNeedsLogin {
		t.Errorf("needs_login without a new refresh token became %s", got[0].State)
	}
	got, err = s.UpsertAccounts(ctx, []store.Account{{Email: a.Email, RefreshToken: "rt-3"}})
	must(t, err)
	if got[0].State != store.StateActive || got[0].StateReason != "" {
		t.Errorf("a new refresh token left %s (%s)", got[0].State, got[0].StateReason)
	}
	all, err := s.Accounts(ctx)
	must(t, err)
	if len(all) != 2 || all[0].ID >= all[1].ID {
		t.Errorf("accounts %v, want 2 by id", all)
	}
}

func testUpsertValidation(t *testing.T, open Opener) {
	s, _ := open(t)
	ctx := context.Background()
	for _, tt := range []struct {
		batch []store.Account
		want  string
	}{
		{[]store.Account{{Email: "a@example.com"}, {Email: "  "}}, "account 1: empty email"},
		{[]store.Account{{Email: "a@example.com", State: "sleeping"}}, `account 0 (a@example.com): unknown state "sleeping"`},
	} {
		if _, err := s.UpsertAccounts(ctx, tt.batch); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want %q", err, tt.want)
		}
	}
	if all, _ := s.Accounts(ctx); len(all) != 0 {
		t.Errorf("a refused batch stored %d accounts", len(all))
	}
}

func testAccountUpdates(t *testing.T, open Opener) {
	s, _ := open(t)
	ctx := context.Background()
	accts, err := s.UpsertAccounts(ctx, []store.Account{{Email: "a@example.com", RefreshToken: "rt", ProjectID: "p"}})
	must(t, err)
	id := accts[0].ID
	exp := t0.Add(time.Hour)
	must(t, s.UpdateTokens(ctx, id, "at-1", exp, ""))
	a, _ := s.Account(ctx, id)
	if a.AccessToken != "at-1" || !a.AccessExpiry.Equal(exp) || a.RefreshToken != "rt" {
		t.Errorf("after UpdateTokens: %+v", a)
	}
	must(t, s.SetState(ctx, id, store.StateNeedsLogin, "invalid_grant", "", t0))
	must(t, s.UpdateTokens(ctx, id, "at-2", exp, "rt-2"))
	a, _ = s.Account(ctx, id)
	if a.RefreshToken != "rt-2" || a.State != store.StateActive || a.StateAt.Equal(t0) {
		t.Errorf("after UpdateTokens with a new refresh token: %+v", a)
	}
	must(t, s.SetState(ctx, id, store.StateValidationRequired, "VALIDATION_REQUIRED", "https://verify", t0))
	a, _ = s.Account(ctx, id)
	if a.State != store.StateValidationRequired || a.ValidationURL != "https://verify" || !a.StateAt.Equal(t0) {
		t.Errorf("after SetState: %+v", a)
	}
	if err := s.SetState(ctx, id, "nope", "", "", t0); err == nil {
		t.Error("SetState accepted an unknown state")
	}
	must(t, s.SetTier(ctx, id, "", "g1-ultra-tier", "Google AI Ultra", "ULTRA", t0))
	a, _ = s.Account(ctx, id)
	if a.ProjectID != "p" || a.Tier != "ULTRA" || !a.TierCheckedAt.Equal(t0) {
		t.Errorf("after SetTier without a project: %+v", a)
	}
	must(t, s.SetTier(ctx, id, "p2", "g1-ultra-tier", "Google AI Ultra", "ULTRA", t0))
	must(t, s.ClearTierCache(ctx))
	must(t, s.SetLabel(ctx, id, "mine"))
	must(t, s.SetDisabled(ctx, id, true, t0))
	a, _ = s.Account(ctx, id)
	if a.ProjectID != "p2" || !a.TierCheckedAt.IsZero() || a.Tier != "ULTRA" || a.Label != "mine" || !a.Disabled || !a.DisabledAt.Equal(t0) ||
		a.State != store.StateValidationRequired {
		t.Errorf("after ClearTierCache, SetLabel, SetDisabled: %+v", a)
	}
}

func testMissingIsNotFound(t *testing.T, open Opener) {
	s, _ := open(t)
	ctx := context.Background()
	const id = 404
	for name, call := range map[string]func() error{
		"Account":        func() error { _, err := s.Account(ctx, id); return err },
		"AccountByEmail": func() error { _, err := s.AccountByEmail(ctx, "nobody@example.com"); return err },
		"UpdateTokens":   func() error { return s.UpdateTokens(ctx, id, "a", t0, "") },
		"SetState":       func() error { return s.SetState(ctx, id, store.StateForbidden, "", "", t0) },
		"SetDisabled":    func() error { return s.SetDisabled(ctx, id, true, t0) },
		"SetTier":        func() error { return s.SetTier(ctx, id, "p", "t", "n", "FREE", t0) },
		"SetLabel":       func() error { return s.SetLabel(ctx, id, "x") },
		"SetRouting":     func() error { return s.SetRouting(ctx, id, store.Routing{}) },
		"DeleteAccount":  func() error { return s.DeleteAccount(ctx, id) },
	} {
		if err := call(); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
}

func testDeleteCascades(t *testing.T, open Opener) {
	s, _ := open(t)
	ctx := context.Background()
	ids := addAccounts(t, s, 2)
	gone, kept := ids[0], ids[1]
	for _, id := range ids {
		must(t, s.Write(ctx, store.Batch{At: t0,
			Samples: []store.Sample{{AccountID: id, Family: "gemini", Window: "5h", Fraction: 0.5}},
			Events:  []store.Event{{AccountID: id, Kind: "x"}},
			Marks:   []store.Mark{{AccountID: id, Family: "gemini", Kind: store.MarkCooldown, Until: t0.Add(time.Hour), Since: t0}}}))
	}
	must(t, s.DeleteAccount(ctx, gone))
	latest, _ := s.Latest(ctx)
	events, _ := s.Events(ctx, 0, 0)
	marks, _ := s.Marks(ctx, t0)
	if len(latest) != 1 || latest[0].AccountID != kept || len(events) != 1 || len(marks) != 1 || marks[0].AccountID != kept {
		t.Errorf("after deleting one account: latest %+v, events %+v, marks %+v", latest, events, marks)
	}
	if h, _ := s.History(ctx, gone, "gemini", "5h", time.Time{}); len(h) != 0 {
		t.Errorf("the deleted account's history stayed: %+v", h)
	}
}

func testRouting(t *testing.T, open Opener) {
	s, _ := open(t)
	ctx := context.Background()
	id := addAccounts(t, s, 1)[0]
	r := store.Routing{Priority: 7, Reserve: 0.25, Families: []string{"gemini", "claude-gpt"}, ProxyDisabled: true}
	must(t, s.SetRouting(ctx, id, r))
	a, _ := s.Account(ctx, id)
	if a.Routing.Priority != 7 || a.Routing.Reserve != 0.25 || strings.Join(a.Routing.Families, ",") != "gemini,claude-gpt" || !a.Routing.ProxyDisabled {
		t.Errorf("routing %+v", a.Routing)
	}
	for _, bad := range []store.Routing{{Priority: 1001}, {Reserve: 1}, {Reserve: math.NaN()}, {Families: []string{"Gem ini"}}} {
		if err := s.SetRouting(ctx, id, bad); err == nil {
			t.Errorf("SetRouting(%+v) accepted", bad)
		}
	}
	if a2, _ := s.Account(ctx, id); a2.Routing.Priority != 7 {
		t.Errorf("a refused setting changed the routing: %+v", a2.Routing)
	}
}

func testVersions(t *testing.T, open Opener) {
	s, _ := open(t)
	ctx := context.Background()
	av := func() int64 { v, err := s.AccountsVersion(ctx); must(t, err); return v }
	sv := func() int64 { v, err := s.SyncVersion(ctx); must(t, err); return v }
	a0, s0 := av(), sv()
	id := addAccounts(t, s, 1)[0]
	a1 := av()
	if a1 == a0 {
		t.Error("adding an account did not move the accounts version")
	}
	must(t, s.UpdateTokens(ctx, id, "at", t0, ""))
	if av() != a1 {
		t.Error("a refreshed access token moved the accounts version")
	}
	for name, change := range map[string]func() error{
		"SetDisabled": func() error { return s.SetDisabled(ctx, id, true, t0) },
		"SetState":    func() error { return s.SetState(ctx, id, store.StateForbidden, "x", "", t0) },
		"SetRouting":  func() error { return s.SetRouting(ctx, id, store.Routing{Priority: 3}) },
		"a mark": func() error {
			return s.Write(ctx, store.Batch{Marks: []store.Mark{{AccountID: id, Family: "gemini", Kind: store.MarkExhausted, Until: t0.Add(time.Hour)}}})
		},
	} {
		before := av()
		must(t, change())
		if av() == before {
			t.Errorf("%s did not move the accounts version", name)
		}
	}
	if sv() != s0 {
		t.Error("account changes moved the sync version")
	}
	must(t, s.Write(ctx, store.Batch{At: t0, Samples: []store.Sample{{AccountID: id, Family: "gemini", Window: "5h", Fraction: 1}}}))
	if sv() == s0 {
		t.Error("figures did not move the sync version")
	}
}

func testHistoryChangesOnly(t *testing.T, open Opener) {
	s, _ := open(t)
	ctx := context.Background()
	id := addAccounts(t, s, 1)[0]
	reset1, reset2 := t0.Add(5*time.Hour), t0.Add(10*time.Hour)
	min5 := func(n int) time.Time { return t0.Add(time.Duration(n) * 5 * time.Minute) }
	for i, st := range []struct {
		f     float64
		reset time.Time
	}{{0.9, reset1}, {0.9, reset1.Add(20 * time.Second)}, {0.9, reset1}, {0.5, reset1}, {0.5, reset2}, {0.5, reset2}, {0.9, reset1}} {
		must(t, s.RecordSync(ctx, min5(i), []store.Sample{{AccountID: id, Family: "gemini", Window: "5h", Fraction: st.f, ResetTime: st.reset}}, nil))
	}
	got, err := s.History(ctx, id, "gemini", "5h", time.Time{})
	must(t, err)
	want := []store.Point{
		{At: min5(0), LastSeen: min5(2), Fraction: 0.9, ResetTime: reset1},
		{At: min5(3), LastSeen: min5(3), Fraction: 0.5, ResetTime: reset1},
		{At: min5(4), LastSeen: min5(5), Fraction: 0.5, ResetTime: reset2},
		{At: min5(6), LastSeen: min5(6), Fraction: 0.9, ResetTime: reset1},
	}
	assertPoints(t, got, want)
	// A series sampled twice in one batch: its last sample is the latest.
	smp := func(f float64) store.Sample {
		return store.Sample{AccountID: id, Family: "gemini", Window: "weekly", Fraction: f}
	}
	must(t, s.RecordSync(ctx, t0, []store.Sample{smp(0.5), smp(0.5), smp(0.4)}, nil))
	must(t, s.RecordSync(ctx, t0.Add(time.Minute), []store.Sample{smp(0.4)}, nil))
	got, _ = s.History(ctx, id, "gemini", "weekly", time.Time{})
	if len(got) != 2 || got[1].Fraction != 0.4 || !got[1].LastSeen.Equal(t0.Add(time.Minute)) {
		t.Errorf("weekly history %+v", got)
	}
	latest, err := s.Latest(ctx)
	must(t, err)
	if len(latest) != 2 || latest[0].Window != "5h" || latest[0].Fraction != 0.9 || !latest[0].LastSeen.Equal(min5(6)) ||
		latest[1].Window != "weekly" || latest[1].Fraction != 0.4 {
		t.Errorf("latest %+v", latest)
	}
}

func assertPoints(t *testing.T, got, want []store.Point) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d points, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.At.Equal(w.At) || !g.LastSeen.Equal(w.LastSeen) || g.Fraction != w.Fraction || !g.ResetTime.Equal(w.ResetTime) || g.RolledUp != w.RolledUp {
			t.Errorf("point %d = %+v, want %+v", i, g, w)
		}
	}
}

func testHistorySince(t *testing.T, open Opener) {
	s, _ := open(t)
	ctx := context.Background()
	id := addAccounts(t, s, 1)[0]
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	for _, r := range []struct {
		h int
		f float64
	}{{0, 0.8}, {2, 0.8}, {3, 0.6}, {5, 0.6}} {
		must(t, s.RecordSync(ctx, at(r.h), []store.Sample{{AccountID: id, Family: "gemini", Window: "weekly", Fraction: r.f}}, nil))
	}
	p08 := store.Point{At: at(0), LastSeen: at(2), Fraction: 0.8}
	p06 := store.Point{At: at(3), LastSeen: at(5), Fraction: 0.6}
	for _, tt := range []struct {
		since time.Time
		want  []store.Point
	}{
		{time.Time{}, []store.Point{p08, p06}},
		{at(1), []store.Point{p08, p06}},
		{at(2), []store.Point{p08, p06}},
		{at(2).Add(time.Minute), []store.Point{p06}},
		{at(4), []store.Point{p06}},
		{at(6), nil},
	} {
		got, err := s.History(ctx, id, "gemini", "weekly", tt.since)
		must(t, err)
		assertPoints(t, got, tt.want)
	}
}

func testSkipsDeleted(t *testing.T, open Opener) {
	s, _ := open(t)
	ctx := context.Background()
	ids := addAccounts(t, s, 2)
	const deleted = 9999
	err := s.Write(ctx, store.Batch{At: t0,
		Samples: []store.Sample{
			{AccountID: ids[0], Family: "gemini", Window: "5h", Fraction: 0.5},
			{AccountID: deleted, Family: "gemini", Window: "5h", Fraction: 0.5},
			{AccountID: deleted, Family: "gemini", Window: "weekly", Fraction: 0.5},
			{AccountID: ids[1], Family: "gemini", Window: "5h", Fraction: 0.7},
		},
		Events:   []store.Event{{Kind: "x", AccountID: deleted}, {Kind: "y", AccountID: ids[1]}, {Kind: "z"}},
		Marks:    []store.Mark{{AccountID: deleted, Family: "gemini", Kind: store.MarkCooldown, Until: t0.Add(time.Hour)}},
		Accounts: []store.AccountSync{{AccountID: deleted, At: t0}, {AccountID: ids[0], At: t0}},
	})
	var skipped *store.SkippedError
	if !errors.As(err, &skipped) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("err = %v, want a *SkippedError matching ErrNotFound", err)
	}
	if skipped.Samples != 2 || skipped.Events != 1 || skipped.Marks != 1 || skipped.Accounts != 1 ||
		len(skipped.AccountIDs) != 1 || skipped.AccountIDs[0] != deleted {
		t.Errorf("skipped = %+v", skipped)
	}
	latest, _ := s.Latest(ctx)
	evs, _ := s.Events(ctx, 0, 0)
	a, _ := s.Account(ctx, ids[0])
	if len(latest) != 2 || len(evs) != 2 || !a.SyncedAt.Equal(t0) {
		t.Errorf("after a partly skipped batch: latest %+v, events %+v, synced %v", latest, evs, a.SyncedAt)
	}
	if err := s.AddEvents(ctx, []store.Event{{Kind: "x", AccountID: deleted}}); !errors.As(err, &skipped) || skipped.Events != 1 {
		t.Errorf("AddEvents for a deleted account: %v", err)
	}
}

func testRejectedWholly(t *testing.T, open Opener) {
	s, _ := open(t)
	ctx := context.Background()
	id := addAccounts(t, s, 1)[0]
	good := store.Sample{AccountID: id, Family: "gemini", Window: "5h", Fraction: 0.5}
	for _, tt := range []struct {
		b    store.Batch
		want string
	}{
		{store.Batch{Samples: []store.Sample{good, {AccountID: id, Window: "5h"}}}, "sample 1: empty family"},
		{store.Batch{Samples: []store.Sample{good, {AccountID: id, Family: "gemini", Window: "weekly", Fraction: math.NaN()}}}, "sample 1: fraction NaN"},
		{store.Batch{Samples: []store.Sample{good}, Events: []store.Event{{}}}, "event 0: empty kind"},
		{store.Batch{Samples: []store.Sample{good}, Marks: []store.Mark{{AccountID: id, Family: "gemini", Kind: "frozen", Until: t0}}}, "mark 0: unknown kind"},
		{store.Batch{Samples: []store.Sample{good}, Accounts: []store.AccountSync{{AccountID: id, State: &store.StateUpdate{State: "odd"}}}}, `account sync 0: unknown state "odd"`},
	} {
		if err := s.Write(ctx, tt.b); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("err = %v, want %q", err, tt.want)
		}
	}
	if latest, _ := s.Latest(ctx); len(latest) != 0 {
		t.Errorf("a refused batch wrote %+v", latest)
	}
}

func testEventsOrder(t *testing.T, open Opener) {
	s, _ := open(t)
	ctx := context.Background()
	ids := addAccounts(t, s, 2)
	var events []store.Event
	for i := range 6 {
		events = append(events, store.Event{At: t0.Add(time.Duration(i) * time.Minute), AccountID: ids[i%2], Kind: fmt.Sprint("k", i), Family: "gemini"})
	}
	events = append(events, store.Event{Kind: "global"}) // zero At: now, the newest
	must(t, s.AddEvents(ctx, events))
	for _, tt := range []struct {
		account int64
		limit   int
		want    string
	}{{0, 0, "global k5 k4 k3 k2 k1 k0"}, {0, 2, "global k5"}, {ids[1], 0, "k5 k3 k1"}, {ids[0], 1, "k4"}} {
		got, err := s.Events(ctx, tt.account, tt.limit)
		must(t, err)
		var kinds []string
		for _, e := range got {
			kinds = append(kinds, e.Kind)
		}
		if k := strings.Join(kinds, " "); k != tt.want {
			t.Errorf("Events(%d, %d) = %q, want %q", tt.account, tt.limit, k, tt.want)
		}
	}
}

func testCounters(t *testing.T, open Opener) {
	s, _ := open(t)
	ctx := context.Background()
	must(t, s.SaveCounters(ctx, map[string]int64{"a": 1, "b": 2}))
	must(t, s.SaveCounters(ctx, map[string]int64{"b": 5, "c": 7}))
	got, err := s.Counters(ctx)
	must(t, err)
	if len(got) != 3 || got["a"] != 1 || got["b"] != 5 || got["c"] != 7 {
		t.Errorf("counters = %v", got)
	}
}

func testMarks(t *testing.T, open Opener) {
	s, _ := open(t)
	ctx := context.Background()
	ids := addAccounts(t, s, 2)
	ex := store.Mark{AccountID: ids[0], Family: "gemini", Kind: store.MarkExhausted, Until: t0.Add(161 * time.Hour), Since: t0, Reason: "429"}
	cool := store.Mark{AccountID: ids[1], Family: "claude-gpt", Kind: store.MarkCooldown, Until: t0.Add(30 * time.Second), Since: t0, Reason: "rate"}
	must(t, s.Write(ctx, store.Batch{At: t0, Marks: []store.Mark{cool, ex}}))
	got, err := s.Marks(ctx, t0)
	must(t, err)
	if len(got) != 2 || got[0] != ex && !sameMark(got[0], ex) || !sameMark(got[1], cool) {
		t.Fatalf("marks %+v", got)
	}
	if got, _ := s.Marks(ctx, t0.Add(time.Minute)); len(got) != 1 || !sameMark(got[0], ex) {
		t.Errorf("a minute later %+v, want only the exhaustion", got)
	}
	longer := ex
	longer.Until = t0.Add(200 * time.Hour)
	must(t, s.Write(ctx, store.Batch{Marks: []store.Mark{longer}}))
	must(t, s.Write(ctx, store.Batch{Marks: []store.Mark{{AccountID: ids[1], Family: "claude-gpt"}}}))
	if got, _ := s.Marks(ctx, t0); len(got) != 1 || !sameMark(got[0], longer) {
		t.Errorf("after replacing and clearing: %+v", got)
	}
}

func sameMark(a, b store.Mark) bool {
	return a.AccountID == b.AccountID && a.Family == b.Family && a.Kind == b.Kind && a.Until.Equal(b.Until) && a.Since.Equal(b.Since) && a.Reason == b.Reason
}

func testAccountSyncs(t *testing.T, open Opener) {
	s, _ := open(t)
	ctx := context.Background()
	ids := addAccounts(t, s, 2)
	must(t, s.SetDisabled(ctx, ids[1], true, t0))
	must(t, s.SetTier(ctx, ids[0], "keep", "t", "n", "FREE", t0))
	must(t, s.Write(ctx, store.Batch{At: t0, Accounts: []store.AccountSync{
		{AccountID: ids[0], At: t0, Error: "boom", Unreadable: "429", UnreadableCause: "rate_limited", UnreadableUntil: t0.Add(time.Minute),
			Tier: &store.TierUpdate{TierID: "g1-pro-tier", TierName: "Pro", Tier: "PRO", CheckedAt: t0}},
		{AccountID: ids[1], At: t0, State: &store.StateUpdate{State: store.StateForbidden, Reason: "SERVICE_DISABLED", At: t0}},
	}}))
	a, _ := s.Account(ctx, ids[0])
	if !a.SyncedAt.Equal(t0) || a.SyncError != "boom" || a.Unreadable != "429" || a.UnreadableCause != "rate_limited" ||
		!a.UnreadableUntil.Equal(t0.Add(time.Minute)) || a.Tier != "PRO" || a.ProjectID != "keep" {
		t.Errorf("account 0 after its sync: %+v", a)
	}
	b, _ := s.Account(ctx, ids[1])
	if b.State != store.StateForbidden || b.StateReason != "SERVICE_DISABLED" || !b.Disabled {
		t.Errorf("account 1 after its sync: %+v (the user's disabled must stay)", b)
	}
}

func testCompact(t *testing.T, open Opener) {
	s, _ := open(t)
	ctx := context.Background()
	id := addAccounts(t, s, 1)[0]
	// Six raw rows in one hour two days ago, one the next hour, then the
	// newest row now.
	base := t0.Add(-48 * time.Hour)
	fr := []float64{0.9, 0.8, 0.85, 0.7, 0.75, 0.6}
	for i, f := range fr {
		at := base.Add(time.Duration(i) * 5 * time.Minute)
		must(t, s.RecordSync(ctx, at, []store.Sample{{AccountID: id, Family: "gemini", Window: "5h", Fraction: f, ResetTime: at.Add(time.Hour)}}, nil))
	}
	must(t, s.RecordSync(ctx, base.Add(70*time.Minute), []store.Sample{{AccountID: id, Family: "gemini", Window: "5h", Fraction: 0.5}}, nil))
	must(t, s.RecordSync(ctx, t0, []store.Sample{{AccountID: id, Family: "gemini", Window: "5h", Fraction: 0.4}}, nil))
	// Old events and an ended mark go.
	must(t, s.AddEvents(ctx, []store.Event{{At: t0.Add(-40 * 24 * time.Hour), Kind: "old"}, {At: t0, Kind: "new"}}))
	must(t, s.Write(ctx, store.Batch{Marks: []store.Mark{{AccountID: id, Family: "gemini", Kind: store.MarkCooldown, Until: t0.Add(-time.Minute)}}}))
	must(t, s.Compact(ctx, t0, 0, 0))
	got, err := s.History(ctx, id, "gemini", "5h", time.Time{})
	must(t, err)
	want := []store.Point{
		{At: base, LastSeen: base.Add(25 * time.Minute), Fraction: 0.6, ResetTime: base.Add(25 * time.Minute).Add(time.Hour), RolledUp: true},
		{At: base.Add(time.Hour), LastSeen: base.Add(70 * time.Minute), Fraction: 0.5, RolledUp: true},
		{At: t0, LastSeen: t0, Fraction: 0.4},
	}
	assertPoints(t, got, want)
	// Compacting again changes nothing; the newest row keeps extending.
	must(t, s.Compact(ctx, t0, 0, 0))
	must(t, s.RecordSync(ctx, t0.Add(time.Minute), []store.Sample{{AccountID: id, Family: "gemini", Window: "5h", Fraction: 0.4}}, nil))
	got, _ = s.History(ctx, id, "gemini", "5h", time.Time{})
	want[2].LastSeen = t0.Add(time.Minute)
	assertPoints(t, got, want)
	evs, _ := s.Events(ctx, 0, 0)
	if len(evs) != 1 || evs[0].Kind != "new" {
		t.Errorf("events after compaction %+v", evs)
	}
}

func testLease(t *testing.T, open Opener) {
	a, another := open(t)
	b := another()
	ctx := context.Background()
	now := time.Now()
	take := func(s Backend, holder string) bool {
		t.Helper()
		ok, err := s.TryLease(ctx, holder, now, time.Minute)
		must(t, err)
		return ok
	}
	if !take(a, "a") {
		t.Fatal("the first holder did not get the lease")
	}
	if take(b, "b") {
		t.Fatal("a second holder got a held lease")
	}
	if !take(a, "a") {
		t.Fatal("the holder could not renew")
	}
	must(t, a.ReleaseLease(ctx, "a"))
	if !take(b, "b") {
		t.Fatal("the lease was not free after its release")
	}
	if take(a, "a") {
		t.Fatal("the old holder took the lease back while held")
	}
	if _, err := a.TryLease(ctx, "", now, time.Minute); err == nil {
		t.Error("an empty holder was accepted")
	}
}

// testConcurrentWriters writes from two handles at once (two processes):
// nothing fails, nothing is lost.
func testConcurrentWriters(t *testing.T, open Opener) {
	a, another := open(t)
	b := another()
	ctx := context.Background()
	ids := addAccounts(t, a, 5)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w, s := range []Backend{a, b} {
		wg.Go(func() {
			for i := range 20 {
				var smp []store.Sample
				var acc []store.AccountSync
				for _, id := range ids {
					smp = append(smp, store.Sample{AccountID: id, Family: "gemini", Window: "5h", Fraction: float64(i%5) / 10})
					acc = append(acc, store.AccountSync{AccountID: id, At: t0.Add(time.Duration(i) * time.Second)})
				}
				err := s.Write(ctx, store.Batch{At: t0.Add(time.Duration(i) * time.Second), Samples: smp, Accounts: acc,
					Events: []store.Event{{Kind: fmt.Sprintf("w%d", w)}},
					Marks:  []store.Mark{{AccountID: ids[i%len(ids)], Family: "gemini", Kind: store.MarkCooldown, Until: t0.Add(time.Hour)}}})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	evs, _ := a.Events(ctx, 0, 0)
	latest, _ := b.Latest(ctx)
	if len(evs) != 40 || len(latest) != len(ids) {
		t.Errorf("%d events (want 40), %d latest (want %d)", len(evs), len(latest), len(ids))
	}
}
