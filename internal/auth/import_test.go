package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/store"
)

// fakeVerifier accepts refresh tokens starting with "1//test-" unless
// listed in reject, and counts its calls.
type fakeVerifier struct {
	mu     sync.Mutex
	reject map[string]bool
	calls  map[string]int
}

func (f *fakeVerifier) Verify(_ context.Context, _, refresh string) (string, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[refresh]++
	if !strings.HasPrefix(refresh, "1//test-") || f.reject[refresh] {
		return "", time.Time{}, fmt.Errorf(`oauth2: "invalid_grant" for %s`, refresh)
	}
	return "ya29.verified-" + strings.TrimPrefix(refresh, "1//test-"), t0.Add(time.Hour), nil
}

// Email names the owner of a token it verified: "1//test-bob" and
// "1//test-bob-new" are bob's.
func (f *fakeVerifier) Email(_ context.Context, access string) (string, error) {
	name, ok := strings.CutPrefix(access, "ya29.verified-")
	if !ok {
		return "", errors.New("not a token this verifier issued")
	}
	name, _, _ = strings.Cut(name, "-")
	return name + "@example.com", nil
}

func (f *fakeVerifier) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

func td(name string) string { return filepath.Join("testdata", name) }

func TestDetectAndParseFormats(t *testing.T) {
	tests := []struct {
		file       string
		wantFormat Format
		want       []store.Account
	}{
		{"am_account.json", FormatAntigravityManager, []store.Account{{
			Email: "alice@example.com", RefreshToken: "1//test-alice", AccessToken: "ya29.test-alice-access",
			AccessExpiry: time.Unix(1795780800, 0), ProjectID: "alice-project-123",
		}}},
		{"am_accounts_list.json", FormatAntigravityManager, []store.Account{
			{Email: "bob@example.com", RefreshToken: "1//test-bob", AccessToken: "ya29.test-bob-access", AccessExpiry: time.Unix(1795780800, 0)},
			// expiry_timestamp in milliseconds is read as such.
			{Email: "carol@example.com", RefreshToken: "1//test-carol", AccessToken: "ya29.test-carol-access", AccessExpiry: time.Unix(1795780800, 0), ProjectID: "carol-proj"},
		}},
		{"cliproxyapi-antigravity-dave.json", FormatCLIProxyAPI, []store.Account{{
			Email: "dave@example.com", RefreshToken: "1//test-dave", AccessToken: "ya29.test-dave-access",
			AccessExpiry: time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC), ProjectID: "dave-project-456",
		}}},
		{"list.json", FormatList, []store.Account{
			{Email: "erin@example.com", RefreshToken: "1//test-erin", Label: "erin-laptop"},
			{Email: "frank@example.com", RefreshToken: "1//test-frank"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(td(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, f, err := DetectAndParse(tt.file, data)
			if err != nil {
				t.Fatalf("DetectAndParse: %v", err)
			}
			if f != tt.wantFormat {
				t.Errorf("format = %q, want %q", f, tt.wantFormat)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d accounts, want %d", len(got), len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Email != w.Email || g.RefreshToken != w.RefreshToken || g.AccessToken != w.AccessToken ||
					!g.AccessExpiry.Equal(w.AccessExpiry) || g.ProjectID != w.ProjectID || g.Label != w.Label {
					t.Errorf("account %d = {%q %q %q %v %q %q}, want {%q %q %q %v %q %q}", i,
						g.Email, g.RefreshToken, g.AccessToken, g.AccessExpiry, g.ProjectID, g.Label,
						w.Email, w.RefreshToken, w.AccessToken, w.AccessExpiry, w.ProjectID, w.Label)
				}
			}
		})
	}
}

func TestCLIProxyAPIExpiryFromTimestamp(t *testing.T) {
	data := []byte(`{"type":"antigravity","email":"x@example.com","refresh_token":"1//test-x","access_token":"ya29.x","expires_in":3599,"timestamp":1795777200000}`)
	got, _, err := DetectAndParse("x.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.UnixMilli(1795777200000).Add(3599 * time.Second); !got[0].AccessExpiry.Equal(want) {
		t.Errorf("expiry = %v, want timestamp + expires_in = %v", got[0].AccessExpiry, want)
	}
}

func TestImportMalformedFileNamesFileAndFieldAndWritesNothing(t *testing.T) {
	tests := []struct {
		file    string
		wantErr string
	}{
		{"bad_wrong_type.json", "import testdata/bad_wrong_type.json: entry 2: refresh_token: want string, got number"},
		{"bad_missing_field.json", "import testdata/bad_missing_field.json: entry 3: refresh_token: missing"},
		{"bad_not_json.json", "import testdata/bad_not_json.json: not JSON: "},
		{"bad_am_token_type.json", "import testdata/bad_am_token_type.json: token: want object, got string"},
		{"bad_cliproxy_other_type.json", `import testdata/bad_cliproxy_other_type.json: type: want "antigravity", got "gemini"`},
		{"bad_cliproxy_expired.json", `import testdata/bad_cliproxy_expired.json: expired: "tomorrow" is not an RFC 3339 time`},
		{"bad_unknown.json", "import testdata/bad_unknown.json: unknown format"},
		{"bad_email.json", `import testdata/bad_email.json: entry 1: email: "not-an-email" is not an email address`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			e := newEnv(t)
			v := &fakeVerifier{}
			rep, err := Import(context.Background(), e.st, ImportOptions{Paths: []string{td(tt.file)}, Verifier: v})
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Fatalf("Import error = %v\nwant prefix %q", err, tt.wantErr)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.File != td(tt.file) {
				t.Errorf("error is not a *ParseError naming the file: %#v", err)
			}
			if len(rep.Files) != 1 || rep.Files[0].Err == nil || rep.Files[0].Added != 0 {
				t.Errorf("report = %+v, want one failed file with nothing added", rep.Files)
			}
			if v.total() != 0 {
				t.Errorf("%d verifications for a file that does not parse", v.total())
			}
			assertNothingStored(t, e)
			assertNoSecrets(t, "import error", err.Error(), "1//test-judy", "1//test-olga", "1//test-nina")
		})
	}
}

func TestImportEachFormatAndMergeAcrossFiles(t *testing.T) {
	e := newEnv(t)
	v := &fakeVerifier{}
	ctx := context.Background()
	rep, err := Import(ctx, e.st, ImportOptions{Verifier: v, Paths: []string{
		td("am_account.json"), td("am_accounts_list.json"), td("cliproxyapi-antigravity-dave.json"),
		td("list.json"), td("list_duplicates.json"), td("list_overlaps_am.json"),
	}})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	type counts struct{ added, updated, skipped int }
	want := []counts{
		{1, 0, 0}, // alice
		{2, 0, 0}, // bob, carol
		{1, 0, 0}, // dave
		{2, 0, 0}, // erin, frank
		{1, 0, 2}, // gina once; the repeat and the case variant are duplicates
		{1, 1, 1}, // hank new, bob's new token, alice unchanged
	}
	for i, w := range want {
		f := rep.Files[i]
		if got := (counts{f.Added, f.Updated, f.Skipped}); got != w {
			t.Errorf("%s: added/updated/skipped = %v, want %v", f.Path, got, w)
		}
	}
	all, err := e.st.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 8 {
		t.Errorf("%d accounts stored, want 8 (merged by email)", len(all))
	}
	bob, err := e.st.AccountByEmail(ctx, "bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if bob.RefreshToken != "1//test-bob-new" || bob.AccessToken != "ya29.verified-bob-new" {
		t.Errorf("bob not updated by the later file: refresh %q access %q", bob.RefreshToken, bob.AccessToken)
	}
	gina, err := e.st.AccountByEmail(ctx, "gina@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if gina.RefreshToken != "1//test-gina" {
		t.Errorf("gina's refresh token = %q, want the first entry's", gina.RefreshToken)
	}
	erin, err := e.st.AccountByEmail(ctx, "erin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if erin.Label != "erin-laptop" {
		t.Errorf("erin's label = %q", erin.Label)
	}
	// alice was skipped in the last file: not verified twice.
	if n := v.calls["1//test-alice"]; n != 1 {
		t.Errorf("alice verified %d times, want 1", n)
	}
	var sb strings.Builder
	if err := rep.Write(&sb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sb.String(), "list_overlaps_am.json") {
		t.Errorf("report table lacks a file:\n%s", sb.String())
	}
	assertNoSecrets(t, "report", sb.String(), "1//test-alice", "ya29.verified-alice")
}

func TestImportVerificationFailureWritesNothingFromThatFile(t *testing.T) {
	e := newEnv(t)
	v := &fakeVerifier{reject: map[string]bool{"1//test-frank": true}}
	rep, err := Import(context.Background(), e.st, ImportOptions{Verifier: v,
		Paths: []string{td("list.json"), td("cliproxyapi-antigravity-dave.json")}})
	want := "import testdata/list.json: entry 2: refresh_token: verification failed for frank@example.com"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Import error = %v\nwant prefix %q", err, want)
	}
	assertNoSecrets(t, "import error", err.Error(), "1//test-frank")
	if _, err := e.st.AccountByEmail(context.Background(), "erin@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("erin stored from a file that failed verification (err %v)", err)
	}
	// The other file is independent.
	if rep.Files[1].Err != nil || rep.Files[1].Added != 1 {
		t.Errorf("second file report = %+v, want dave added", rep.Files[1])
	}
}

