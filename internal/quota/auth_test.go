package quota

import (
	"context"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/auth"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// TestWithAuthTokens runs the manager with the real token source: an
// expired access token is refreshed once and the sync goes on; a revoked
// refresh token puts the account in needs_login, and it is skipped after.
func TestWithAuthTokens(t *testing.T) {
	e := newEnv(t, cloudcodetest.Options{}, Options{},
		cloudcodetest.AccountSpec{Email: "ok@example.com", TierID: "g1-pro-tier"},
		cloudcodetest.AccountSpec{Email: "expired@example.com", TierID: "g1-pro-tier"},
		cloudcodetest.AccountSpec{Email: "revoked@example.com", TierID: "g1-pro-tier"})
	ctx := context.Background()
	tokens := auth.NewTokens(auth.OAuthConfig{
		ClientID: cloudcodetest.DefaultClientID, ClientSecret: cloudcodetest.DefaultClientSecret,
		AuthURL: e.srv.AuthURL(), TokenURL: e.srv.TokenURL(), UserInfoURL: e.srv.UserInfoURL(),
	}, e.st, auth.TokensOptions{Clock: e.clk, HTTPClient: e.srv.Client()})
	m, err := NewManager(ctx, e.up, tokens, e.st, Options{Clock: e.clk, Logger: e.m.log})
	if err != nil {
		t.Fatal(err)
	}
	if res := m.SyncAll(ctx); res.OK != 3 {
		t.Fatalf("first sync: %+v", res)
	}
	e.srv.ExpireAccessTokens("expired@example.com")
	e.srv.ExpireAccessTokens("revoked@example.com")
	e.srv.RevokeRefreshToken("revoked@example.com")
	e.clk.Advance(time.Minute)
	res := m.SyncAll(ctx)
	if res.OK != 2 || res.Errors[e.id("revoked@example.com")] == nil {
		t.Fatalf("second sync: OK %d, errors %v", res.OK, res.Errors)
	}
	st, _ := m.Account(e.id("revoked@example.com"))
	if st.State != StateNeedsLogin {
		t.Errorf("revoked account state %s, want needs_login", st.State)
	}
	if c, _ := m.CheckQuota(ctx, e.id("revoked@example.com"), "gemini-3-flash"); c.Usable || c.Reason != ReasonNeedsLogin {
		t.Errorf("revoked account check %+v", c)
	}
	before := e.srv.TotalRequests("token")
	if res := m.SyncAll(ctx); res.Skipped != 1 || res.OK != 2 {
		t.Errorf("third sync: %+v", res)
	}
	if e.srv.TotalRequests("token") != before {
		t.Error("the needs-login account was refreshed again")
	}
}
