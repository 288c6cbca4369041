package storetest

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/store"
)

// Ledger is the store's ledger part, as the contract checks it.
type Ledger = store.Ledger

// usageRow is a row with every count set from n, so sums are easy to tell.
func usageRow(id int64, model, client string, n int64) store.UsageRow {
	return store.UsageRow{AccountID: id, Family: "gemini", Model: model, Client: client, Charged: n, Requests: n, Errors: 1,
		Tokens: store.Tokens{Prompt: 100 * n, Candidates: 10 * n, Thoughts: 5 * n, Cached: 50 * n, Total: 115 * n}}
}

// Flushes of two processes (two handles) sum per hour; SpendSince leaves
// out the asking process's own rows and everything before the time asked.
func testUsageSumsPerHour(t *testing.T, open Opener) {
	s, another := open(t)
	other := another()
	ctx := context.Background()
	ids := addAccounts(t, s, 2)
	v0, err := s.SpendVersion(ctx)
	must(t, err)
	write := func(b Backend, at time.Time, holder string, rows ...store.UsageRow) {
		t.Helper()
		must(t, b.WriteUsage(ctx, store.UsageBatch{At: at, Holder: holder, Rows: rows}))
	}
	write(s, t0.Add(time.Minute), "serve", usageRow(ids[0], "gemini-3-flash", "claude-cli", 2), usageRow(ids[1], "gemini-3-flash", "", 1))
	write(other, t0.Add(2*time.Minute), "dashboard", usageRow(ids[0], "gemini-3-flash", "claude-cli", 3))
	write(s, t0.Add(70*time.Minute), "serve", usageRow(ids[0], "gemini-3-flash", "claude-cli", 4))
	if v, _ := other.SpendVersion(ctx); v != v0+3 {
		t.Errorf("spend version %d after three flushes, want %d", v, v0+3)
	}

	hours, err := other.UsageHours(ctx, t0.Add(20*time.Minute), ids[0]) // from 9:00: the hour is not cut
	must(t, err)
	want := []store.UsageHour{
		{AccountID: ids[0], Family: "gemini", Model: "gemini-3-flash", Client: "claude-cli", Hour: t0, Charged: 5, Requests: 5, Errors: 2,
			Tokens: store.Tokens{Prompt: 500, Candidates: 50, Thoughts: 25, Cached: 250, Total: 575}},
		{AccountID: ids[0], Family: "gemini", Model: "gemini-3-flash", Client: "claude-cli", Hour: t0.Add(time.Hour), Charged: 4, Requests: 4, Errors: 1,
			Tokens: store.Tokens{Prompt: 400, Candidates: 40, Thoughts: 20, Cached: 200, Total: 460}},
	}
	if !reflect.DeepEqual(utc(hours), want) {
		t.Errorf("usage hours\n%+v\nwant\n%+v", hours, want)
	}
	if all, _ := s.UsageHours(ctx, t0, 0); len(all) != 3 {
		t.Errorf("every account's hours: %d rows, want 3: %+v", len(all), all)
	}

	spend, err := s.SpendSince(ctx, t0.Add(90*time.Second), "dashboard")
	must(t, err)
	wantSpend := []store.SpendRow{{AccountID: ids[0], Family: "gemini", At: t0.Add(70 * time.Minute), Charged: 4}}
	if !reflect.DeepEqual(utc(spend), wantSpend) {
		t.Errorf("spend since 9:01:30 by others than the dashboard = %+v, want %+v", spend, wantSpend)
	}
}

