package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/store"
)

func TestTokenConcurrentCallsShareOneRefresh(t *testing.T) {
	e := newEnv(t)
	sa, acct := e.addAccount(t, "busy@example.com", t0.Add(-time.Minute))
	tk := e.tokens(TokensOptions{})

	const n = 50
	got := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			got[i], errs[i] = tk.Token(context.Background(), acct.ID)
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Token #%d: %v", i, errs[i])
		}
		if got[i] != got[0] {
			t.Fatalf("callers got different tokens")
		}
	}
	if r := e.sim.Requests("busy@example.com", "token"); r != 1 {
		t.Errorf("%d refreshes for %d concurrent callers, want exactly 1", r, n)
	}
	if got[0] == sa.AccessToken {
		t.Error("the expired access token was handed out")
	}
	stored, err := e.st.Account(context.Background(), acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.AccessToken != got[0] || !stored.AccessExpiry.Equal(t0.Add(3599*time.Second)) {
		t.Errorf("stored access/expiry = (%v, %v), want the new token expiring at %v",
			stored.AccessToken == got[0], stored.AccessExpiry, t0.Add(3599*time.Second))
	}
	if stored.RefreshToken != sa.RefreshToken {
		t.Error("refresh token changed although Google returned none")
	}
	// The new token works upstream.
	if _, err := e.cc.LoadCodeAssist(context.Background(), got[0]); err != nil {
		t.Errorf("refreshed token rejected: %v", err)
	}
}

func TestTokenRefreshesWithinLeeway(t *testing.T) {
	tests := []struct {
		name        string
		expiresIn   time.Duration
		leeway      time.Duration
		wantRefresh bool
	}{
		{"expired", -time.Second, 0, true},
		{"inside the minimum leeway", 59 * time.Second, 0, true},
		{"leeway below the minimum is raised", 59 * time.Second, time.Second, true},
		{"inside a longer leeway", 4 * time.Minute, 5 * time.Minute, true},
		{"comfortably valid", 10 * time.Minute, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			sa, acct := e.addAccount(t, "lee@example.com", t0.Add(tt.expiresIn))
			tk := e.tokens(TokensOptions{Leeway: tt.leeway})
			tok, err := tk.Token(context.Background(), acct.ID)
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			refreshed := e.sim.Requests("lee@example.com", "token") == 1
			if refreshed != tt.wantRefresh || (tok == sa.AccessToken) == tt.wantRefresh {
				t.Errorf("refreshed = %v (same token %v), want refresh %v", refreshed, tok == sa.AccessToken, tt.wantRefresh)
			}
			// A second call is served from the cache.
			if _, err := tk.Token(context.Background(), acct.ID); err != nil {
				t.Fatal(err)
			}
			if r := e.sim.Requests("lee@example.com", "token"); r > 1 {
				t.Errorf("%d refreshes after two calls", r)
			}
		})
	}
}

