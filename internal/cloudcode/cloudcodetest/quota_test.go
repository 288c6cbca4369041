package cloudcodetest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

func TestLoadCodeAssistTiers(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	tests := []struct {
		tierID string
		want   cloudcode.Tier
	}{
		{"free-tier", cloudcode.TierFree},
		{"standard-tier", cloudcode.TierPro},
		{"g1-pro-tier", cloudcode.TierPro},
		{"g1-ultra-tier", cloudcode.TierUltra},
		{"ws-ai-ultra-business-tier", cloudcode.TierUltra},
	}
	for i, tt := range tests {
		t.Run(tt.tierID, func(t *testing.T) {
			acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: fmt.Sprintf("tier%d@example.com", i), TierID: tt.tierID})
			sub, err := s.client.LoadCodeAssist(context.Background(), acct.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if sub.Tier != tt.want || sub.TierID != tt.tierID || sub.ProjectID != acct.Project || sub.ValidationRequired {
				t.Errorf("subscription = %+v, want tier %s id %s project %s", sub, tt.want, tt.tierID, acct.Project)
			}
		})
	}
}

// Both shapes of cloudaicompanionProject and of the quota summary must
// occur across accounts, and the client must read each the same way.
func TestAnswerShapesVaryByAccount(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	shapes := map[string]int{}
	for i := range 16 {
		acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: fmt.Sprintf("shape%d@example.com", i), TierID: "g1-pro-tier"})
		_, body := s.raw(t, http.MethodPost, "loadCodeAssist", acct.AccessToken, []byte(`{"metadata":{"ideType":"ANTIGRAVITY"}}`))
		var lca struct {
			Project json.RawMessage `json:"cloudaicompanionProject"`
		}
		if err := json.Unmarshal(body, &lca); err != nil || len(lca.Project) == 0 {
			t.Fatalf("loadCodeAssist body %s: %v", body, err)
		}
		shapes[fmt.Sprintf("project-%c", lca.Project[0])]++

		s.srv.SetRemaining(acct.Email, cloudcode.FamilyClaudeGPT, cloudcode.WindowWeekly, 0.5)
		_, body = s.raw(t, http.MethodPost, "retrieveUserQuotaSummary", acct.AccessToken, []byte(`{"project":"`+acct.Project+`"}`))
		var top map[string]json.RawMessage
		if err := json.Unmarshal(body, &top); err != nil {
			t.Fatal(err)
		}
		_, wrapped := top["quotaSummary"]
		shapes[fmt.Sprintf("wrapped-%v", wrapped)]++

		sum, err := s.client.RetrieveUserQuotaSummary(context.Background(), acct.AccessToken, acct.Project)
		if err != nil {
			t.Fatal(err)
		}
		b, ok := sum.Bucket(cloudcode.FamilyClaudeGPT, cloudcode.WindowWeekly)
		if !ok || b.Remaining != cloudcode.KnownFraction(0.5) || len(sum.Buckets) != 4 {
			t.Errorf("%s: summary %+v, want 4 buckets and claude weekly 0.5", acct.Email, sum.Buckets)
		}
	}
	for _, k := range []string{`project-"`, "project-{", "wrapped-true", "wrapped-false"} {
		if shapes[k] == 0 {
			t.Errorf("no account answered with shape %s (seen %v)", k, shapes)
		}
	}
}