func TestImportNoVerify(t *testing.T) {
	e := newEnv(t)
	rep, err := Import(context.Background(), e.st, ImportOptions{NoVerify: true, Paths: []string{td("cliproxyapi-antigravity-dave.json")}})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if rep.Files[0].Added != 1 {
		t.Errorf("report = %+v", rep.Files[0])
	}
	dave, err := e.st.AccountByEmail(context.Background(), "dave@example.com")
	if err != nil {
		t.Fatal(err)
	}
	// Unverified, the file's own access token and expiry are kept.
	if dave.AccessToken != "ya29.test-dave-access" || dave.ProjectID != "dave-project-456" ||
		!dave.AccessExpiry.Equal(time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)) {
		t.Errorf("dave = access %q project %q expiry %v", dave.AccessToken, dave.ProjectID, dave.AccessExpiry)
	}
	if _, err := Import(context.Background(), e.st, ImportOptions{Paths: []string{td("list.json")}}); err == nil {
		t.Error("Import without a verifier and without NoVerify succeeded")
	}
}

// TestImportVerifiesAgainstSimulator runs the real Verify: a live token is
// stored with the access token it yields, a revoked one fails the file.
func TestImportVerifiesAgainstSimulator(t *testing.T) {
	e := newEnv(t)
	live := e.sim.AddAccount(cloudcodetestSpec("live@example.com", "free-tier"))
	dead := e.sim.AddAccount(cloudcodetestSpec("dead@example.com", "free-tier"))
	e.sim.RevokeRefreshToken("dead@example.com")
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	writeFile(t, good, fmt.Sprintf(`[{"email":"live@example.com","refresh_token":%q}]`, live.RefreshToken))
	// Entry 1 is already stored with the same token (skipped, not
	// verified again); entry 2 is dead.
	writeFile(t, bad, fmt.Sprintf(`[{"email":"live@example.com","refresh_token":%q},{"email":"dead@example.com","refresh_token":%q}]`,
		live.RefreshToken, dead.RefreshToken))
	tk := e.tokens(TokensOptions{})
	rep, err := Import(context.Background(), e.st, ImportOptions{Verifier: tk, Paths: []string{good, bad}})
	if err == nil || !strings.Contains(err.Error(), "bad.json: entry 2: refresh_token: verification failed") {
		t.Fatalf("Import error = %v", err)
	}
	assertNoSecrets(t, "import error", err.Error(), dead.RefreshToken, live.RefreshToken)
	if rep.Files[0].Added != 1 {
		t.Errorf("good file: %+v", rep.Files[0])
	}
	all, err := e.st.Accounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].Email != "live@example.com" || all[0].AccessToken == "" {
		t.Fatalf("stored %d accounts, want only live@ with a verified access token", len(all))
	}
	if _, err := e.cc.LoadCodeAssist(context.Background(), all[0].AccessToken); err != nil {
		t.Errorf("verified access token rejected upstream: %v", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestImportVerificationFailureInSingleObjectFile(t *testing.T) {
	e := newEnv(t)
	v := &fakeVerifier{reject: map[string]bool{"1//test-dave": true}}
	_, err := Import(context.Background(), e.st, ImportOptions{Verifier: v, Paths: []string{td("cliproxyapi-antigravity-dave.json")}})
	want := "import testdata/cliproxyapi-antigravity-dave.json: refresh_token: verification failed for dave@example.com"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Import error = %v\nwant prefix %q", err, want)
	}
	assertNothingStored(t, e)
}
