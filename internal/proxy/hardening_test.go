package proxy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/proxy/proxytest"
	"github.com/quotatui/quotatui/internal/quota"
	"github.com/quotatui/quotatui/internal/syncbuf"
)

// startWith is startE2E with the stack's options adjusted by edit before
// it starts (the clock is a fake unless edit sets another).
func startWith(t *testing.T, edit func(*proxytest.Options)) *e2e {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	var specs []cloudcodetest.AccountSpec
	for _, e := range emails {
		specs = append(specs, cloudcodetest.AccountSpec{Email: e, TierID: "g1-pro-tier"})
	}
	opt := proxytest.Options{Accounts: specs, Clock: clk, Proxy: proxy.NewOptions(), Dir: t.TempDir(),
		Sim: cloudcodetest.Options{StreamInterval: time.Millisecond}}
	if edit != nil {
		edit(&opt)
	}
	ctx := context.Background()
	st, err := proxytest.Start(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	if err := st.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	// Its own transport, closed before the stack: connections dialed but
	// never used would otherwise hold the proxy's graceful shutdown.
	tr := &http.Transport{MaxIdleConnsPerHost: 100}
	t.Cleanup(tr.CloseIdleConnections)
	fc, _ := opt.Clock.(*clock.Fake)
	return &e2e{t: t, clk: fc, st: st, client: &http.Client{Transport: tr}}
}

// send makes one request to the proxy with the headers given as name,
// value pairs (a JSON content type unless one is given) and returns the
// response with its body read.
func (e *e2e) send(method, path, body string, hdr ...string) (*http.Response, string) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.st.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// totalCalls counts every v1internal call the simulator received.
func (e *e2e) totalCalls(rpcs ...string) int {
	n := 0
	for _, r := range rpcs {
		n += e.st.Sim.TotalRequests(r)
	}
	return n
}

// TestMethodNameIsValidated (issue 11.9): a method name that is not plain
// letters is refused with 404 before anything reaches the upstream; it
// used to go into the upstream URL unescaped, so %23 skipped generation
// routing and project injection, %3F injected query parameters and a
// CR LF was retried on three accounts as "transient".
func TestMethodNameIsValidated(t *testing.T) {
	e := startWith(t, nil)
	body := `{"model":"gemini-3-flash","project":"someone-elses","request":{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}}`
	for _, path := range []string{
		"/v1internal:generateContent%23x",
		"/v1internal:generateContent%3Falt=sse",
		"/v1internal:generateContent%3F%24alt%3Djson",
		"/v1internal:generate%0d%0aContent",
		"/v1internal:loadCode%2FAssist",
		"/v1internal:load_code",
		"/v1internal:gen%20Content",
		"/v1internal/operations/../generateContent",
		"/v1internal/operations/a%2Fb",
		"/v1internal/operations/",
	} {
		before := e.totalCalls("generateContent", "loadCodeAssist")
		for _, m := range []string{http.MethodPost, http.MethodGet} {
			b := body
			if m == http.MethodGet {
				b = ""
			}
			resp, got := e.send(m, path, b)
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s %s: status %d, want 404: %s", m, path, resp.StatusCode, got)
			}
		}
		if n := e.totalCalls("generateContent", "loadCodeAssist") - before; n != 0 {
			t.Errorf("%s reached the upstream %d times", path, n)
		}
	}
	if n := e.st.Sim.InFlight(); n != 0 {
		t.Errorf("%d calls still in flight upstream", n)
	}
}

