package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/store"
)

// seed stores two accounts with recognisable tokens.
func seed(t *testing.T, e *env) []store.Account {
	t.Helper()
	accts, err := e.st.UpsertAccounts(context.Background(), []store.Account{
		{Email: "a@example.com", Label: "main", RefreshToken: "1//secret-a", AccessToken: "ya29.secret-a",
			AccessExpiry: t0.Add(time.Hour), ProjectID: "proj-a", Tier: "PRO", TierID: "g1-pro-tier"},
		{Email: "b@example.com", RefreshToken: "1//secret-b", AccessToken: "ya29.secret-b"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return accts
}

var seededSecrets = []string{"1//secret-a", "ya29.secret-a", "1//secret-b", "ya29.secret-b"}

func TestListAccounts(t *testing.T) {
	e := newEnv(t)
	seed(t, e)
	var table, js bytes.Buffer
	if err := ListAccounts(context.Background(), e.st, &table, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ListAccounts(context.Background(), e.st, &js, true, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ID", "LABEL", "EMAIL", "TIER", "STATE", "PROJECT", "ADDED", "a@example.com", "main", "PRO", "proj-a", "active"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	var got []map[string]any
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatalf("list --json is not JSON: %v", err)
	}
	if len(got) != 2 || got[0]["email"] != "a@example.com" || got[0]["label"] != "main" || got[0]["tier"] != "PRO" ||
		got[0]["project_id"] != "proj-a" || got[0]["state"] != "active" || got[0]["added"] == nil || got[0]["id"] == nil {
		t.Errorf("list --json = %v", got)
	}
	assertNoSecrets(t, "list", table.String()+js.String(), seededSecrets...)
}

func TestExport(t *testing.T) {
	tests := []struct {
		secrets bool
	}{{false}, {true}}
	for _, tt := range tests {
		t.Run(map[bool]string{false: "without secrets", true: "with secrets"}[tt.secrets], func(t *testing.T) {
			e := newEnv(t)
			seed(t, e)
			var buf bytes.Buffer
			if err := Export(context.Background(), e.st, &buf, tt.secrets); err != nil {
				t.Fatal(err)
			}
			if tt.secrets {
				if !strings.Contains(buf.String(), "1//secret-a") {
					t.Fatal("refresh token missing with includeSecrets")
				}
				// Access tokens are short-lived: never exported.
				assertNoSecrets(t, "export", buf.String(), "ya29.secret-a", "ya29.secret-b")
				// What export writes, import reads back.
				accts, f, err := DetectAndParse("export.json", buf.Bytes())
				if err != nil || f != FormatList || len(accts) != 2 || accts[1].RefreshToken != "1//secret-b" || accts[0].Label != "main" {
					t.Errorf("re-import of the export: %d accounts, format %q, err %v", len(accts), f, err)
				}
			} else {
				assertNoSecrets(t, "export", buf.String(), seededSecrets...)
				if !strings.Contains(buf.String(), "a@example.com") {
					t.Errorf("export lacks the accounts:\n%s", buf.String())
				}
			}
		})
	}
}

func TestExportFileMode0600AndAtomic(t *testing.T) {
	e := newEnv(t)
	seed(t, e)
	dir := t.TempDir()
	path := filepath.Join(dir, "accounts.json")
	// An existing world-readable file must not keep its mode.
	writeFile(t, path, "old")
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ExportFile(context.Background(), e.st, path, true); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("export file mode = %o, want 600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if !json.Valid(data) || !strings.Contains(string(data), "1//secret-a") {
		t.Errorf("export file content wrong: %s", data)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if err := ExportFile(context.Background(), e.st, filepath.Join(dir, "missing", "x.json"), false); err == nil {
		t.Error("export into a missing directory succeeded")
	}
}

func TestAddToken(t *testing.T) {
	e := newEnv(t)
	sa := e.sim.AddAccount(cloudcodetestSpec("stdin@example.com", "free-tier"))
	tk := e.tokens(TokensOptions{})
	got, err := AddToken(context.Background(), e.st, tk, strings.NewReader("  "+sa.RefreshToken+"\n"), "piped")
	if err != nil {
		t.Fatalf("AddToken: %v", err)
	}
	if got.Email != "stdin@example.com" || got.Label != "piped" || got.RefreshToken != sa.RefreshToken || got.AccessToken == "" {
		t.Errorf("stored %q label %q, same refresh %v, access %v", got.Email, got.Label, got.RefreshToken == sa.RefreshToken, got.AccessToken != "")
	}
	if n := e.sim.Requests("stdin@example.com", "token"); n != 1 {
		t.Errorf("%d refreshes to verify, want 1", n)
	}

	tests := []struct {
		name, input, wantErr string
	}{
		{"empty input", "\n", "no refresh token on standard input"},
		{"revoked token", "1//not-a-real-token\n", "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := AddToken(context.Background(), e.st, tk, strings.NewReader(tt.input), "")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("AddToken error = %v, want %q", err, tt.wantErr)
			}
			assertNoSecrets(t, "AddToken error", err.Error(), "1//not-a-real-token")
		})
	}
	if all, _ := e.st.Accounts(context.Background()); len(all) != 1 {
		t.Errorf("%d accounts after failed add-tokens, want 1", len(all))
	}
}

func TestManageAccounts(t *testing.T) {
	e := newEnv(t)
	accts := seed(t, e)
	ctx := context.Background()

	for _, ref := range []string{"1", "A@example.com", "MAIN"} {
		if a, err := FindAccount(ctx, e.st, ref); err != nil || a.ID != accts[0].ID {
			t.Errorf("FindAccount(%q) = %d, %v; want %d", ref, a.ID, err, accts[0].ID)
		}
	}
	if _, err := FindAccount(ctx, e.st, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FindAccount(nobody) error = %v, want ErrNotFound", err)
	}

	a, err := SetEnabled(ctx, e.st, "main", false, t0)
	if err != nil || !a.Disabled || a.State != store.StateActive {
		t.Fatalf("disable: disabled %v state %q, %v; want the user's column set and the engine's state untouched", a.Disabled, a.State, err)
	}
	if a, err = SetEnabled(ctx, e.st, "main", true, t0); err != nil || a.Disabled || a.State != store.StateActive {
		t.Fatalf("enable: disabled %v state %q, %v", a.Disabled, a.State, err)
	}
	if a, err = SetLabel(ctx, e.st, "b@example.com", " spare "); err != nil || a.Label != "spare" {
		t.Fatalf("label: %q, %v", a.Label, err)
	}

	tests := []struct {
		name   string
		answer string
		yes    bool
		wantOK bool
	}{
		{"answer no", "n\n", false, false},
		{"no answer", "", false, false},
		{"answer yes", "yes\n", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			_, err := RemoveAccount(ctx, e.st, "spare", strings.NewReader(tt.answer), &out, tt.yes)
			if tt.wantOK != (err == nil) {
				t.Fatalf("RemoveAccount error = %v, want success %v", err, tt.wantOK)
			}
			if !tt.wantOK && !errors.Is(err, ErrNotConfirmed) {
				t.Errorf("error = %v, want ErrNotConfirmed", err)
			}
			if !strings.Contains(out.String(), "[y/N]") {
				t.Errorf("no confirmation prompt: %q", out.String())
			}
			_, ferr := FindAccount(ctx, e.st, "b@example.com")
			if gone := errors.Is(ferr, store.ErrNotFound); gone != tt.wantOK {
				t.Errorf("account gone = %v, want %v", gone, tt.wantOK)
			}
		})
	}
	var out bytes.Buffer
	if _, err := RemoveAccount(ctx, e.st, "main", nil, &out, true); err != nil || out.Len() != 0 {
		t.Errorf("RemoveAccount --yes: %v, prompt %q", err, out.String())
	}
}