// A row of a deleted account is left out; an invalid one fails the batch
// and writes nothing; strings from clients are cut to their bounds.
func testUsageRefusesBadRows(t *testing.T, open Opener) {
	s, _ := open(t)
	ctx := context.Background()
	ids := addAccounts(t, s, 2)
	must(t, s.DeleteAccount(ctx, ids[1]))
	if err := s.WriteUsage(ctx, store.UsageBatch{At: t0, Rows: []store.UsageRow{usageRow(ids[0], "m", "", 1), usageRow(ids[1], "m", "", 1)}}); err != nil {
		t.Fatalf("a deleted account's row must be skipped, not fail the flush: %v", err)
	}
	bad := []store.UsageRow{
		{AccountID: ids[0], Model: "m"},
		{AccountID: ids[0], Family: "gemini"},
		{AccountID: ids[0], Family: "gemini", Model: "m", Charged: -1},
		{AccountID: ids[0], Family: "gemini", Model: "m", Tokens: store.Tokens{Total: -5}},
	}
	for i, r := range bad {
		err := s.WriteUsage(ctx, store.UsageBatch{At: t0, Rows: []store.UsageRow{usageRow(ids[0], "m", "", 1), r}})
		if err == nil || !strings.Contains(err.Error(), "row 1") {
			t.Errorf("bad row %d: err %v, want one naming row 1", i, err)
		}
	}
	if err := s.WriteUsage(ctx, store.UsageBatch{At: t0, Conversations: []store.Conversation{{Session: " "}}}); err == nil {
		t.Error("a conversation without a session was stored")
	}
	hours, _ := s.UsageHours(ctx, t0, 0)
	if len(hours) != 1 || hours[0].AccountID != ids[0] || hours[0].Requests != 1 {
		t.Errorf("after one good flush and refused ones: %+v", hours)
	}
	long := strings.Repeat("é", 100) // 200 bytes
	must(t, s.WriteUsage(ctx, store.UsageBatch{At: t0.Add(time.Minute), Rows: []store.UsageRow{usageRow(ids[0], "m", long, 1)},
		Conversations: []store.Conversation{{Session: long + long, Client: long, Requests: 1}}}))
	hours, _ = s.UsageHours(ctx, t0, 0)
	convs, _ := s.Conversations(ctx, t0, 0)
	if len(hours) != 2 || len(convs) != 1 {
		t.Fatalf("hours %+v conversations %+v", hours, convs)
	}
	for _, got := range []string{hours[1].Client, convs[0].Client, convs[0].Session} {
		if len(got) > 128 || !strings.HasPrefix(long+long, got) {
			t.Errorf("a client's string stored as %d bytes %q: want it cut on a rune boundary", len(got), got)
		}
	}
}

// Conversations add up across flushes and processes; the account and
// model are the latest; the most tokens come first.
func testConversationsAddUp(t *testing.T, open Opener) {
	s, another := open(t)
	other := another()
	ctx := context.Background()
	ids := addAccounts(t, s, 2)
	flush := func(b Backend, at time.Time, cs ...store.Conversation) {
		t.Helper()
		must(t, b.WriteUsage(ctx, store.UsageBatch{At: at, Holder: "p", Conversations: cs}))
	}
	flush(s, t0, store.Conversation{Session: "s1", Client: "claude-cli", AccountID: ids[0], Model: "claude-sonnet-4-6", First: t0, Last: t0,
		Requests: 2, Tokens: store.Tokens{Total: 100}})
	flush(other, t0.Add(time.Minute), store.Conversation{Session: "s2", Client: "gemini-cli", AccountID: ids[0], Model: "gemini-3-flash",
		First: t0.Add(time.Minute), Last: t0.Add(time.Minute), Requests: 1, Tokens: store.Tokens{Total: 150}})
	flush(other, t0.Add(2*time.Minute), store.Conversation{Session: "s1", Client: "claude-cli", AccountID: ids[1], Model: "claude-opus-4-6-thinking",
		First: t0.Add(2 * time.Minute), Last: t0.Add(2 * time.Minute), Requests: 1, Errors: 1, Tokens: store.Tokens{Prompt: 60, Total: 80}})
	// A flush that arrives late (an older conversation time) adds its
	// figures but does not take the conversation back to its account.
	flush(s, t0.Add(3*time.Minute), store.Conversation{Session: "s1", Client: "claude-cli", AccountID: ids[0], Model: "claude-sonnet-4-6",
		First: t0.Add(time.Minute), Last: t0.Add(time.Minute), Requests: 1, Tokens: store.Tokens{Total: 20}})
	got, err := s.Conversations(ctx, t0, 0)
	must(t, err)
	want := []store.Conversation{
		{Session: "s1", Client: "claude-cli", AccountID: ids[1], Model: "claude-opus-4-6-thinking", First: t0, Last: t0.Add(2 * time.Minute),
			Requests: 4, Errors: 1, Tokens: store.Tokens{Prompt: 60, Total: 200}},
		{Session: "s2", Client: "gemini-cli", AccountID: ids[0], Model: "gemini-3-flash", First: t0.Add(time.Minute), Last: t0.Add(time.Minute),
			Requests: 1, Tokens: store.Tokens{Total: 150}},
	}
	if !reflect.DeepEqual(utc(got), want) {
		t.Errorf("conversations\n%+v\nwant\n%+v", got, want)
	}
	if top, _ := s.Conversations(ctx, t0, 1); len(top) != 1 || top[0].Session != "s1" {
		t.Errorf("top 1: %+v", top)
	}
	if recent, _ := s.Conversations(ctx, t0.Add(90*time.Second), 0); len(recent) != 1 || recent[0].Session != "s1" {
		t.Errorf("seen since 9:01:30: %+v", recent)
	}
}