// TestGeminiCLIOnboarding (issue 10.4) replays Gemini CLI onboarding a new
// account through the proxy and the simulator: loadCodeAssist, onboardUser,
// then GET v1internal/operations/<name> until it is done. The GETs reach the
// account that started the operation (any other answers 404).
func TestGeminiCLIOnboarding(t *testing.T) {
	e := startWith(t, nil)
	cli := []string{"Authorization", "Bearer dummy-token",
		"User-Agent", "GeminiCLI/0.61.0/gemini-2.5-pro (linux; x64; terminal) google-api-nodejs-client/10.9.0"}
	resp, body := e.send(http.MethodPost, "/v1internal:loadCodeAssist",
		`{"metadata":{"ideType":"IDE_UNSPECIFIED","platform":"PLATFORM_UNSPECIFIED","pluginType":"GEMINI"}}`, cli...)
	if resp.StatusCode != 200 {
		t.Fatalf("loadCodeAssist: %d %s", resp.StatusCode, body)
	}
	// A new account: onboarding is a long-running operation to poll.
	for _, email := range emails {
		e.st.Sim.SetOnboarded(email, false)
	}
	resp, body = e.send(http.MethodPost, "/v1internal:onboardUser",
		`{"tierId":"free-tier","metadata":{"ideType":"IDE_UNSPECIFIED","platform":"PLATFORM_UNSPECIFIED","pluginType":"GEMINI"}}`, cli...)
	var op struct {
		Name     string `json:"name"`
		Done     bool   `json:"done"`
		Response struct {
			Project struct {
				ID string `json:"id"`
			} `json:"cloudaicompanionProject"`
		} `json:"response"`
	}
	if err := json.Unmarshal([]byte(body), &op); resp.StatusCode != 200 || err != nil || op.Name == "" {
		t.Fatalf("onboardUser: %d %s", resp.StatusCode, body)
	}
	owner := resp.Header.Get("X-Quotatui-Account")
	polls := 0
	for !op.Done {
		polls++
		if polls > 5 {
			t.Fatalf("operation %s not done after %d polls", op.Name, polls)
		}
		resp, body = e.send(http.MethodGet, "/v1internal/"+op.Name, "", cli...)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", op.Name, resp.StatusCode, body)
		}
		if got := resp.Header.Get("X-Quotatui-Account"); got != owner {
			t.Errorf("poll %d went to %s, want %s, which started the operation", polls, got, owner)
		}
		op.Done = false
		if err := json.Unmarshal([]byte(body), &op); err != nil {
			t.Fatal(err)
		}
	}
	if polls != 2 || op.Response.Project.ID != e.st.Projects[owner] {
		t.Errorf("done after %d polls with project %q, want 2 and %q", polls, op.Response.Project.ID, e.st.Projects[owner])
	}
	if n := e.st.Sim.Requests(owner, "operations"); n != 2 {
		t.Errorf("the owner got %d GETs of the operation, want 2", n)
	}
	// Only GET reaches an operation.
	if resp, body := e.send(http.MethodPost, "/v1internal/"+op.Name, `{}`, cli...); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST to the operation: %d %s, want 405", resp.StatusCode, body)
	}
}

// states returns every account's state, by email.
func (e *e2e) states() map[string]quota.AccountState {
	out := map[string]quota.AccountState{}
	for _, st := range e.st.Quota.GetAllQuotas() {
		out[st.Email] = st.State
	}
	return out
}

// TestPassthroughCannotDisableAccounts (issue 11.1): a client's
// passthrough call that the upstream refuses with 403 (retrieveUserQuotaSummary
// without a project) gets that answer, from one account, and changes no
// account's state. Two such calls used to take every account to FORBIDDEN.
func TestPassthroughCannotDisableAccounts(t *testing.T) {
	e := startWith(t, nil)
	for i := range 3 {
		before := e.totalCalls("retrieveUserQuotaSummary")
		resp, body := e.send(http.MethodPost, "/v1internal:retrieveUserQuotaSummary", `{}`, "Authorization", "Bearer whoever")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "PERMISSION_DENIED") {
			t.Fatalf("call %d: %d %s, want the upstream's 403", i, resp.StatusCode, body)
		}
		if n := e.totalCalls("retrieveUserQuotaSummary") - before; n != 1 {
			t.Errorf("call %d reached %d accounts, want 1", i, n)
		}
	}
	for email, st := range e.states() {
		if st != quota.StateActive {
			t.Errorf("%s is %s after the client's calls, want active", email, st)
		}
	}
	if resp, body := e.generate("gemini-3-flash", "after"); resp.StatusCode != 200 {
		t.Errorf("generation after the calls: %d %s", resp.StatusCode, body)
	}
}

