package auth

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNoTokenInAnyLogLine runs a login, refreshes, an invalid_grant, a
// rejected login and an import with one logger writing to a buffer (not
// the redacting handler: the code itself must not log tokens), then checks
// that no token the run handled appears in any line.
func TestNoTokenInAnyLogLine(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var secrets []string

	// Login.
	e.sim.SetNextLogin("logged@example.com")
	var out strings.Builder
	acct, err := Login(ctx, e.loginOptions(&browser{t: t}, &out))
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	secrets = append(secrets, acct.RefreshToken, acct.AccessToken)

	// A rejected login (tampered state) and a denied one.
	_, err = Login(ctx, e.loginOptions(&browser{t: t, tamper: func(u *url.URL) {
		q := u.Query()
		secrets = append(secrets, q.Get("code"))
		q.Set("state", "x")
		u.RawQuery = q.Encode()
	}}, &out))
	if err == nil {
		t.Fatal("tampered login succeeded")
	}

	// Refreshes: ahead of expiry, after Invalidate, and a dead token.
	tk := e.tokens(TokensOptions{})
	e.clk.Advance(time.Hour)
	tok, err := tk.Token(ctx, acct.ID)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	tk.Invalidate(acct.ID)
	tok2, err := tk.Token(ctx, acct.ID)
	if err != nil {
		t.Fatalf("Token after Invalidate: %v", err)
	}
	secrets = append(secrets, tok, tok2)
	sa, dead := e.addAccount(t, "dead@example.com", t0)
	secrets = append(secrets, sa.RefreshToken, sa.AccessToken)
	e.sim.RevokeRefreshToken("dead@example.com")
	if _, err := tk.Token(ctx, dead.ID); err == nil {
		t.Fatal("Token for a revoked account succeeded")
	}

	// Import: one good file verified for real, one failing verification.
	live := e.sim.AddAccount(cloudcodetestSpec("imported@example.com", "free-tier"))
	secrets = append(secrets, live.RefreshToken, live.AccessToken)
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.json"), filepath.Join(dir, "bad.json")
	writeFile(t, good, fmt.Sprintf(`[{"email":"imported@example.com","refresh_token":%q}]`, live.RefreshToken))
	writeFile(t, bad, fmt.Sprintf(`{"type":"antigravity","email":"other@example.com","refresh_token":%q,"access_token":%q}`, sa.RefreshToken, sa.AccessToken))
	if _, err := Import(ctx, e.st, ImportOptions{Verifier: tk, Logger: e.log, Paths: []string{good, bad}}); err == nil {
		t.Fatal("import of a revoked token succeeded")
	}
	stored, err := e.st.AccountByEmail(ctx, "imported@example.com")
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, stored.AccessToken)

	logs := e.logs.String()
	if strings.Count(logs, "\n") < 5 {
		t.Fatalf("too few log lines to mean anything:\n%s", logs)
	}
	for _, want := range []string{"login succeeded", "access token refreshed", "needs a new login", "imported", "import failed"} {
		if !strings.Contains(logs, want) {
			t.Errorf("no %q line in the log", want)
		}
	}
	assertNoSecrets(t, "log", logs, secrets...)
	assertNoSecrets(t, "login output", out.String(), secrets...)
}
