package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// An empty weekly bucket arrives as proto3 JSON sends it, without a
// fraction: `status --json` must show the account Exhausted for the family
// (exit status 3), and the proxy must never route the family to it, even
// though it is the higher tier and its models' own 5h figure says 100 %.
func TestEmptyWeeklyBucketEndToEnd(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "quotatui.db")
	srv, _ := seedSim(t, dbPath,
		cloudcodetest.AccountSpec{Email: "ada@example.com", TierID: "g1-pro-tier"},
		cloudcodetest.AccountSpec{Email: "grace@example.com", TierID: "g1-ultra-tier"})
	srv.SetRemaining("grace@example.com", cloudcode.FamilyGemini, cloudcode.WindowWeekly, 0)
	env := testEnv(t)

	r := runCLI(t, env, "", append([]string{"status", "--json"}, simFlags(srv, dbPath)...)...)
	if r.code != exitExhausted {
		t.Fatalf("status --json exited %d, want %d; stderr: %s", r.code, exitExhausted, r.stderr)
	}
	var got []statusOut
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	for _, s := range got {
		fam := s.Families["gemini"]
		switch s.Email {
		case "grace@example.com":
			if fam.Decision != "Exhausted" || fam.Weekly == nil || *fam.Weekly != 0 || fam.Effective == nil || *fam.Effective != 0 {
				t.Errorf("grace gemini = %+v (weekly %v), want Exhausted with a known 0 weekly bucket", fam, deref(fam.Weekly))
			}
			if s.Status != "EXHAUSTED" {
				t.Errorf("grace status %q, want EXHAUSTED", s.Status)
			}
		case "ada@example.com":
			if fam.Decision != "Proceed" {
				t.Errorf("ada gemini = %+v, want Proceed", fam)
			}
		}
	}

	s := startServe(t, append(simFlags(srv, dbPath), "--proxy-listen", "127.0.0.1:0")...)
	c := &http.Client{}
	for i := range 6 {
		body := `{"model":"gemini-3-flash","project":"x","request":{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}}`
		if code := post(t, c, s.url+"/v1internal:generateContent", "", fmt.Sprintf("s%d", i), body); code != http.StatusOK {
			t.Fatalf("request %d: status %d", i, code)
		}
	}
	if n := srv.Requests("grace@example.com", "generateContent"); n != 0 {
		t.Errorf("the proxy sent %d Gemini requests to the account with an empty weekly bucket", n)
	}
	if n := srv.Requests("ada@example.com", "generateContent"); n != 6 {
		t.Errorf("ada served %d requests, want 6", n)
	}
}

// A 403 on the quota reads leaves the account active with its quota
// unreadable, and `status` says why in the table and in JSON.
func TestStatusShowsUnreadableQuota(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "quotatui.db")
	srv, _ := seedSim(t, dbPath, cloudcodetest.AccountSpec{Email: "ada@example.com", TierID: "g1-pro-tier"})
	srv.Forbid("ada@example.com", "SERVICE_DISABLED")
	env := testEnv(t)
	r := runCLI(t, env, "", append([]string{"status", "--json"}, simFlags(srv, dbPath)...)...)
	var got []struct {
		State  string `json:"state"`
		Reason string `json:"quota_unreadable"`
		Cause  string `json:"quota_unreadable_cause"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got) != 1 {
		t.Fatalf("%v: %s (stderr %s)", err, r.stdout, r.stderr)
	}
	if got[0].State != "active" || got[0].Cause != "forbidden" || !strings.Contains(got[0].Reason, "SERVICE_DISABLED") {
		t.Errorf("status --json = %+v, want active with an unreadable quota and its reason", got[0])
	}
	r = runCLI(t, env, "", append([]string{"status"}, simFlags(srv, dbPath)...)...)
	if !strings.Contains(r.stdout, "quota unreadable: SERVICE_DISABLED") {
		t.Errorf("the table does not say the quota is unreadable:\n%s", r.stdout)
	}
}

// Tokens imported from another tool belong to that tool's OAuth client:
// until it is configured the account is needs_client and the import says
// which client id to configure; once [oauth.clients.<name>] holds it,
// the account refreshes with it and syncs.
func TestImportedTokensNeedTheirClient(t *testing.T) {
	const agID = "1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com"
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "quotatui.db")
	srv := cloudcodetest.NewServer(cloudcodetest.Options{})
	t.Cleanup(srv.Close)
	srv.AddClient(cloudcodetest.OAuthClient{ID: agID, Secret: "ag-secret"})
	acct := srv.AddAccount(cloudcodetest.AccountSpec{Email: "ag@example.com", TierID: "g1-pro-tier", ClientID: agID})
	file := filepath.Join(dir, "cliproxy.json")
	writeFile(t, file, fmt.Sprintf(`{"type":"antigravity","email":"ag@example.com","refresh_token":%q,"client_id":%q}`, acct.RefreshToken, agID))
	env := testEnv(t)

	r := runCLI(t, env, "", append([]string{"accounts", "import"}, append(simFlags(srv, dbPath), file)...)...)
	if r.code != 0 || !strings.Contains(r.stdout, agID) || !strings.Contains(r.stdout, "[oauth.clients.") {
		t.Fatalf("import exited %d; it must say which client to configure:\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, env, "", append([]string{"accounts", "list"}, simFlags(srv, dbPath)...)...)
	if !strings.Contains(r.stdout, "needs_client") || !strings.Contains(r.stdout, agID+" (not configured)") {
		t.Errorf("list does not show the missing client:\n%s", r.stdout)
	}

	cfgPath := filepath.Join(dir, "config.toml")
	writeFile(t, cfgPath, "[oauth.clients.antigravity]\nclient_id = \""+agID+"\"\nclient_secret = \"ag-secret\"\n")
	env = testEnv(t, "QUOTATUI_CONFIG="+cfgPath)
	r = runCLI(t, env, "", append([]string{"status", "--json"}, simFlags(srv, dbPath)...)...)
	var got []struct {
		State    string `json:"state"`
		Families map[string]struct {
			Decision string `json:"decision"`
		} `json:"families"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got) != 1 {
		t.Fatalf("%v: %s %s", err, r.stdout, r.stderr)
	}
	if got[0].State != "active" || got[0].Families["gemini"].Decision != "Proceed" {
		t.Errorf("with the client configured: %+v, want active and synced", got[0])
	}
	r = runCLI(t, env, "", append([]string{"accounts", "list"}, simFlags(srv, dbPath)...)...)
	if !strings.Contains(r.stdout, "antigravity") {
		t.Errorf("list does not name the client:\n%s", r.stdout)
	}
}