func TestDrainToQuotaExhaustedAndReset(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{Capacity: smallCapacity})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "drain@example.com", TierID: "g1-pro-tier"})
	ctx := context.Background()

	for i := range 3 {
		s.clk.Advance(time.Minute)
		if _, err := s.generate(ctx, acct.AccessToken, acct.Project, "gemini-3-flash"); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	cat, err := s.client.FetchAvailableModels(ctx, acct.AccessToken, acct.Project)
	if err != nil {
		t.Fatal(err)
	}
	wantReset := start.Add(5 * time.Hour)
	for _, m := range cat.Models {
		want := cloudcode.KnownFraction(0)
		if m.Family == cloudcode.FamilyClaudeGPT {
			want = cloudcode.KnownFraction(1) // the other pool is untouched
		}
		if m.Remaining != want || !m.ResetTime.Equal(wantReset) {
			t.Errorf("%s: remaining %+v reset %s, want %+v reset %s", m.ID, m.Remaining, m.ResetTime, want, wantReset)
		}
	}

	// Another model of the same family shares the spent pool.
	_, err = s.generate(ctx, acct.AccessToken, acct.Project, "gemini-2.5-flash")
	qe := asErr[*cloudcode.QuotaExhaustedError](t, err)
	if !qe.ResetAt.Equal(wantReset) || qe.Model != "gemini-2.5-flash" {
		t.Errorf("exhausted error = %+v, want reset %s model gemini-2.5-flash", qe, wantReset)
	}
	if _, err := s.generate(ctx, acct.AccessToken, acct.Project, "claude-opus-4-6-thinking"); err != nil {
		t.Errorf("claude after gemini drained: %v", err)
	}

	s.clk.Set(wantReset)
	token := s.srv.AccessToken(acct.Email) // the old one expired on the way
	if _, err := s.generate(ctx, token, acct.Project, "gemini-3-flash"); err != nil {
		t.Fatalf("after the reset: %v", err)
	}
	sum, err := s.client.RetrieveUserQuotaSummary(ctx, token, acct.Project)
	if err != nil {
		t.Fatal(err)
	}
	five, _ := sum.Bucket(cloudcode.FamilyGemini, cloudcode.Window5h)
	weekly, _ := sum.Bucket(cloudcode.FamilyGemini, cloudcode.WindowWeekly)
	if five.Remaining.Value != 2.0/3 || !five.ResetTime.Equal(wantReset.Add(5*time.Hour)) {
		t.Errorf("5h after reset = %+v, want 2/3 resetting at %s", five, wantReset.Add(5*time.Hour))
	}
	// The weekly window did not reset: 4 of 6 units used.
	if weekly.Remaining.Value != 2.0/6 || !weekly.ResetTime.Equal(start.Add(7*24*time.Hour)) {
		t.Errorf("weekly after 5h reset = %+v, want 1/3 resetting at %s", weekly, start.Add(7*24*time.Hour))
	}
}

// The QUOTA_EXHAUSTED body must match the brief's shape to the letter:
// callers parse its message, metadata and RetryInfo.
func TestQuotaExhaustedBodyShape(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "shape@example.com", TierID: "g1-ultra-tier"})
	s.srv.Drain(acct.Email, cloudcode.FamilyClaudeGPT)
	s.clk.Advance(57*time.Minute + 57*time.Second + 300*time.Millisecond)

	status, body := s.raw(t, http.MethodPost, "generateContent", acct.AccessToken, genBody(acct.Project, "claude-sonnet-4-6-thinking"))
	if status != http.StatusTooManyRequests {
		t.Fatalf("status %d, body %s", status, body)
	}
	want := `{"error":{"code":429,"message":"You have exhausted your capacity on this model. Your quota will reset after 4h2m3s.",` +
		`"status":"RESOURCE_EXHAUSTED","details":[` +
		`{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"QUOTA_EXHAUSTED","domain":"cloudcode-pa.googleapis.com",` +
		`"metadata":{"model":"claude-sonnet-4-6-thinking","quotaResetDelay":"4h2m2.7s","quotaResetTimeStamp":"2026-11-27T17:00:00Z"}},` +
		`{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"14522.7s"}]}}`
	if got := strings.TrimSuffix(string(body), "\n"); got != want {
		t.Errorf("body\n%s\nwant\n%s", got, want)
	}
}

