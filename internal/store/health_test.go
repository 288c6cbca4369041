package store

import (
	"context"
	"os"
	"strings"
	"testing"
)

// A database that refuses writes is reported not writable, with SQLite's
// words, until a write works again; ordinary errors do not count.
func TestHealthWrites(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	accts, _ := s.UpsertAccounts(ctx, []Account{{Email: "a@example.com"}})
	if h := s.Health(); !h.Writable || len(h.Problems()) != 0 {
		t.Fatalf("fresh store: %+v", h)
	}
	if err := s.SetLabel(ctx, 404, "x"); err == nil {
		t.Fatal("no error for a missing account")
	}
	if h := s.Health(); !h.Writable {
		t.Errorf("a missing account made the store unwritable: %+v", h)
	}
	if err := s.SetReadOnly(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateTokens(ctx, accts[0].ID, "at", t0, ""); err == nil {
		t.Fatal("a read-only store took a write")
	}
	h := s.Health()
	if h.Writable || !strings.Contains(strings.Join(h.Problems(), " "), "database not writable") || !strings.Contains(h.WriteError, "readonly") {
		t.Errorf("after a refused write: %+v %q", h, h.Problems())
	}
	if err := s.Write(ctx, Batch{Events: []Event{{Kind: "x"}}}); err == nil {
		t.Fatal("a read-only store took a batch")
	}
	if err := s.SetReadOnly(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateTokens(ctx, accts[0].ID, "at", t0, ""); err != nil {
		t.Fatal(err)
	}
	if h := s.Health(); !h.Writable {
		t.Errorf("writable again, still reported: %+v", h)
	}
}

// A database file deleted while the store runs is noticed by CheckFile.
func TestHealthDeletedFile(t *testing.T) {
	s, _ := openTest(t)
	if err := s.CheckFile(); err != nil || s.Health().Deleted {
		t.Fatalf("fresh: %v %+v", err, s.Health())
	}
	if err := os.Remove(s.Path()); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckFile(); err != nil {
		t.Fatal(err)
	}
	if h := s.Health(); !h.Deleted || !strings.Contains(strings.Join(h.Problems(), " "), "database file deleted") {
		t.Errorf("after the file was removed: %+v", h)
	}
}
