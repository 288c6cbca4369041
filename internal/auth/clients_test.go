package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/store"
)

// The Antigravity-like client that issued imported tokens, as the user
// configures it under [oauth.clients.antigravity].
const (
	agID     = "1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com"
	agSecret = "ag-secret"
)

// withClients adds the antigravity client to the simulator and returns a
// registry of the default client and it.
func (e *env) withClients(t *testing.T) *Clients {
	t.Helper()
	e.sim.AddClient(cloudcodetest.OAuthClient{ID: agID, Secret: agSecret})
	ag := e.cfg
	ag.Name, ag.ClientID, ag.ClientSecret = "antigravity", agID, agSecret
	def := e.cfg
	def.Name = "default"
	c, err := NewClients(def, ag)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// An account refreshes with the client its refresh token belongs to; an
// account with no recorded client uses the default.
func TestTokensRefreshWithTheAccountsClient(t *testing.T) {
	e := newEnv(t)
	clients := e.withClients(t)
	ctx := context.Background()
	imported := e.sim.AddAccount(cloudcodetest.AccountSpec{Email: "imported@example.com", TierID: "g1-pro-tier", ClientID: agID})
	own := e.sim.AddAccount(cloudcodetest.AccountSpec{Email: "own@example.com", TierID: "g1-pro-tier"})
	rows, err := e.st.UpsertAccounts(ctx, []store.Account{
		{Email: imported.Email, RefreshToken: imported.RefreshToken, OAuthClientID: agID},
		{Email: own.Email, RefreshToken: own.RefreshToken},
	})
	if err != nil {
		t.Fatal(err)
	}
	tk := e.tokens(TokensOptions{Clients: clients})
	for _, r := range rows {
		tok, err := tk.Token(ctx, r.ID)
		if err != nil {
			t.Fatalf("%s: %v", r.Email, err)
		}
		if _, err := e.cc.LoadCodeAssist(ctx, tok); err != nil {
			t.Errorf("%s: token refused upstream: %v", r.Email, err)
		}
	}
}

// An account whose client is not configured is needs_client, says which
// client id to configure and how, and costs no call to the token endpoint.
func TestUnconfiguredClientNeedsClient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	imported := e.sim.AddAccount(cloudcodetest.AccountSpec{Email: "imported@example.com", TierID: "g1-pro-tier"})
	rows, err := e.st.UpsertAccounts(ctx, []store.Account{{Email: imported.Email, RefreshToken: imported.RefreshToken, OAuthClientID: agID}})
	if err != nil {
		t.Fatal(err)
	}
	var states []store.AccountState
	tk := e.tokens(TokensOptions{OnState: func(_ int64, st store.AccountState, _ string) { states = append(states, st) }})
	for range 2 {
		_, err = tk.Token(ctx, rows[0].ID)
		var ce *ClientError
		if !errors.As(err, &ce) || ce.AccountState() != store.StateNeedsClient {
			t.Fatalf("Token = %v, want a needs-client ClientError", err)
		}
	}
	for _, want := range []string{agID, "[oauth.clients.", "client_id = \"" + agID + "\""} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if n := e.sim.TotalRequests("token"); n != 0 {
		t.Errorf("%d token calls for an account whose client is not configured", n)
	}
	got, _ := e.st.Account(ctx, rows[0].ID)
	if got.State != store.StateNeedsClient || !strings.Contains(got.StateReason, agID) {
		t.Errorf("stored state %s (%q), want needs_client naming the client", got.State, got.StateReason)
	}
	if len(states) != 1 || states[0] != store.StateNeedsClient {
		t.Errorf("OnState calls %v, want one needs_client", states)
	}

	// Once the client is configured, the account works again.
	tk = e.tokens(TokensOptions{Clients: e.withClients(t), OnState: func(_ int64, st store.AccountState, _ string) { states = append(states, st) }})
	fresh := e.sim.AddAccount(cloudcodetest.AccountSpec{Email: imported.Email, ClientID: agID})
	if _, err := e.st.UpsertAccounts(ctx, []store.Account{{Email: imported.Email, RefreshToken: fresh.RefreshToken, OAuthClientID: agID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Token(ctx, rows[0].ID); err != nil {
		t.Fatalf("with the client configured: %v", err)
	}
	if got, _ := e.st.Account(ctx, rows[0].ID); got.State != store.StateActive {
		t.Errorf("state after a good refresh: %s", got.State)
	}
}

// Refreshing with the wrong client is client_mismatch, not needs_login,
// and the message names the client that was used.
func TestClientMismatchIsItsOwnState(t *testing.T) {
	e := newEnv(t)
	clients := e.withClients(t)
	ctx := context.Background()
	sa := e.sim.AddAccount(cloudcodetest.AccountSpec{Email: "wrong@example.com", TierID: "g1-pro-tier", ClientID: agID})
	// Recorded as the default client's, which did not issue it.
	rows, err := e.st.UpsertAccounts(ctx, []store.Account{{Email: sa.Email, RefreshToken: sa.RefreshToken}})
	if err != nil {
		t.Fatal(err)
	}
	tk := e.tokens(TokensOptions{Clients: clients})
	_, err = tk.Token(ctx, rows[0].ID)
	var ce *ClientError
	if !errors.As(err, &ce) || ce.AccountState() != store.StateClientMismatch {
		t.Fatalf("Token = %v, want a client-mismatch ClientError", err)
	}
	var nle *NeedsLoginError
	if errors.As(err, &nle) {
		t.Error("a client mismatch must not read as needs login")
	}
	if !strings.Contains(err.Error(), `"default"`) || !strings.Contains(err.Error(), "unauthorized_client") {
		t.Errorf("error %q does not name the client used and Google's answer", err)
	}
	calls := e.sim.TotalRequests("token")
	if _, err := tk.Token(ctx, rows[0].ID); err == nil {
		t.Fatal("second Token succeeded")
	}
	if n := e.sim.TotalRequests("token"); n != calls {
		t.Errorf("the mismatch was retried against the token endpoint (%d more calls)", n-calls)
	}
	if got, _ := e.st.Account(ctx, rows[0].ID); got.State != store.StateClientMismatch || !strings.Contains(got.StateReason, "default") {
		t.Errorf("stored %s (%q), want client_mismatch naming the client", got.State, got.StateReason)
	}
	assertNoSecrets(t, "client mismatch error", err.Error(), sa.RefreshToken, agSecret, cloudcodetest.DefaultClientSecret)
}

// Import keeps a file's client id and maps it to a configured client;
// an unknown client imports the account as needs_client and says which id
// to configure; a token that belongs to another email fails its entry and
// writes nothing.
func TestImportClients(t *testing.T) {
	e := newEnv(t)
	clients := e.withClients(t)
	ctx := context.Background()
	ag := e.sim.AddAccount(cloudcodetest.AccountSpec{Email: "ag@example.com", TierID: "g1-pro-tier", ClientID: agID})
	dir := t.TempDir()
	known := filepath.Join(dir, "cliproxy.json")
	writeFile(t, known, fmt.Sprintf(`{"type":"antigravity","email":"ag@example.com","refresh_token":%q,"client_id":%q}`, ag.RefreshToken, agID))
	unknown := filepath.Join(dir, "am.json")
	writeFile(t, unknown, `{"email":"other@example.com","token":{"refresh_token":"1//someone","client_id":"999-other.apps.googleusercontent.com"}}`)
	tk := e.tokens(TokensOptions{Clients: clients})
	rep, err := Import(ctx, e.st, ImportOptions{Verifier: tk, Clients: clients, Paths: []string{known, unknown}})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	got, err := e.st.AccountByEmail(ctx, "ag@example.com")
	if err != nil || got.OAuthClientID != agID || got.State != store.StateActive || got.AccessToken == "" {
		t.Errorf("ag@: client %q state %s access %v (%v), want the antigravity client, verified", got.OAuthClientID, got.State, got.AccessToken != "", err)
	}
	other, err := e.st.AccountByEmail(ctx, "other@example.com")
	if err != nil || other.State != store.StateNeedsClient || other.OAuthClientID != "999-other.apps.googleusercontent.com" {
		t.Errorf("other@: %+v (%v), want needs_client with its client id kept", other, err)
	}
	if rep.Files[1].NeedsClient != 1 {
		t.Errorf("report %+v, want one account needing its client", rep.Files[1])
	}
	var b bytes.Buffer
	if err := rep.Write(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "999-other.apps.googleusercontent.com") || !strings.Contains(b.String(), "[oauth.clients.") {
		t.Errorf("report does not say which client to configure:\n%s", b.String())
	}

	// The token of ag@ presented as mallory@'s: the entry fails, nothing
	// from the file is written.
	liar := filepath.Join(dir, "liar.json")
	writeFile(t, liar, fmt.Sprintf(`[{"email":"fine@example.com","refresh_token":"1//x","client_id":"999-other.apps.googleusercontent.com"},{"email":"mallory@example.com","refresh_token":%q,"client_id":%q}]`, ag.RefreshToken, agID))
	_, err = Import(ctx, e.st, ImportOptions{Verifier: tk, Clients: clients, Paths: []string{liar}})
	if err == nil || !strings.Contains(err.Error(), "entry 2") || !strings.Contains(err.Error(), "ag@example.com") {
		t.Fatalf("Import of a token under the wrong email: %v, want entry 2 naming the real owner", err)
	}
	for _, email := range []string{"fine@example.com", "mallory@example.com"} {
		if _, err := e.st.AccountByEmail(ctx, email); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s was stored from a failed file", email)
		}
	}
}

// accounts list names each account's client.
func TestListShowsClients(t *testing.T) {
	e := newEnv(t)
	clients := e.withClients(t)
	ctx := context.Background()
	if _, err := e.st.UpsertAccounts(ctx, []store.Account{
		{Email: "a@example.com", RefreshToken: "1//a"},
		{Email: "b@example.com", RefreshToken: "1//b", OAuthClientID: agID},
		{Email: "c@example.com", RefreshToken: "1//c", OAuthClientID: "999-gone.apps.googleusercontent.com", State: store.StateNeedsClient},
	}); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := ListAccounts(ctx, e.st, &b, false, clients); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"CLIENT", "default", "antigravity", "999-gone.apps.googleusercontent.com (not configured)"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
}

// Client ids are public: the redaction keeps them readable while still
// hiding tokens.
func TestRedactKeepsClientIDs(t *testing.T) {
	in := "client " + agID + " refused 1//0gSecretRefreshToken and ya29.a0AfB_secret"
	out := Redact(in)
	if !strings.Contains(out, agID) || strings.Contains(out, "0gSecret") || strings.Contains(out, "a0AfB") {
		t.Errorf("Redact(%q) = %q", in, out)
	}
	_ = time.Second
}
