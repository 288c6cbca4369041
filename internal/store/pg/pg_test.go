package pg_test

import (
	"context"
	"testing"

	"github.com/quotatui/quotatui/internal/store/pg"
	"github.com/quotatui/quotatui/internal/store/pg/pgtest"
	"github.com/quotatui/quotatui/internal/store/storetest"
)

// open opens the store at a fresh schema's URL, closed when the test ends.
func open(t *testing.T, u string) *pg.Store {
	t.Helper()
	s, err := pg.Open(context.Background(), u, pg.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestContract runs the store contract (storetest) against PostgreSQL.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (storetest.Backend, func() storetest.Backend) {
		u := pgtest.URL(t)
		return open(t, u), func() storetest.Backend { return open(t, u) }
	})
}
