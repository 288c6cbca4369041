package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/quotatui/quotatui/internal/store"
	"github.com/quotatui/quotatui/internal/store/storetest"
)

// TestContract runs the store contract (storetest) against SQLite; the
// PostgreSQL store runs the same in internal/store/pg.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (storetest.Backend, func() storetest.Backend) {
		path := filepath.Join(t.TempDir(), "quotatui.db")
		open := func() storetest.Backend {
			s, err := store.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		return open(), open
	})
}
