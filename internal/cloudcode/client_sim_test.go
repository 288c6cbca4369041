package cloudcode_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

var simStart = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// simEnv is a simulator with a fake clock and a client pointed at it.
type simEnv struct {
	clk *clock.Fake
	sim *cloudcodetest.Server
	c   *cloudcode.Client
}

func newSim(t *testing.T, opts cloudcodetest.Options) *simEnv {
	t.Helper()
	clk := clock.NewFake(simStart)
	opts.Clock = clk
	sim := cloudcodetest.NewServer(opts)
	t.Cleanup(sim.Close)
	c := cloudcode.New(cloudcode.Config{BaseURLs: sim.BaseURLs(), HTTPClient: sim.Client(), Clock: clk})
	return &simEnv{clk: clk, sim: sim, c: c}
}

// generate makes one generateContent call for model.
func (e *simEnv) generate(ctx context.Context, acct cloudcodetest.Account, model string) error {
	resp, err := e.c.Do(ctx, cloudcode.Request{RPC: "generateContent", Body: genBody(acct.Project, model), AccessToken: acct.AccessToken})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var answer struct {
		Candidates []json.RawMessage `json:"candidates"`
	}
	if err := json.Unmarshal(cloudcode.UnwrapResponse(body), &answer); err != nil || len(answer.Candidates) == 0 {
		return fmt.Errorf("answer %s is not a wrapped response: %v", body, err)
	}
	return nil
}

func genBody(project, model string) []byte {
	return fmt.Appendf(nil, `{"project":%q,"model":%q,"userAgent":"antigravity","requestType":"agent","request":{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}}`, project, model)
}

func TestSimSubscriptionAndQuota(t *testing.T) {
	e := newSim(t, cloudcodetest.Options{})
	ctx := context.Background()
	tests := []struct {
		tierID string
		want   cloudcode.Tier
	}{
		{"free-tier", cloudcode.TierFree},
		{"g1-pro-tier", cloudcode.TierPro},
		{"g1-ultra-tier", cloudcode.TierUltra},
	}
	for _, tt := range tests {
		t.Run(tt.tierID, func(t *testing.T) {
			acct := e.sim.AddAccount(cloudcodetest.AccountSpec{Email: tt.tierID + "@example.com", TierID: tt.tierID})
			sub, err := e.c.LoadCodeAssist(ctx, acct.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if sub.ProjectID != acct.Project || sub.Tier != tt.want || sub.TierID != tt.tierID || sub.ValidationRequired {
				t.Fatalf("subscription = %+v, want project %s tier %s", sub, acct.Project, tt.want)
			}
			cat, err := e.c.FetchAvailableModels(ctx, acct.AccessToken, sub.ProjectID)
			if err != nil {
				t.Fatal(err)
			}
			m, ok := cat.Model("gemini-3-flash")
			if !ok || !m.Remaining.Known || m.Remaining.Value != 1 || m.Family != cloudcode.FamilyGemini || m.ResetTime.IsZero() {
				t.Errorf("gemini-3-flash = %+v, %v; want full with a reset time", m, ok)
			}
			if _, ok := cat.Model("chat_20706"); ok {
				t.Error("internal model listed")
			}
			sum, err := e.c.RetrieveUserQuotaSummary(ctx, acct.AccessToken, sub.ProjectID)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range cloudcode.Families {
				// Google gives free accounts no Claude and GPT quota: those
				// buckets are present, with a reset time, and 0 left.
				want := 1.0
				if tt.want == cloudcode.TierFree && f == cloudcode.FamilyClaudeGPT {
					want = 0
				}
				for _, w := range []cloudcode.Window{cloudcode.Window5h, cloudcode.WindowWeekly} {
					b, ok := sum.Bucket(f, w)
					if !ok || !b.Remaining.Known || b.Remaining.Value != want || b.ResetTime.IsZero() {
						t.Errorf("bucket %s/%s = %+v, %v; want known, %v left, with a reset time", f, w, b, ok, want)
					}
				}
			}
			if m, ok := cat.Model("claude-sonnet-4-6"); tt.want == cloudcode.TierFree &&
				(!ok || !m.Remaining.Known || m.Remaining.Value != 0 || m.ResetTime.IsZero()) {
				t.Errorf("claude-sonnet-4-6 on a free account = %+v, %v; want 0 left with a reset time (no Claude quota)", m, ok)
			}
		})
	}
}

func TestSimDrainExhaustsUntilReset(t *testing.T) {
	e := newSim(t, cloudcodetest.Options{})
	ctx := context.Background()
	const email = "drain@example.com"
	acct := e.sim.AddAccount(cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})

	if err := e.generate(ctx, acct, "gemini-3-flash"); err != nil {
		t.Fatal(err)
	}
	cat, err := e.c.FetchAvailableModels(ctx, acct.AccessToken, acct.Project)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := cat.Model("gemini-3-pro-high"); !m.Remaining.Known || m.Remaining.Value >= 1 {
		t.Fatalf("after one call gemini-3-pro-high = %+v; the family pool must have drained", m.Remaining)
	}

	e.sim.Drain(email, cloudcode.FamilyGemini)
	reset := e.sim.ResetTime(email, cloudcode.FamilyGemini, cloudcode.Window5h)
	err = e.generate(ctx, acct, "gemini-3-pro-high")
	var qe *cloudcode.QuotaExhaustedError
	if !errors.As(err, &qe) {
		t.Fatalf("generate on a drained family = %v (%T), want QuotaExhaustedError", err, err)
	}
	if !qe.ResetAt.Equal(reset) || qe.Model != "gemini-3-pro-high" {
		t.Fatalf("exhaustion = %+v, want reset %v for gemini-3-pro-high", qe, reset)
	}
	// The other family is a separate pool.
	if err := e.generate(ctx, acct, "claude-sonnet-4-6-thinking"); err != nil {
		t.Fatalf("claude after draining gemini: %v", err)
	}
	sum, err := e.c.RetrieveUserQuotaSummary(ctx, acct.AccessToken, acct.Project)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := sum.Bucket(cloudcode.FamilyGemini, cloudcode.Window5h); !b.Remaining.Known || b.Remaining.Value != 0 || !b.ResetTime.Equal(reset) {
		t.Fatalf("gemini 5h bucket = %+v, want 0 until %v", b, reset)
	}

	e.clk.Set(reset.Add(time.Second))
	acct.AccessToken = e.sim.AccessToken(email) // the old one expired with the hours
	if err := e.generate(ctx, acct, "gemini-3-pro-high"); err != nil {
		t.Fatalf("generate after the reset: %v", err)
	}
	cat, err = e.c.FetchAvailableModels(ctx, acct.AccessToken, acct.Project)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := cat.Model("gemini-3-flash"); !m.Remaining.Known || m.Remaining.Value < 0.9 || !m.ResetTime.After(reset) {
		t.Fatalf("after the reset gemini-3-flash = %+v, want a fresh window", m)
	}
}