// TestGenerationForbidden (issue 11.1): a 403 on generation changes the
// account's state only when it proves something about the account: a
// reason that names it (SERVICE_DISABLED), or a PERMISSION_DENIED that a
// fresh quota read of the account confirms. A PERMISSION_DENIED the quota
// read does not confirm leaves the account as it was; the request moves
// on either way.
func TestGenerationForbidden(t *testing.T) {
	denied := `{"error":{"code":403,"message":"The caller does not have permission","status":"PERMISSION_DENIED"}}`
	tests := []struct {
		name      string
		setup     func(e *e2e, email string)
		injected  bool // the first generation call of the account is answered a plain 403
		wantState quota.AccountState
	}{
		{"SERVICE_DISABLED names the account", func(e *e2e, email string) { e.st.Sim.Forbid(email, "SERVICE_DISABLED") }, false, quota.StateForbidden},
		{"PERMISSION_DENIED confirmed by the quota read", func(e *e2e, email string) { e.st.Sim.Forbid(email, "") }, false, quota.StateForbidden},
		{"PERMISSION_DENIED the quota read does not confirm", nil, true, quota.StateActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var target atomic.Value // email whose first generate call gets the plain 403
			var once sync.Once
			e := startWith(t, func(o *proxytest.Options) {
				o.WrapUpstream = func(next proxy.Upstream) proxy.Upstream {
					return upstreamFunc(func(ctx context.Context, r cloudcode.Request) (*http.Response, error) {
						if tt.injected && r.RPC == "generateContent" {
							var env struct{ Project string }
							_ = json.Unmarshal(r.Body, &env)
							if p, _ := target.Load().(string); p != "" && env.Project == p {
								hit := false
								once.Do(func() { hit = true })
								if hit {
									return nil, cloudcode.Classify(403, http.Header{}, []byte(denied), time.Now())
								}
							}
						}
						return next.Do(ctx, r)
					})
				}
			})
			top := e.st.Quota.Rank("gemini-3-flash")[0].Label
			target.Store(e.st.Projects[top])
			if tt.setup != nil {
				tt.setup(e, top)
			}
			syncsBefore := e.st.Sim.Requests(top, "fetchAvailableModels")
			resp, body := e.generate("gemini-3-flash", "s")
			if resp.StatusCode != 200 || resp.Header.Get("X-Quotatui-Account") == top {
				t.Fatalf("status %d on %q, want 200 on another account than %s: %s", resp.StatusCode, resp.Header.Get("X-Quotatui-Account"), top, body)
			}
			if got := e.states()[top]; got != tt.wantState {
				t.Errorf("%s is %s, want %s", top, got, tt.wantState)
			}
			if tt.injected && e.st.Sim.Requests(top, "fetchAvailableModels") == syncsBefore {
				t.Error("the unconfirmed 403 was not checked with a fresh quota read")
			}
		})
	}
}

// TestRetryAfterAfterRecheck (issue 11.10): when the last usable account is
// found empty by the pre-request re-check, the 429's wait comes from the
// accounts as they are after the re-check (that account's 5-hour reset),
// not from the ranking made before it (another account's weekly reset,
// days away).
func TestRetryAfterAfterRecheck(t *testing.T) {
	e := startWith(t, nil)
	last := emails[0]
	for _, em := range emails[1:] {
		e.st.Sim.SetRemaining(em, cloudcode.FamilyGemini, cloudcode.WindowWeekly, 0)
		e.sync(em)
	}
	e.st.Sim.SetRemaining(last, cloudcode.FamilyGemini, cloudcode.Window5h, 0.05)
	e.sync(last)
	e.st.Sim.Drain(last, cloudcode.FamilyGemini) // the cache still says 5 %
	resp, body := e.generate("gemini-3-flash", "")
	if resp.StatusCode != 429 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	want := e.st.Sim.ResetTime(last, cloudcode.FamilyGemini, cloudcode.Window5h).Sub(e.clk.Now())
	if ra := resp.Header.Get("Retry-After"); ra != fmt.Sprint(int(want.Seconds())) {
		t.Errorf("Retry-After = %s s, want %d s (the re-checked account's 5-hour reset): %s", ra, int(want.Seconds()), body)
	}
	if n := e.st.Sim.TotalRequests("generateContent"); n != 0 {
		t.Errorf("%d generate calls, want 0", n)
	}
}