func TestWeeklyEmptyWhileFiveHourFull(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "weekly@example.com", TierID: "g1-pro-tier"})
	ctx := context.Background()
	s.srv.SetRemaining(acct.Email, cloudcode.FamilyGemini, cloudcode.WindowWeekly, 0)

	// fetchAvailableModels reports the 5h figure only: "100 %" ...
	cat, err := s.client.FetchAvailableModels(ctx, acct.AccessToken, acct.Project)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := cat.Model("gemini-3-pro-high"); m.Remaining != cloudcode.KnownFraction(1) {
		t.Errorf("gemini-3-pro-high remaining %+v, want the 5h figure 1", m.Remaining)
	}
	// ... the summary tells the truth ...
	sum, err := s.client.RetrieveUserQuotaSummary(ctx, acct.AccessToken, acct.Project)
	if err != nil {
		t.Fatal(err)
	}
	weekly, _ := sum.Bucket(cloudcode.FamilyGemini, cloudcode.WindowWeekly)
	if weekly.Remaining != cloudcode.KnownFraction(0) {
		t.Errorf("weekly = %+v, want 0", weekly)
	}
	// ... and every request fails until the weekly reset.
	_, err = s.generate(ctx, acct.AccessToken, acct.Project, "gemini-3-flash")
	qe := asErr[*cloudcode.QuotaExhaustedError](t, err)
	if want := start.Add(7 * 24 * time.Hour); !qe.ResetAt.Equal(want) {
		t.Errorf("reset %s, want the weekly reset %s", qe.ResetAt, want)
	}
	if got := s.srv.Remaining(acct.Email, cloudcode.FamilyGemini, cloudcode.Window5h); got != 1 {
		t.Errorf("a refused call drained the 5h bucket to %v", got)
	}
}

// Every model of the catalogue carries a quotaInfo with a reset time; an
// empty family is sent with no fraction, which the client reads as 0
// left, never as unknown. A free account's Claude/GPT pool is empty from
// the start (Google gives free accounts none), with no Drain.
func TestCatalogueFiguresAndEmptyFamily(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "free@example.com"})
	status, raw := s.raw(t, http.MethodPost, "fetchAvailableModels", acct.AccessToken, []byte(`{"project":"`+acct.Project+`"}`))
	var models struct {
		Models map[string]struct {
			QuotaInfo map[string]json.RawMessage `json:"quotaInfo"`
		} `json:"models"`
	}
	if err := json.Unmarshal(raw, &models); status != http.StatusOK || err != nil {
		t.Fatalf("fetchAvailableModels: %d %s (%v)", status, raw, err)
	}
	if qi := models.Models["claude-sonnet-4-6"].QuotaInfo; qi["resetTime"] == nil || qi["remainingFraction"] != nil {
		t.Errorf("a free account's claude-sonnet-4-6 quotaInfo = %v; want a resetTime and no remainingFraction (0, as proto3 JSON sends it)", qi)
	}
	cat, err := s.client.FetchAvailableModels(context.Background(), acct.AccessToken, acct.Project)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, m := range cat.Models {
		ids[m.ID] = true
		want := cloudcode.KnownFraction(1)
		if m.Family == cloudcode.FamilyClaudeGPT {
			want = cloudcode.KnownFraction(0)
		}
		if m.Remaining != want || m.ResetTime.IsZero() {
			t.Errorf("%s: remaining %+v reset %s; want %+v with a reset time", m.ID, m.Remaining, m.ResetTime, want)
		}
	}
	for _, id := range []string{"gemini-3-flash", "gemini-3-pro-high", "gemini-2.5-flash", "claude-sonnet-4-6-thinking", "claude-opus-4-6-thinking", "gpt-oss-120b-medium"} {
		if !ids[id] {
			t.Errorf("catalogue lacks %s", id)
		}
	}
	if cat.Deprecated["gemini-2.5-pro"] == "" {
		t.Errorf("no deprecatedModelIds parsed: %v", cat.Deprecated)
	}
	if len(cat.Problems) != 0 {
		t.Errorf("problems reading the simulator: %q", cat.Problems)
	}
	_, err = s.generate(context.Background(), acct.AccessToken, acct.Project, "gpt-oss-120b-medium")
	asErr[*cloudcode.QuotaExhaustedError](t, err)
}

