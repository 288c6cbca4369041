package quota

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/store"
)

// countingStore counts the engine's write transactions.
type countingStore struct {
	*store.Store
	writes, states atomic.Int64
}

func (c *countingStore) Write(ctx context.Context, b store.Batch) error {
	c.writes.Add(1)
	return c.Store.Write(ctx, b)
}

func (c *countingStore) SetState(ctx context.Context, id int64, st store.AccountState, reason, url string, at time.Time) error {
	c.states.Add(1)
	return c.Store.SetState(ctx, id, st, reason, url, at)
}

// A round is one write: the accounts' tiers (read for the first time),
// their figures, events and outcomes, and a state change found by the
// sync, together, instead of a transaction per account beside the batch.
func TestRoundIsOneWrite(t *testing.T) {
	e := newEnv(t, cloudcodetest.Options{}, Options{},
		cloudcodetest.AccountSpec{Email: "a@example.com", TierID: "g1-pro-tier"},
		cloudcodetest.AccountSpec{Email: "b@example.com", TierID: "g1-ultra-tier"},
		cloudcodetest.AccountSpec{Email: "c@example.com", TierID: "free-tier"})
	e.srv.FlagValidation("c@example.com", "https://accounts.example/verify")
	cs := &countingStore{Store: e.st}
	m, err := newManager(context.Background(), e.up, e.tokens, cs, Options{Clock: e.clk, Logger: e.m.log})
	if err != nil {
		t.Fatal(err)
	}
	res := m.SyncAll(context.Background())
	if res.OK != 2 {
		t.Fatalf("round: %+v", res)
	}
	if w, s := cs.writes.Load(), cs.states.Load(); w != 1 || s != 0 {
		t.Errorf("%d batch writes and %d state writes for one round, want 1 and 0", w, s)
	}
	rows, _ := e.st.Accounts(context.Background())
	for _, r := range rows {
		if r.Tier == "" || r.SyncedAt.IsZero() && r.SyncError == "" {
			t.Errorf("%s: tier %q synced %v error %q: the round's write lacks it", r.Email, r.Tier, r.SyncedAt, r.SyncError)
		}
		if r.Email == "c@example.com" && r.State != store.StateValidationRequired {
			t.Errorf("c: state %s, want validation_required written with the round", r.State)
		}
	}
}