func TestSimEmptyWeeklyBucket(t *testing.T) {
	e := newSim(t, cloudcodetest.Options{})
	ctx := context.Background()
	const email = "weekly@example.com"
	acct := e.sim.AddAccount(cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	e.sim.SetRemaining(email, cloudcode.FamilyClaudeGPT, cloudcode.WindowWeekly, 0)
	weeklyReset := e.sim.ResetTime(email, cloudcode.FamilyClaudeGPT, cloudcode.WindowWeekly)

	sum, err := e.c.RetrieveUserQuotaSummary(ctx, acct.AccessToken, acct.Project)
	if err != nil {
		t.Fatal(err)
	}
	five, _ := sum.Bucket(cloudcode.FamilyClaudeGPT, cloudcode.Window5h)
	week, _ := sum.Bucket(cloudcode.FamilyClaudeGPT, cloudcode.WindowWeekly)
	if five.Remaining.Value != 1 || !week.Remaining.Known || week.Remaining.Value != 0 {
		t.Fatalf("5h %+v weekly %+v, want full 5h and empty weekly", five.Remaining, week.Remaining)
	}
	var qe *cloudcode.QuotaExhaustedError
	if err := e.generate(ctx, acct, "gpt-oss-120b-medium"); !errors.As(err, &qe) || !qe.ResetAt.Equal(weeklyReset) {
		t.Fatalf("generate with an empty weekly bucket = %v, want exhaustion until %v", err, weeklyReset)
	}
}

func TestSimStreaming(t *testing.T) {
	e := newSim(t, cloudcodetest.Options{StreamChunks: 3})
	acct := e.sim.AddAccount(cloudcodetest.AccountSpec{Email: "stream@example.com", TierID: "g1-ultra-tier"})
	resp, err := e.c.Do(context.Background(), cloudcode.Request{
		RPC: "streamGenerateContent", Query: url.Values{"alt": {"sse"}},
		Body: genBody(acct.Project, "claude-sonnet-4-6-thinking"), AccessToken: acct.AccessToken,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("Content-Type = %q", ct)
	}
	var events []map[string]json.RawMessage
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var ev map[string]json.RawMessage
		if err := json.Unmarshal(cloudcode.UnwrapResponse([]byte(data)), &ev); err != nil {
			t.Fatalf("event %q: %v", data, err)
		}
		events = append(events, ev)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 {
		t.Fatalf("got %d events, want 3", len(events))
	}
	if _, ok := events[2]["usageMetadata"]; !ok {
		t.Error("last event has no usageMetadata")
	}
	if _, ok := events[0]["candidates"]; !ok {
		t.Error("first event has no candidates: not unwrapped")
	}
}

func TestSimExpiredToken(t *testing.T) {
	e := newSim(t, cloudcodetest.Options{})
	const email = "expired@example.com"
	acct := e.sim.AddAccount(cloudcodetest.AccountSpec{Email: email})
	e.sim.ExpireAccessTokens(email)
	_, err := e.c.FetchAvailableModels(context.Background(), acct.AccessToken, acct.Project)
	var ue *cloudcode.UnauthorizedError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v (%T), want UnauthorizedError", err, err)
	}
	if strings.Contains(err.Error(), acct.AccessToken) {
		t.Fatal("error leaks the access token")
	}
	// 401 is about the token, not the host: prod must not be asked.
	// An expired token no longer names its account, so count them all.
	if n := e.sim.TotalRequests("fetchAvailableModels"); n != 1 {
		t.Errorf("fetchAvailableModels made %d calls, want 1", n)
	}
	if _, err := e.c.FetchAvailableModels(context.Background(), e.sim.AccessToken(email), acct.Project); err != nil {
		t.Fatalf("with a fresh token: %v", err)
	}
}

func TestSimHostFallback(t *testing.T) {
	e := newSim(t, cloudcodetest.Options{})
	ctx := context.Background()
	const email = "fallback@example.com"
	acct := e.sim.AddAccount(cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	e.sim.SetFrozenProd(email, true)
	e.sim.Drain(email, cloudcode.FamilyGemini)

	// Daily up: the real figure, from one call.
	cat, err := e.c.FetchAvailableModels(ctx, acct.AccessToken, acct.Project)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := cat.Model("gemini-3-flash"); m.Remaining.Value != 0 {
		t.Fatalf("daily host says %v, want the real 0", m.Remaining)
	}
	if n := e.sim.Requests(email, "fetchAvailableModels"); n != 1 {
		t.Fatalf("%d calls with daily up, want 1", n)
	}

	for _, status := range []int{503, 404, 500} {
		e.sim.SetHostDown(cloudcodetest.HostDaily, status)
		cat, err = e.c.FetchAvailableModels(ctx, acct.AccessToken, acct.Project)
		if err != nil {
			t.Fatalf("daily down with %d: %v, want prod's answer", status, err)
		}
		// Prod's frozen placeholder is why daily goes first.
		if m, _ := cat.Model("gemini-3-flash"); m.Remaining.Value != 1 {
			t.Fatalf("prod with daily down (%d) says %v, want the frozen 1", status, m.Remaining)
		}
	}

	e.sim.SetHostDown(cloudcodetest.HostProd, 502)
	_, err = e.c.FetchAvailableModels(ctx, acct.AccessToken, acct.Project)
	var te *cloudcode.TransientError
	if !errors.As(err, &te) || te.Status != 502 {
		t.Fatalf("both hosts down = %v, want prod's 502 as TransientError", err)
	}
}

func TestSimAccountErrors(t *testing.T) {
	const verifyURL = "https://accounts.google.com/signin/continue?sim=1"
	e := newSim(t, cloudcodetest.Options{})
	ctx := context.Background()

	t.Run("validation", func(t *testing.T) {
		const email = "verify@example.com"
		acct := e.sim.AddAccount(cloudcodetest.AccountSpec{Email: email})
		e.sim.FlagValidation(email, verifyURL)
		sub, err := e.c.LoadCodeAssist(ctx, acct.AccessToken)
		if err != nil || !sub.ValidationRequired || sub.ValidationURL != verifyURL {
			t.Fatalf("LoadCodeAssist = %+v, %v; want validation required at %s", sub, err, verifyURL)
		}
		_, err = e.c.RetrieveUserQuotaSummary(ctx, acct.AccessToken, acct.Project)
		var ve *cloudcode.ValidationRequiredError
		if !errors.As(err, &ve) || ve.URL != verifyURL {
			t.Fatalf("summary = %v, want ValidationRequiredError at %s", err, verifyURL)
		}
		e.sim.Unflag(email)
		if _, err := e.c.RetrieveUserQuotaSummary(ctx, acct.AccessToken, acct.Project); err != nil {
			t.Fatalf("after Unflag: %v", err)
		}
	})
	t.Run("forbidden", func(t *testing.T) {
		const email = "forbid@example.com"
		acct := e.sim.AddAccount(cloudcodetest.AccountSpec{Email: email})
		e.sim.Forbid(email, "SERVICE_DISABLED")
		_, err := e.c.FetchAvailableModels(ctx, acct.AccessToken, acct.Project)
		var fe *cloudcode.ForbiddenError
		if !errors.As(err, &fe) || fe.Reason != "SERVICE_DISABLED" {
			t.Fatalf("err = %v, want ForbiddenError SERVICE_DISABLED", err)
		}
	})
	t.Run("wrong project", func(t *testing.T) {
		acct := e.sim.AddAccount(cloudcodetest.AccountSpec{Email: "project@example.com"})
		_, err := e.c.RetrieveUserQuotaSummary(ctx, acct.AccessToken, "someone-elses-project")
		var fe *cloudcode.ForbiddenError
		if !errors.As(err, &fe) {
			t.Fatalf("err = %v (%T), want ForbiddenError", err, err)
		}
	})
}

func TestSimFaultsAndRateLimit(t *testing.T) {
	ctx := context.Background()
	t.Run("bare 429", func(t *testing.T) {
		e := newSim(t, cloudcodetest.Options{})
		acct := e.sim.AddAccount(cloudcodetest.AccountSpec{Email: "bare@example.com"})
		e.sim.SetFaults(cloudcodetest.Faults{BareRate: 1})
		var rl *cloudcode.RateLimitedError
		if err := e.generate(ctx, acct, "gemini-3-flash"); !errors.As(err, &rl) || !rl.Bare {
			t.Fatalf("err = %v, want a bare RateLimitedError", err)
		}
		if n := e.sim.Requests("bare@example.com", "generateContent"); n != 1 {
			t.Fatalf("%d generate calls, want 1: 429 must not move to the next host", n)
		}
	})
	t.Run("capacity", func(t *testing.T) {
		e := newSim(t, cloudcodetest.Options{})
		acct := e.sim.AddAccount(cloudcodetest.AccountSpec{Email: "cap@example.com"})
		e.sim.SetFaults(cloudcodetest.Faults{CapacityRate: 1})
		var ce *cloudcode.CapacityExhaustedError
		if err := e.generate(ctx, acct, "claude-opus-4-6-thinking"); !errors.As(err, &ce) || ce.RetryDelay != 40*time.Second {
			t.Fatalf("err = %v, want CapacityExhaustedError retrying in 40s", err)
		}
	})
	t.Run("rpm", func(t *testing.T) {
		e := newSim(t, cloudcodetest.Options{RPM: 2})
		acct := e.sim.AddAccount(cloudcodetest.AccountSpec{Email: "rpm@example.com"})
		for range 2 {
			if err := e.generate(ctx, acct, "gemini-3-flash"); err != nil {
				t.Fatal(err)
			}
		}
		err := e.generate(ctx, acct, "gemini-3-flash")
		var rl *cloudcode.RateLimitedError
		if !errors.As(err, &rl) || rl.Bare || rl.RetryDelay <= 0 || rl.RetryDelay > time.Minute {
			t.Fatalf("third call in a minute = %v, want a rate limit with a delay up to 1m", err)
		}
		e.clk.Advance(rl.RetryDelay)
		if err := e.generate(ctx, acct, "gemini-3-flash"); err != nil {
			t.Fatalf("after the delay: %v", err)
		}
	})
}

func TestSimHangingAccountHonoursCancellation(t *testing.T) {
	e := newSim(t, cloudcodetest.Options{})
	const email = "hang@example.com"
	acct := e.sim.AddAccount(cloudcodetest.AccountSpec{Email: email})
	e.sim.SetHang(email, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Cancel once the call is parked in the simulator.
		deadline := time.Now().Add(10 * time.Second)
		for e.sim.InFlight() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := e.c.LoadCodeAssist(ctx, acct.AccessToken)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := e.sim.Requests(email, "loadCodeAssist"); n != 1 {
		t.Fatalf("%d calls, want 1: a cancelled call must not try the next host", n)
	}
}