func TestTokenRefreshesAgainWhenTimePasses(t *testing.T) {
	e := newEnv(t)
	_, acct := e.addAccount(t, "clock@example.com", t0.Add(-time.Minute))
	tk := e.tokens(TokensOptions{})
	first, err := tk.Token(context.Background(), acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(59 * time.Minute) // 59 s left of the 3599 s token: inside the leeway
	second, err := tk.Token(context.Background(), acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if first == second || e.sim.Requests("clock@example.com", "token") != 2 {
		t.Errorf("no refresh ahead of expiry: same token %v, %d refreshes", first == second, e.sim.Requests("clock@example.com", "token"))
	}
}

func TestInvalidateForcesRefresh(t *testing.T) {
	e := newEnv(t)
	sa, acct := e.addAccount(t, "inv@example.com", t0.Add(time.Hour))
	tk := e.tokens(TokensOptions{})
	tok, err := tk.Token(context.Background(), acct.ID)
	if err != nil || tok != sa.AccessToken {
		t.Fatalf("Token = same %v, %v; want the stored token", tok == sa.AccessToken, err)
	}
	e.sim.ExpireAccessTokens("inv@example.com")
	tk.Invalidate(acct.ID)
	tok2, err := tk.Token(context.Background(), acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if tok2 == tok || e.sim.Requests("inv@example.com", "token") != 1 {
		t.Errorf("after Invalidate: same token %v, %d refreshes; want a new token from 1 refresh", tok2 == tok, e.sim.Requests("inv@example.com", "token"))
	}
	if _, err := e.cc.LoadCodeAssist(context.Background(), tok2); err != nil {
		t.Errorf("new token rejected: %v", err)
	}
}

func TestInvalidGrantMarksNeedsLogin(t *testing.T) {
	e := newEnv(t)
	_, acct := e.addAccount(t, "dead@example.com", t0.Add(-time.Minute))
	e.sim.RevokeRefreshToken("dead@example.com")
	var calls atomic.Int32
	var gotID atomic.Int64
	tk := e.tokens(TokensOptions{OnNeedsLogin: func(id int64, reason string) {
		calls.Add(1)
		gotID.Store(id)
	}})

	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = tk.Token(context.Background(), acct.ID)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		var nle *NeedsLoginError
		if !errors.As(err, &nle) || nle.AccountID != acct.ID {
			t.Fatalf("Token #%d error = %v, want *NeedsLoginError for account %d", i, err, acct.ID)
		}
		// The quota engine detects it without importing auth.
		var nl interface{ NeedsLogin() bool }
		if !errors.As(err, &nl) || !nl.NeedsLogin() {
			t.Fatalf("error does not implement NeedsLogin() bool")
		}
	}
	if c := calls.Load(); c != 1 || gotID.Load() != acct.ID {
		t.Errorf("OnNeedsLogin called %d times (id %d), want once for %d", c, gotID.Load(), acct.ID)
	}
	stored, err := e.st.Account(context.Background(), acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.State != store.StateNeedsLogin || stored.StateReason == "" {
		t.Errorf("state = %q (%q), want needs_login with a reason", stored.State, stored.StateReason)
	}

	// Later calls fail fast: no more token requests, no more callbacks.
	before := e.sim.TotalRequests("token")
	for range 3 {
		if _, err := tk.Token(context.Background(), acct.ID); err == nil {
			t.Fatal("Token succeeded for a needs_login account")
		}
	}
	if after := e.sim.TotalRequests("token"); after != before {
		t.Errorf("token endpoint called %d more times for a needs_login account", after-before)
	}
	if c := calls.Load(); c != 1 {
		t.Errorf("OnNeedsLogin called %d times, want 1", c)
	}

	// A new login (a new refresh token in the store) revives the account.
	fresh := e.sim.AddAccount(cloudcodetestSpec("dead@example.com", "g1-pro-tier"))
	if _, err := e.st.UpsertAccounts(context.Background(), []store.Account{{Email: "dead@example.com", RefreshToken: fresh.RefreshToken}}); err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Token(context.Background(), acct.ID); err != nil {
		t.Errorf("Token after a new login: %v", err)
	}
}

func TestStoredNeedsLoginAndDisabledSkipTheEndpoint(t *testing.T) {
	tests := []struct {
		name    string
		set     func(st *store.Store, id int64) error
		wantErr func(error) bool
	}{
		{"needs_login", func(st *store.Store, id int64) error {
			return st.SetState(context.Background(), id, store.StateNeedsLogin, "because", "", t0)
		}, func(err error) bool { var n *NeedsLoginError; return errors.As(err, &n) }},
		{"disabled", func(st *store.Store, id int64) error {
			return st.SetDisabled(context.Background(), id, true, t0)
		}, func(err error) bool { return errors.Is(err, ErrDisabled) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			_, acct := e.addAccount(t, "off@example.com", t0.Add(-time.Minute))
			if err := tt.set(e.st, acct.ID); err != nil {
				t.Fatal(err)
			}
			tk := e.tokens(TokensOptions{})
			for range 2 {
				if _, err := tk.Token(context.Background(), acct.ID); !tt.wantErr(err) {
					t.Fatalf("Token error = %v", err)
				}
			}
			if n := e.sim.TotalRequests("token"); n != 0 {
				t.Errorf("token endpoint called %d times", n)
			}
		})
	}
}

// TestRefreshTokenRotation uses a bare token endpoint, because the
// simulator (like Google, usually) never rotates refresh tokens.
func TestRefreshTokenRotation(t *testing.T) {
	tests := []struct {
		name        string
		newRefresh  string
		wantRefresh string
	}{
		{"kept when none returned", "", "1//original"},
		{"replaced when one is returned", "1//rotated", "1//rotated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := r.ParseForm(); err != nil || r.PostForm.Get("refresh_token") != "1//original" {
					w.WriteHeader(http.StatusBadRequest)
					json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
					return
				}
				w.Header().Set("Content-Type", "application/json")
				json.NewEncoder(w).Encode(map[string]any{"access_token": "ya29.new", "expires_in": 3599,
					"token_type": "Bearer", "refresh_token": tt.newRefresh})
			}))
			defer ts.Close()
			tk, id := e.bareTokens(t, ts, "1//original")
			if tok, err := tk.Token(context.Background(), id); err != nil || tok != "ya29.new" {
				t.Fatalf("Token = %q, %v", tok, err)
			}
			got, err := e.st.Account(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if got.RefreshToken != tt.wantRefresh {
				t.Errorf("stored refresh token = %q, want %q", got.RefreshToken, tt.wantRefresh)
			}
		})
	}
}

