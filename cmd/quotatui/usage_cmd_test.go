package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/quotatui/quotatui/internal/auth"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/proxy/proxytest"
	"github.com/quotatui/quotatui/internal/quota"
	"github.com/quotatui/quotatui/internal/store"
	"github.com/quotatui/quotatui/internal/store/pg"
	"github.com/quotatui/quotatui/internal/store/pg/pgtest"
)

// usageJSON is `quotatui usage --json` as a script reads it.
type usageJSON struct {
	By     string `json:"by"`
	Groups []struct {
		Key      string      `json:"key"`
		Requests int64       `json:"requests"`
		Errors   int64       `json:"errors"`
		Charged  int64       `json:"charged"`
		Tokens   tokensJSONT `json:"tokens"`
	} `json:"groups"`
	Total struct {
		Requests int64       `json:"requests"`
		Errors   int64       `json:"errors"`
		Tokens   tokensJSONT `json:"tokens"`
	} `json:"total"`
	Conversations []struct {
		Session, Client, Account, Model string
		Requests                        int64
		Tokens                          tokensJSONT
	} `json:"conversations"`
}

type tokensJSONT struct {
	Prompt     int64 `json:"prompt"`
	Candidates int64 `json:"candidates"`
	Thoughts   int64 `json:"thoughts"`
	Cached     int64 `json:"cached"`
	Total      int64 `json:"total"`
}

// lastUsage returns an answer's final usage as `usage --json` prints it.
func lastUsage(t *testing.T, body string) tokensJSONT {
	t.Helper()
	u, err := proxytest.FinalUsage(body)
	if err != nil {
		t.Fatal(err)
	}
	return tokensJSONT{u.Prompt, u.Candidates, u.Thoughts, u.Cached, u.Total}
}

