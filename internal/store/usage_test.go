package store

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// usageRow is a row with every count set from n, so sums are easy to tell.
func usageRow(id int64, model, client string, n int64) UsageRow {
	return UsageRow{AccountID: id, Family: "gemini", Model: model, Client: client, Charged: n, Requests: n, Errors: 1,
		Tokens: Tokens{Prompt: 100 * n, Candidates: 10 * n, Thoughts: 5 * n, Cached: 50 * n, Total: 115 * n}}
}

// (The usage rules both backends keep are in storetest; what follows
// looks at SQLite's rows.)

// CompactUsage rolls raw rows up per hour after rollupAfter and deletes
// what is older than the retention, conversations included; the sums a
// report reads do not change by the rollup.
func TestCompactUsageRollsUpAndPrunes(t *testing.T) {
	s, _ := openTest(t)
	s.pruneChunk = 3
	ctx := context.Background()
	id := addAccounts(t, s, 1)[0]
	for i := range 6 * 12 { // six hours, a flush every 5 minutes, by two processes
		at := t0.Add(time.Duration(i) * 5 * time.Minute)
		holder := []string{"a", "b"}[i%2]
		if err := s.WriteUsage(ctx, UsageBatch{At: at, Holder: holder, Rows: []UsageRow{usageRow(id, "gemini-3-flash", "cli", 1)},
			Conversations: []Conversation{{Session: at.Format("15"), Last: at, Requests: 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := s.UsageHours(ctx, t0.Add(2*time.Hour), 0)
	if err := s.CompactUsage(ctx, t0.Add(6*time.Hour), 2*time.Hour, 4*time.Hour); err != nil {
		t.Fatal(err)
	}
	after, err := s.UsageHours(ctx, t0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after, before) {
		t.Errorf("hours after compaction\n%+v\nwant the same sums as before\n%+v", after, before)
	}
	var raw, rolled int
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FILTER (WHERE rolled_up = 0), COUNT(*) FILTER (WHERE rolled_up = 1) FROM token_usage`).
		Scan(&raw, &rolled); err != nil {
		t.Fatal(err)
	}
	// Hours 2 and 3 rolled up (one row each), hours 4 and 5 raw (24 rows).
	if raw != 24 || rolled != 2 {
		t.Errorf("%d raw and %d rolled-up rows, want 24 and 2", raw, rolled)
	}
	// The rollup forgets who served: nothing of it counts as another
	// process's recent spending.
	if spend, _ := s.SpendSince(ctx, t0, "a"); len(spend) != 12 {
		t.Errorf("spend since the start by others than a: %d flushes, want b's 12 raw ones", len(spend))
	}
	convs, _ := s.Conversations(ctx, time.Time{}, 0)
	if len(convs) != 4 || convs[3].Last.Before(t0.Add(2*time.Hour)) {
		t.Errorf("conversations after pruning: %+v, want the four last seen from hour 2 on", convs)
	}
}
