package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestMarksRoundTrip(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	accts, err := s.UpsertAccounts(ctx, []Account{{Email: "a@example.com"}, {Email: "b@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := accts[0].ID, accts[1].ID
	exhausted := Mark{AccountID: a, Family: "gemini", Kind: MarkExhausted, Until: t0.Add(161 * time.Hour), Since: t0, Reason: "429"}
	cool := Mark{AccountID: b, Family: "claude-gpt", Kind: MarkCooldown, Until: t0.Add(30 * time.Second), Since: t0, Reason: "rate limited"}
	if err := s.Write(ctx, Batch{At: t0, Marks: []Mark{exhausted, cool}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Marks(ctx, t0)
	if err != nil || !sameMarks(got, []Mark{exhausted, cool}) {
		t.Fatalf("Marks = %+v (%v)", got, err)
	}
	// Expired marks are not loaded.
	if got, _ := s.Marks(ctx, t0.Add(time.Minute)); !sameMarks(got, []Mark{exhausted}) {
		t.Errorf("a minute later: %+v, want only the exhaustion", got)
	}
	// A later mark replaces; Kind "" clears; a deleted account's is skipped.
	longer := exhausted
	longer.Until = t0.Add(200 * time.Hour)
	if err := s.DeleteAccount(ctx, b); err != nil {
		t.Fatal(err)
	}
	err = s.Write(ctx, Batch{At: t0, Marks: []Mark{longer, {AccountID: b, Family: "gemini", Kind: MarkCooldown, Until: t0.Add(time.Hour)}}})
	var se *SkippedError
	if !errors.As(err, &se) {
		t.Errorf("mark of a deleted account: %v, want a SkippedError", err)
	}
	if got, _ := s.Marks(ctx, t0); len(got) != 1 || !got[0].Until.Equal(longer.Until) {
		t.Errorf("after replacing: %+v", got)
	}
	if err := s.Write(ctx, Batch{At: t0, Marks: []Mark{{AccountID: a, Family: "gemini"}}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Marks(ctx, t0); len(got) != 0 {
		t.Errorf("after clearing: %+v", got)
	}
	if err := s.Write(ctx, Batch{Marks: []Mark{{AccountID: a, Family: "gemini", Kind: "frozen", Until: t0}}}); err == nil {
		t.Error("an unknown kind was accepted")
	}
}

// sameMarks compares marks with times as instants.
func sameMarks(a, b []Mark) bool {
	norm := func(ms []Mark) []Mark {
		out := make([]Mark, len(ms))
		for i, m := range ms {
			m.Until, m.Since = m.Until.UTC(), m.Since.UTC()
			out[i] = m
		}
		return out
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func TestCompactPrunesEndedMarks(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	accts, _ := s.UpsertAccounts(ctx, []Account{{Email: "a@example.com"}})
	if err := s.Write(ctx, Batch{At: t0, Marks: []Mark{{AccountID: accts[0].ID, Family: "gemini", Kind: MarkCooldown, Until: t0.Add(time.Minute)}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(ctx, t0.Add(2*time.Minute), 0, 0); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.read.QueryRow(`SELECT count(*) FROM marks`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d mark rows after compaction (%v), want 0", n, err)
	}
}