// Requests served through the proxy against the simulator, one whole
// answer and one stream, reach `quotatui usage` with the tokens the
// answers reported (the stream's final counts, not a sum of its events);
// a request the upstream refused counts as an error, with no tokens.
func TestUsageCountsStreamAndWholeAnswers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := proxytest.Start(ctx, proxytest.Options{Dir: dir, Accounts: []cloudcodetest.AccountSpec{{Email: "ada@example.com", TierID: "g1-pro-tier"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	post := func(path, body, session string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, st.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-session-id", session)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const wholeBody = `{"model":"gemini-3-flash","request":{"contents":[{"role":"user","parts":[{"text":"Write a haiku about quota."}]}]}}`
	const streamBody = `{"model":"gemini-2.5-pro","request":{"contents":[{"role":"user","parts":[{"text":"Explain buckets at length, please."}]}],"generationConfig":{"thinkingConfig":{"includeThoughts":true,"thinkingBudget":512}}}}`
	code, whole := post("/v1internal:generateContent", wholeBody, "conv-whole")
	if code != 200 {
		t.Fatalf("generateContent: %d %s", code, whole)
	}
	code, stream := post("/v1internal:streamGenerateContent?alt=sse", streamBody, "conv-stream")
	if code != 200 {
		t.Fatalf("streamGenerateContent: %d %s", code, stream)
	}
	if n := strings.Count(stream, "usageMetadata"); n < 2 {
		t.Fatalf("the stream has %d events with usage; the test needs several", n)
	}
	wantWhole, wantStream := lastUsage(t, whole), lastUsage(t, stream)
	if wantStream.Thoughts == 0 || wantWhole.Total == 0 {
		t.Fatalf("the simulator's usage is too thin to test with: %+v %+v", wantWhole, wantStream)
	}
	// A refused request: the simulator answers 400 for an unknown model.
	if code, body := post("/v1internal:generateContent", `{"model":"gemini-3-flash","request":{"contents":[]}}`, "conv-whole"); code == 200 {
		t.Fatalf("an empty request was answered: %s", body)
	}
	st.Quota.FlushLedger(ctx)
	db := filepath.Join(dir, "quotatui.db")

	r := runCLI(t, testEnv(t), "", "usage", "--json", "--db", db)
	if r.code != 0 {
		t.Fatalf("usage --json exited %d: %s", r.code, r.stderr)
	}
	var got usageJSON
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("usage --json does not parse: %v\n%s", err, r.stdout)
	}
	byModel := map[string]tokensJSONT{}
	var errs int64
	for _, g := range got.Groups {
		byModel[g.Key] = g.Tokens
		errs += g.Errors
		if g.Key == "gemini-2.5-pro" && g.Requests != 1 {
			t.Errorf("%s: %d requests, want 1", g.Key, g.Requests)
		}
	}
	if byModel["gemini-3-flash"] != wantWhole || byModel["gemini-2.5-pro"] != wantStream {
		t.Errorf("tokens by model %+v\nwant gemini-3-flash %+v, gemini-2.5-pro %+v (the stream's final counts)", byModel, wantWhole, wantStream)
	}
	if got.Total.Tokens.Total != wantWhole.Total+wantStream.Total || got.Total.Requests != 2 || errs != 1 || got.Total.Errors != 1 {
		t.Errorf("total %+v with %d errors: want 2 requests, 1 error, %d tokens", got.Total, errs, wantWhole.Total+wantStream.Total)
	}
	if len(got.Conversations) != 2 || got.Conversations[0].Account != "ada@example.com" {
		t.Errorf("conversations %+v: want both, named by the account's email", got.Conversations)
	}

	r = runCLI(t, testEnv(t), "", "usage", "--by", "account", "--db", db)
	if r.code != 0 {
		t.Fatalf("usage --by account exited %d: %s", r.code, r.stderr)
	}
	row := regexp.MustCompile(`(?m)^\s*ada@example.com\s+2\s+1\s`)
	if !row.MatchString(r.stdout) || !strings.Contains(r.stdout, "Top conversations by tokens") || !strings.Contains(r.stdout, "conv-stream") {
		t.Errorf("usage --by account:\n%s", r.stdout)
	}
}

// Bad flags are usage errors that say what was wrong; nothing is opened.
func TestUsageRefusesBadFlags(t *testing.T) {
	db := filepath.Join(t.TempDir(), "missing", "quotatui.db")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--by", "week"}, `--by "week": want account, model or day`},
		{[]string{"--since", "yesterday"}, `--since "yesterday": want a duration such as 24h, 90m or 7d`},
		{[]string{"--since", "0h"}, `want a positive duration`},
		{[]string{"--top", "-1"}, `--top -1: want 0 or more`},
		{[]string{"extra"}, `extra`},
	} {
		r := runCLI(t, testEnv(t), "", append([]string{"usage", "--db", db}, tt.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("usage %v: exit %d, stderr %q; want 2 and %q", tt.args, r.code, r.stderr, tt.want)
		}
	}
}

// An empty span says so instead of printing an empty table.
func TestUsageEmpty(t *testing.T) {
	db := filepath.Join(t.TempDir(), "quotatui.db")
	r := runCLI(t, testEnv(t), "", "usage", "--since", "7d", "--by", "day", "--db", db)
	if r.code != 0 || !strings.Contains(r.stdout, "by day") || !strings.Contains(r.stdout, "No requests were served") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, testEnv(t), "", "usage", "--json", "--db", db)
	var got usageJSON
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &got) != nil || got.Groups == nil || got.By != "model" {
		t.Errorf("exit %d: %s", r.code, r.stdout)
	}
}

// On PostgreSQL, what the engine's ledger records (Manager.Record, as the
// proxy calls it) reaches the database and `quotatui usage --db URL`.
func TestUsageOnPostgres(t *testing.T) {
	u := pgtest.URL(t)
	ctx := context.Background()
	srv := cloudcodetest.NewServer(cloudcodetest.Options{})
	defer srv.Close()
	a := srv.AddAccount(cloudcodetest.AccountSpec{Email: "ada@example.com", TierID: "g1-pro-tier"})
	st, err := pg.Open(ctx, u, pg.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	accts, err := st.UpsertAccounts(ctx, []store.Account{{Email: a.Email, RefreshToken: a.RefreshToken, ProjectID: a.Project}})
	if err != nil {
		t.Fatal(err)
	}
	tokens := auth.NewTokens(auth.OAuthConfig{ClientID: cloudcodetest.DefaultClientID, ClientSecret: cloudcodetest.DefaultClientSecret,
		AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL(), UserInfoURL: srv.UserInfoURL()}, st, auth.TokensOptions{})
	m, err := quota.NewManager(ctx, cloudcode.New(cloudcode.Config{BaseURLs: srv.BaseURLs()}), tokens, st, quota.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id := accts[0].ID
	m.Record(quota.Spend{AccountID: id, Family: cloudcode.FamilyClaudeGPT, Model: "claude-sonnet-4-6", Client: "claude-cli", Session: "s1",
		Charged: true, Tokens: quota.Tokens{Prompt: 1200, Candidates: 300, Cached: 800, Total: 1500}})
	m.Record(quota.Spend{AccountID: id, Family: cloudcode.FamilyClaudeGPT, Model: "claude-sonnet-4-6", Client: "claude-cli", Session: "s1",
		Charged: true, Failed: true, Tokens: quota.Tokens{Prompt: 99, Total: 99}})
	m.FlushLedger(ctx)

	r := runCLI(t, testEnv(t), "", "usage", "--json", "--by", "account", "--db", u)
	if r.code != 0 {
		t.Fatalf("usage on PostgreSQL exited %d: %s", r.code, r.stderr)
	}
	var got usageJSON
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	want := tokensJSONT{Prompt: 1200, Candidates: 300, Cached: 800, Total: 1500}
	if len(got.Groups) != 1 || got.Groups[0].Key != "ada@example.com" || got.Groups[0].Requests != 1 || got.Groups[0].Errors != 1 ||
		got.Groups[0].Charged != 2 || got.Groups[0].Tokens != want || len(got.Conversations) != 1 {
		t.Errorf("usage on PostgreSQL:\n%s\nwant ada with 1 request, 1 error (its tokens not counted), 2 charged, %+v", r.stdout, want)
	}
}
