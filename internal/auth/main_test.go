package auth

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/store"
	"github.com/quotatui/quotatui/internal/syncbuf"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// t0 is where the fake clocks start.
var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// env is one test's world: a simulator on a fake clock, a fresh store,
// and the OAuth configuration pointing at the simulator.
type env struct {
	sim  *cloudcodetest.Server
	clk  *clock.Fake
	st   *store.Store
	cfg  OAuthConfig
	cc   *cloudcode.Client
	logs *syncBuffer
	log  *slog.Logger
	hc   *http.Client
}

func newEnv(t testing.TB) *env {
	t.Helper()
	clk := clock.NewFake(t0)
	sim := cloudcodetest.NewServer(cloudcodetest.Options{Clock: clk})
	t.Cleanup(sim.Close)
	st, err := store.Open(context.Background(), t.TempDir()+"/quotatui.db")
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &syncBuffer{}
	e := &env{
		sim: sim,
		clk: clk,
		st:  st,
		cfg: OAuthConfig{
			ClientID:     cloudcodetest.DefaultClientID,
			ClientSecret: cloudcodetest.DefaultClientSecret,
			AuthURL:      sim.AuthURL(),
			TokenURL:     sim.TokenURL(),
			UserInfoURL:  sim.UserInfoURL(),
		},
		cc:   cloudcode.New(cloudcode.Config{BaseURLs: sim.BaseURLs(), HTTPClient: sim.Client(), Clock: clk}),
		logs: logs,
		log:  slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		hc:   sim.Client(),
	}
	return e
}

func (e *env) tokens(opt TokensOptions) *Tokens {
	if opt.Clock == nil {
		opt.Clock = e.clk
	}
	if opt.HTTPClient == nil {
		opt.HTTPClient = e.hc
	}
	if opt.Logger == nil {
		opt.Logger = e.log
	}
	return NewTokens(e.cfg, e.st, opt)
}

// addAccount creates the account in the simulator and stores it with an
// access token expiring at expiry.
func (e *env) addAccount(t testing.TB, email string, expiry time.Time) (cloudcodetest.Account, store.Account) {
	t.Helper()
	sa := e.sim.AddAccount(cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	stored, err := e.st.UpsertAccounts(context.Background(), []store.Account{{
		Email: email, RefreshToken: sa.RefreshToken, AccessToken: sa.AccessToken, AccessExpiry: expiry,
	}})
	if err != nil {
		t.Fatalf("store account: %v", err)
	}
	return sa, stored[0]
}

// syncBuffer is safe for concurrent writers and readers.
type syncBuffer = syncbuf.Buffer

// assertNoSecrets fails if any of the secrets appears in text.
func assertNoSecrets(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s contains a token (%s):\n%s", what, RedactToken(s), text)
		}
	}
}

func cloudcodetestSpec(email, tier string) cloudcodetest.AccountSpec {
	return cloudcodetest.AccountSpec{Email: email, TierID: tier}
}