// syncBuffer is safe for concurrent writers and readers.
type syncBuffer = syncbuf.Buffer

// TestLogVolume (issue 11.11): at INFO the proxy writes no line per
// request; what an operator must know (switches, timeouts) reaches INFO and
// WARN at most once a minute per account and kind, saying how many like it
// were held back.
func TestLogVolume(t *testing.T) {
	var buf syncBuffer
	e := startWith(t, func(o *proxytest.Options) {
		o.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	top := e.st.Quota.Rank("gemini-3-flash")[0].Label
	e.st.Sim.BareBurst(top, 1000)
	for i := range 40 {
		if resp, body := e.generate("gemini-3-flash", fmt.Sprint("s", i%4)); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
		e.clk.Advance(2 * time.Second) // past each cooldown: the bursting account is tried again
	}
	out := buf.String()
	if n := strings.Count(out, "proxied request"); n != 0 {
		t.Errorf("%d per-request lines at INFO, want 0:\n%s", n, out)
	}
	if n := strings.Count(out, "session moved"); n != 1 {
		t.Errorf("%d switch lines, want 1 (once a minute per account):\n%s", n, out)
	}
	if lines := strings.Count(out, "\n"); lines > 10 {
		t.Errorf("%d log lines for 40 requests:\n%s", lines, out)
	}
}

// TestUnavailableNamesTheCause (issue 15.4): when no account can be used
// at all, the 503 says why: each account's state with the upstream's
// reason, or the error that kept every account from getting an access
// token (here the token endpoint is unreachable), not "disabled, forbidden
// or needing a login".
func TestUnavailableNamesTheCause(t *testing.T) {
	t.Run("forbidden", func(t *testing.T) {
		e := startWith(t, nil)
		for _, em := range emails {
			e.st.Sim.Forbid(em, "SERVICE_DISABLED")
		}
		e.generate("gemini-3-flash", "first") // every account answers 403 SERVICE_DISABLED
		resp, body := e.generate("gemini-3-flash", "second")
		if resp.StatusCode != 503 || !strings.Contains(body, "3 accounts: forbidden by the upstream (SERVICE_DISABLED") {
			t.Errorf("%d %s, want 503 naming SERVICE_DISABLED for 3 accounts", resp.StatusCode, body)
		}
	})
	t.Run("no access token", func(t *testing.T) {
		e := startWith(t, nil)
		e.st.Sim.Close()             // the token endpoint (and everything else) is gone
		e.clk.Advance(2 * time.Hour) // every access token has expired
		resp, body := e.generate("gemini-3-flash", "s")
		if resp.StatusCode != 503 || !strings.Contains(body, "3 accounts: could not get an access token") || !strings.Contains(body, "connection refused") {
			t.Errorf("%d %s, want 503 naming the token endpoint's network error", resp.StatusCode, body)
		}
	})
	// Issue 12.4: a database that cannot be written is named in /healthz
	// and in the 503 (the engine's Health, as the dashboard shows it).
	t.Run("database not writable", func(t *testing.T) {
		e := startWith(t, nil)
		ctx := context.Background()
		if err := e.st.Store.SetReadOnly(ctx, true); err != nil {
			t.Fatal(err)
		}
		e.st.Quota.SyncAll(ctx) // its write fails
		resp, body := e.send(http.MethodGet, "/healthz", "")
		if resp.StatusCode != 200 || !strings.Contains(body, `"ok":false`) || !strings.Contains(body, "database not writable") {
			t.Errorf("healthz: %d %s, want ok false naming the database", resp.StatusCode, body)
		}
		e.st.Sim.Close()
		e.clk.Advance(2 * time.Hour)
		resp, body = e.generate("gemini-3-flash", "s")
		if resp.StatusCode != 503 || !strings.Contains(body, "database not writable") {
			t.Errorf("%d %s, want 503 naming the database", resp.StatusCode, body)
		}
	})
}
