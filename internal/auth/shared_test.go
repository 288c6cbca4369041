package auth

import (
	"context"
	"sync"
	"testing"

	"github.com/quotatui/quotatui/internal/store"
	"github.com/quotatui/quotatui/internal/store/pg"
	"github.com/quotatui/quotatui/internal/store/pg/pgtest"
)

// Two instances on one PostgreSQL database refresh an account's token
// once between them: the second waits for the first's refresh and uses
// the token it stored. The same holds after a 401 both met with the same
// token. (On the old token source, each instance refreshed: 2 and 4
// calls to the token endpoint.)
func TestRefreshOnceAcrossInstances(t *testing.T) {
	u := pgtest.URL(t)
	e := newEnv(t)
	ctx := context.Background()
	stores := make([]*pg.Store, 2)
	for i := range stores {
		s, err := pg.Open(ctx, u, pg.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	sa := e.sim.AddAccount(cloudcodetestSpec("a@example.com", "g1-pro-tier"))
	// No access token stored: the first Token of each instance must refresh.
	rows, err := stores[0].UpsertAccounts(ctx, []store.Account{{Email: sa.Email, RefreshToken: sa.RefreshToken}})
	if err != nil {
		t.Fatal(err)
	}
	id := rows[0].ID
	instances := []*Tokens{
		NewTokens(e.cfg, stores[0], TokensOptions{Clock: e.clk, HTTPClient: e.hc, Logger: e.log}),
		NewTokens(e.cfg, stores[1], TokensOptions{Clock: e.clk, HTTPClient: e.hc, Logger: e.log}),
	}
	all := func() []string {
		var wg sync.WaitGroup
		got := make([]string, 2*len(instances))
		for i := range got {
			wg.Go(func() {
				tok, err := instances[i%2].Token(ctx, id)
				if err != nil {
					t.Error(err)
				}
				got[i] = tok
			})
		}
		wg.Wait()
		return got
	}
	got := all()
	if n := e.sim.Requests(sa.Email, "token"); n != 1 {
		t.Errorf("%d refreshes by two instances, want 1", n)
	}
	for _, tok := range got[1:] {
		if tok != got[0] {
			t.Fatal("the instances hold different tokens")
		}
	}
	// Both meet a 401 with it: one refresh again, and both use its result.
	for _, in := range instances {
		in.Invalidate(id)
	}
	got = all()
	if n := e.sim.Requests(sa.Email, "token"); n != 2 {
		t.Errorf("%d refreshes after a 401 both met, want 2 in all", n)
	}
	for _, tok := range got[1:] {
		if tok != got[0] {
			t.Fatal("after the 401 the instances hold different tokens")
		}
	}
}