func TestTokenCallerCancelDoesNotCancelSharedRefresh(t *testing.T) {
	e := newEnv(t)
	entered := make(chan struct{})
	release := make(chan struct{})
	cancelled := make(chan bool, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		cancelled <- r.Context().Err() != nil
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "ya29.shared", "expires_in": 3599})
	}))
	defer ts.Close()
	tk, id := e.bareTokens(t, ts, "1//c")

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := tk.Token(ctx, id)
		first <- err
	}()
	<-entered
	second := make(chan string, 1)
	go func() {
		tok, _ := tk.Token(context.Background(), id)
		second <- tok
	}()
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller got %v, want context.Canceled", err)
	}
	close(release)
	if <-cancelled {
		t.Error("the shared refresh was cancelled when its first caller gave up")
	}
	if tok := <-second; tok != "ya29.shared" {
		t.Errorf("second caller got %q, want the shared token", tok)
	}
}

func TestVerify(t *testing.T) {
	e := newEnv(t)
	sa := e.sim.AddAccount(cloudcodetestSpec("v@example.com", "free-tier"))
	tk := e.tokens(TokensOptions{})
	access, expiry, err := tk.Verify(context.Background(), "", sa.RefreshToken)
	if err != nil || access == "" || !expiry.Equal(t0.Add(3599*time.Second)) {
		t.Fatalf("Verify = (%v, %v, %v)", access != "", expiry, err)
	}
	if email, err := tk.Email(context.Background(), access); err != nil || email != "v@example.com" {
		t.Errorf("Email = %q, %v", email, err)
	}
	e.sim.RevokeRefreshToken("v@example.com")
	_, _, err = tk.Verify(context.Background(), "", sa.RefreshToken)
	if err == nil {
		t.Fatal("Verify accepted a revoked token")
	}
	assertNoSecrets(t, "Verify error", err.Error(), sa.RefreshToken)
}

// BenchmarkTokenCached measures the hot path the proxy takes on every
// request: a cached, fresh access token, from many goroutines at once.
func BenchmarkTokenCached(b *testing.B) {
	e := newEnv(b)
	_, acct := e.addAccount(b, "bench@example.com", t0.Add(time.Hour))
	tk := e.tokens(TokensOptions{})
	ctx := context.Background()
	if _, err := tk.Token(ctx, acct.ID); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := tk.Token(ctx, acct.ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if n := e.sim.TotalRequests("token"); n != 0 {
		b.Errorf("%d refreshes on the cached path", n)
	}
}

// bareTokens stores an account with the refresh token and returns a Tokens
// whose token endpoint is ts, for behaviour the simulator does not have.
func (e *env) bareTokens(t *testing.T, ts *httptest.Server, refresh string) (*Tokens, int64) {
	t.Helper()
	stored, err := e.st.UpsertAccounts(context.Background(), []store.Account{{Email: "bare@example.com", RefreshToken: refresh}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.cfg
	cfg.TokenURL = ts.URL
	return NewTokens(cfg, e.st, TokensOptions{Clock: e.clk, HTTPClient: ts.Client()}), stored[0].ID
}

// A token just issued is kept in memory when the store cannot save it
// (full disk, read-only file): the account keeps working, the token
// endpoint is asked once per expiry, not once per request, and the save is
// retried until it works.
func TestRefreshedTokenKeptWhenTheStoreCannotSave(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, acct := e.addAccount(t, "disk@example.com", t0.Add(-time.Minute))
	tk := e.tokens(TokensOptions{})
	if err := e.st.SetReadOnly(ctx, true); err != nil {
		t.Fatal(err)
	}
	var first string
	for i := range 20 {
		tok, err := tk.Token(ctx, acct.ID)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if i == 0 {
			first = tok
		} else if tok != first {
			t.Fatalf("request %d got another token: refreshed again", i)
		}
	}
	if n := e.sim.TotalRequests("token"); n != 1 {
		t.Errorf("%d token calls for 20 requests with an unwritable store, want 1", n)
	}
	if _, err := e.cc.LoadCodeAssist(ctx, first); err != nil {
		t.Errorf("the kept token does not work: %v", err)
	}
	if !strings.Contains(e.logs.String(), "kept in memory") {
		t.Errorf("the failed save was not logged:\n%s", e.logs.String())
	}
	// The disk is back: the next request after the retry delay saves it.
	if err := e.st.SetReadOnly(ctx, false); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(saveRetryEvery + time.Second)
	if _, err := tk.Token(ctx, acct.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := e.st.Account(ctx, acct.ID)
	if got.AccessToken != first {
		t.Errorf("the kept token was not saved once the store could write")
	}
	if n := e.sim.TotalRequests("token"); n != 1 {
		t.Errorf("%d token calls, want still 1", n)
	}
}