func TestProjectMissingQuirk(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "quirk@example.com", TierID: "g1-pro-tier"})
	s.srv.Drain(acct.Email, cloudcode.FamilyGemini)

	figure := func(body string) float64 {
		t.Helper()
		status, out := s.raw(t, http.MethodPost, "fetchAvailableModels", acct.AccessToken, []byte(body))
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, out)
		}
		cat, err := cloudcode.ParseAvailableModels(out)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := cat.Model("gemini-3-flash")
		return m.Remaining.Value
	}
	if got := figure(`{}`); got != 1 {
		t.Errorf("without project: %v, want the quirk's 1.0", got)
	}
	if got := figure(`{"project":"` + acct.Project + `"}`); got != 0 {
		t.Errorf("with project: %v, want 0", got)
	}
	_, err := s.client.RetrieveUserQuotaSummary(context.Background(), acct.AccessToken, "")
	asErr[*cloudcode.ForbiddenError](t, err)
	_, err = s.client.FetchAvailableModels(context.Background(), acct.AccessToken, "someone-elses-project")
	asErr[*cloudcode.ForbiddenError](t, err)
}

func TestHostDownFallbackAndFrozenProd(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "hosts@example.com", TierID: "g1-pro-tier"})
	ctx := context.Background()
	s.srv.SetRemaining(acct.Email, cloudcode.FamilyGemini, cloudcode.Window5h, 0.25)
	s.srv.SetFrozenProd(acct.Email, true)

	gemini := func() float64 {
		t.Helper()
		cat, err := s.client.FetchAvailableModels(ctx, acct.AccessToken, acct.Project)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := cat.Model("gemini-3-flash")
		return m.Remaining.Value
	}
	if got := gemini(); got != 0.25 {
		t.Errorf("daily up: %v, want the real 0.25", got)
	}
	s.srv.SetHostDown(cloudcodetest.HostDaily, http.StatusServiceUnavailable)
	if got := gemini(); got != 1 {
		t.Errorf("daily down, frozen prod: %v, want the placeholder 1", got)
	}
	if got := s.srv.Requests(acct.Email, "fetchAvailableModels"); got != 3 {
		t.Errorf("requests = %d, want 3 (daily, then daily+prod)", got)
	}
	s.srv.SetHostDown(cloudcodetest.HostProd, http.StatusBadGateway)
	_, err := s.client.FetchAvailableModels(ctx, acct.AccessToken, acct.Project)
	if te := asErr[*cloudcode.TransientError](t, err); te.Status != http.StatusBadGateway {
		t.Errorf("status %d, want the last host's 502", te.Status)
	}
	s.srv.SetHostDown(cloudcodetest.HostDaily, 0)
	s.srv.SetHostDown(cloudcodetest.HostProd, 0)
	if got := gemini(); got != 0.25 {
		t.Errorf("hosts back up: %v, want 0.25", got)
	}
}

// A window that starts between seconds still reports a reset time the
// caller can rely on: at the reported second the bucket is full again.
func TestReportedResetIsReliable(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	s.clk.Advance(1500 * time.Millisecond)
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "edge@example.com", TierID: "g1-pro-tier"})
	s.srv.Drain(acct.Email, cloudcode.FamilyGemini)
	sum, err := s.client.RetrieveUserQuotaSummary(context.Background(), acct.AccessToken, acct.Project)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := sum.Bucket(cloudcode.FamilyGemini, cloudcode.Window5h)
	if want := start.Add(5*time.Hour + 2*time.Second); !b.ResetTime.Equal(want) {
		t.Fatalf("reported reset %s, want %s (rounded up)", b.ResetTime, want)
	}
	s.clk.Set(b.ResetTime)
	if _, err := s.generate(context.Background(), s.srv.AccessToken(acct.Email), acct.Project, "gemini-3-flash"); err != nil {
		t.Errorf("at the reported reset time: %v", err)
	}
}
