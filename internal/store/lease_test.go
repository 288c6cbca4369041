package store

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestLease(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	const ttl = 20 * time.Second
	try := func(holder string, at time.Time) bool {
		t.Helper()
		ok, err := s.TryLease(ctx, holder, at, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !try("a", t0) {
		t.Fatal("a could not take a free lease")
	}
	if try("b", t0.Add(5*time.Second)) {
		t.Error("b took a lease a holds")
	}
	if !try("a", t0.Add(10*time.Second)) {
		t.Error("a could not renew its lease")
	}
	if try("b", t0.Add(29*time.Second)) {
		t.Error("b took the renewed lease before it expired")
	}
	if !try("b", t0.Add(31*time.Second)) {
		t.Error("b could not take an expired lease")
	}
	if holder, exp, _ := s.Lease(ctx); holder != "b" || !exp.Equal(t0.Add(31*time.Second+ttl)) {
		t.Errorf("lease = %s until %v", holder, exp)
	}
	if err := s.ReleaseLease(ctx, "a"); err != nil { // not a's: nothing happens
		t.Fatal(err)
	}
	if try("a", t0.Add(32*time.Second)) {
		t.Error("a's release freed b's lease")
	}
	if err := s.ReleaseLease(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if !try("a", t0.Add(33*time.Second)) {
		t.Error("a could not take a released lease")
	}
}

// Processes asking for a free lease at the same moment: exactly one wins.
func TestLeaseOneWinner(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	var handles []*Store
	for range 4 {
		o, err := Open(ctx, s.Path())
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		handles = append(handles, o)
	}
	var (
		mu   sync.Mutex
		wins int
		wg   sync.WaitGroup
	)
	for i, h := range handles {
		wg.Go(func() {
			ok, err := h.TryLease(ctx, string(rune('a'+i)), t0, time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d holders won the lease, want 1", wins)
	}
}

// A batch's sync outcomes reach the account row beside the figures, and
// move the sync version, not the accounts version.
func TestBatchAccountSyncs(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	accts, _ := s.UpsertAccounts(ctx, []Account{{Email: "a@example.com"}})
	id := accts[0].ID
	av, _ := s.AccountsVersion(ctx)
	sv, _ := s.SyncVersion(ctx)
	err := s.Write(ctx, Batch{At: t0, Accounts: []AccountSync{{
		AccountID: id, At: t0, Unreadable: "403", UnreadableCause: "forbidden", UnreadableUntil: t0.Add(time.Minute),
		Tier: &TierUpdate{ProjectID: "p-1", TierID: "g1-pro-tier", TierName: "Google AI Pro", Tier: "PRO", CheckedAt: t0},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Account(ctx, id)
	if !a.SyncedAt.Equal(t0) || a.Unreadable != "403" || a.UnreadableCause != "forbidden" || !a.UnreadableUntil.Equal(t0.Add(time.Minute)) ||
		a.ProjectID != "p-1" || a.Tier != "PRO" || !a.TierCheckedAt.Equal(t0) {
		t.Errorf("account after the batch: %+v", a)
	}
	if v, _ := s.SyncVersion(ctx); v == sv {
		t.Error("the sync version did not move")
	}
	if v, _ := s.AccountsVersion(ctx); v != av+1 { // the tier is an account change
		t.Errorf("accounts version %d -> %d, want one move for the tier", av, v)
	}
	err = s.Write(ctx, Batch{At: t0, Accounts: []AccountSync{{AccountID: id, At: t0.Add(time.Minute), Error: "boom",
		State: &StateUpdate{State: StateForbidden, Reason: "r", At: t0}}}})
	if err != nil {
		t.Fatal(err)
	}
	if a, _ = s.Account(ctx, id); a.SyncError != "boom" || a.Unreadable != "" || a.State != StateForbidden || a.ProjectID != "p-1" {
		t.Errorf("after the second batch: %+v", a)
	}
	if err := s.Write(ctx, Batch{Accounts: []AccountSync{{AccountID: id, State: &StateUpdate{State: "disabled"}}}}); err == nil {
		t.Error("a batch could write disabled as an engine state")
	}
}