// CompactUsage rolls raw rows up per hour after rollupAfter and deletes
// what is older than the retention, conversations included; the sums a
// report reads do not change by the rollup, and the rolled-up rows are no
// process's recent spending.
func testCompactUsage(t *testing.T, open Opener) {
	s, another := open(t)
	ctx := context.Background()
	id := addAccounts(t, s, 1)[0]
	for i := range 6 * 12 { // six hours, a flush every 5 minutes, by two processes
		at := t0.Add(time.Duration(i) * 5 * time.Minute)
		holder := []string{"a", "b"}[i%2]
		must(t, s.WriteUsage(ctx, store.UsageBatch{At: at, Holder: holder, Rows: []store.UsageRow{usageRow(id, "gemini-3-flash", "cli", 1)},
			Conversations: []store.Conversation{{Session: at.Format("15"), Last: at, Requests: 1}}}))
	}
	before, _ := s.UsageHours(ctx, t0.Add(2*time.Hour), 0)
	must(t, s.CompactUsage(ctx, t0.Add(6*time.Hour), 2*time.Hour, 4*time.Hour))
	// Twice, by another process: nothing is rolled up twice.
	must(t, another().CompactUsage(ctx, t0.Add(6*time.Hour), 2*time.Hour, 4*time.Hour))
	after, err := s.UsageHours(ctx, t0, 0)
	must(t, err)
	if !reflect.DeepEqual(after, before) || len(after) != 4 {
		t.Errorf("hours after compaction\n%+v\nwant the same four sums as before\n%+v", after, before)
	}
	// Hours 2 and 3 rolled up, 4 and 5 raw: b's raw flushes are those of
	// hours 4 and 5 only.
	if spend, _ := s.SpendSince(ctx, t0, "a"); len(spend) != 12 {
		t.Errorf("spend since the start by others than a: %d flushes, want b's 12 raw ones", len(spend))
	}
	convs, _ := s.Conversations(ctx, time.Time{}, 0)
	if len(convs) != 4 || convs[3].Last.Before(t0.Add(2*time.Hour)) {
		t.Errorf("conversations after pruning: %+v, want the four last seen from hour 2 on", convs)
	}
}

// Readings are kept per key, the newest keep of each; the counter moves;
// a bad reading fails its batch.
func testCostReadings(t *testing.T, open Opener) {
	s, another := open(t)
	ctx := context.Background()
	v0, _ := s.CostVersion(ctx)
	var rs []store.CostReading
	for i := range 5 {
		rs = append(rs, store.CostReading{Tier: "PRO", Family: "gemini", Window: "5h", At: t0.Add(time.Duration(i) * time.Minute),
			Requests: float64(i + 1), Fell: 0.01})
	}
	rs = append(rs, store.CostReading{Tier: "PRO", Family: "gemini", Window: "weekly", At: t0, Requests: 3, Fell: 0.002})
	must(t, s.AddCostReadings(ctx, rs, 3))
	got, err := another().CostReadings(ctx)
	must(t, err)
	want := append(append([]store.CostReading(nil), rs[2:5]...), rs[5])
	if !reflect.DeepEqual(utc(got), want) {
		t.Errorf("readings\n%+v\nwant the newest 3 of 5h and the weekly one\n%+v", got, want)
	}
	if v, _ := s.CostVersion(ctx); v != v0+1 {
		t.Errorf("cost version %d, want %d", v, v0+1)
	}
	for i, bad := range []store.CostReading{
		{Family: "gemini", Window: "5h", Requests: 1},
		{Tier: "PRO", Family: "gemini", Window: "5h", Requests: 0, Fell: 0.1},
		{Tier: "PRO", Family: "gemini", Window: "5h", Requests: 1, Fell: 1.5},
	} {
		if err := s.AddCostReadings(ctx, []store.CostReading{rs[0], bad}, 3); err == nil || !strings.Contains(err.Error(), "reading 1") {
			t.Errorf("bad reading %d: %v", i, err)
		}
	}
	if again, _ := s.CostReadings(ctx); len(again) != len(got) {
		t.Errorf("a refused batch wrote %d readings", len(again)-len(got))
	}
}

// utc returns rows with every time.Time field in UTC, so that rows read
// back (local times) compare with DeepEqual to the ones written.
func utc[T any](rows []T) []T {
	out := make([]T, len(rows))
	for i := range rows {
		out[i] = rows[i]
		v := reflect.ValueOf(&out[i]).Elem()
		for j := range v.NumField() {
			if f := v.Field(j); f.Type() == reflect.TypeFor[time.Time]() {
				f.Set(reflect.ValueOf(f.Interface().(time.Time).UTC()))
			}
		}
	}
	return out
}
