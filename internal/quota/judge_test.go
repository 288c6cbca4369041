package quota

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/store"
)

// clientMismatchErr looks like auth's OAuth client error.
type clientMismatchErr struct{}

func (clientMismatchErr) Error() string { return "refresh token belongs to another OAuth client" }
func (clientMismatchErr) AccountState() store.AccountState {
	return store.StateClientMismatch
}

// TestJudge is the table of what each upstream error means, per call kind.
func TestJudge(t *testing.T) {
	now := t0
	reset := now.Add(161 * time.Hour)
	forbidden := &cloudcode.ForbiddenError{Status: 403, Reason: "SERVICE_DISABLED", Message: "Cloud Code Private API has not been used in project 123 before or it is disabled."}
	denied := &cloudcode.ForbiddenError{Status: 403, Message: "The caller does not have permission"}
	tests := []struct {
		name string
		err  error
		call Call
		want Verdict
	}{
		{"nil", nil, CallGeneration, Verdict{}},
		{"exhausted on generation", &cloudcode.QuotaExhaustedError{Status: 429, ResetAt: reset, Message: "m"}, CallGeneration,
			Verdict{Effect: EffectExhausted, Status: 429, Until: reset, Resync: true, Reason: "quota exhausted (upstream 429)"}},
		// Issue 11.1: a client's passthrough call never marks an account.
		{"exhausted on passthrough", &cloudcode.QuotaExhaustedError{Status: 429, ResetAt: reset}, CallPassthrough,
			Verdict{Effect: EffectNone, Status: 429, Until: reset, Reason: "quota exhausted (upstream 429)"}},
		// Issue 11.3: a short first cooldown the caller may grow, not 10 s.
		{"bare 429 on generation", &cloudcode.RateLimitedError{Status: 429, Bare: true}, CallGeneration,
			Verdict{Effect: EffectCooldown, Status: 429, Until: now.Add(ShortCooldown), Backoff: true, Resync: true, ShortLived: true, Reason: "429 without details"}},
		{"bare 429 on passthrough", &cloudcode.RateLimitedError{Status: 429, Bare: true}, CallPassthrough,
			Verdict{Effect: EffectNone, Status: 429, ShortLived: true, Reason: "rate limited"}},
		{"short rate limit", &cloudcode.RateLimitedError{Status: 429, RetryDelay: 1354 * time.Millisecond}, CallGeneration,
			Verdict{Effect: EffectRetry, Status: 429, Delay: 1354 * time.Millisecond, Reason: "rate limited"}},
		{"long rate limit", &cloudcode.RateLimitedError{Status: 429, RetryDelay: 30 * time.Second}, CallGeneration,
			Verdict{Effect: EffectCooldown, Status: 429, Delay: 30 * time.Second, Until: now.Add(30 * time.Second), ShortLived: true, Reason: "rate limited"}},
		{"rate limit without delay", &cloudcode.RateLimitedError{Status: 429}, CallGeneration,
			Verdict{Effect: EffectCooldown, Status: 429, Until: now.Add(ShortCooldown), Backoff: true, ShortLived: true, Reason: "rate limited"}},
		{"rate limit without delay on passthrough", &cloudcode.RateLimitedError{Status: 429}, CallPassthrough,
			Verdict{Effect: EffectNone, Status: 429, ShortLived: true, Reason: "rate limited"}},
		{"short rate limit on passthrough", &cloudcode.RateLimitedError{Status: 429, RetryDelay: time.Second}, CallPassthrough,
			Verdict{Effect: EffectRetry, Status: 429, Delay: time.Second, Reason: "rate limited"}},
		{"429 on a quota read backs reads off", &cloudcode.RateLimitedError{Status: 429, RetryDelay: 5 * time.Minute}, CallQuotaRead,
			Verdict{Effect: EffectQuotaUnreadable, Status: 429, Delay: 5 * time.Minute, Until: now.Add(5 * time.Minute), Reason: "quota reads rate-limited (429)"}},
		{"bare 429 on a quota read", &cloudcode.RateLimitedError{Status: 429, Bare: true}, CallQuotaRead,
			Verdict{Effect: EffectQuotaUnreadable, Status: 429, Until: now.Add(minReadBackoff), Reason: "quota reads rate-limited (429)"}},
		{"capacity", &cloudcode.CapacityExhaustedError{Status: 503, RetryDelay: 40 * time.Second}, CallGeneration,
			Verdict{Effect: EffectNone, Status: 503, Delay: 40 * time.Second, Reason: "model capacity exhausted"}},
		{"401", &cloudcode.UnauthorizedError{Status: 401}, CallQuotaRead,
			Verdict{Effect: EffectRefreshToken, Status: 401, Reason: "access token rejected (401)"}},
		{"validation anywhere", &cloudcode.ValidationRequiredError{Status: 403, URL: "https://v", Message: "verify"}, CallQuotaRead,
			Verdict{Effect: EffectValidationRequired, Status: 403, ValidationURL: "https://v", Reason: "verify"}},
		{"validation on generation", &cloudcode.ValidationRequiredError{Status: 403, URL: "https://v", Message: "verify"}, CallGeneration,
			Verdict{Effect: EffectValidationRequired, Status: 403, ValidationURL: "https://v", Reason: "verify"}},
		{"validation on passthrough is relayed", &cloudcode.ValidationRequiredError{Status: 403, URL: "https://v", Message: "verify"}, CallPassthrough,
			Verdict{Effect: EffectNone, Status: 403, ValidationURL: "https://v", Reason: "verify", ClientFault: true}},
		{"403 SERVICE_DISABLED on generation", forbidden, CallGeneration,
			Verdict{Effect: EffectForbidden, Status: 403, Reason: forbiddenReason(forbidden)}},
		{"plain 403 on generation needs a refused quota read", denied, CallGeneration,
			Verdict{Effect: EffectForbidden, Status: 403, Reason: forbiddenReason(denied), Verify: true}},
		{"403 on a quota read", forbidden, CallQuotaRead,
			Verdict{Effect: EffectQuotaUnreadable, Status: 403, Reason: forbiddenReason(forbidden)}},
		{"403 on passthrough is relayed", forbidden, CallPassthrough,
			Verdict{Effect: EffectNone, Status: 403, Reason: forbiddenReason(forbidden), ClientFault: true}},
		{"timeout on generation", &cloudcode.TimeoutError{Stage: "first byte", After: time.Minute}, CallGeneration,
			Verdict{Effect: EffectCooldown, Until: now.Add(ShortCooldown), Backoff: true, Resync: true, ShortLived: true, TimedOut: true,
				Reason: "upstream timed out: no first byte within 1m0s"}},
		{"timeout on passthrough", fmt.Errorf("send: %w", &cloudcode.TimeoutError{Stage: "first byte", After: time.Minute}), CallPassthrough,
			Verdict{Effect: EffectNone, TimedOut: true, Reason: "upstream timed out: no first byte within 1m0s"}},
		{"404 on generation", &cloudcode.NotFoundError{Status: 404}, CallGeneration,
			Verdict{Effect: EffectNone, Status: 404, ClientFault: true, Reason: "not found"}},
		{"400", &cloudcode.UnknownError{Status: 400}, CallGeneration,
			Verdict{Effect: EffectNone, Status: 400, ClientFault: true, Reason: "upstream error (HTTP 400)"}},
		{"network", &cloudcode.TransientError{Message: "connection refused"}, CallGeneration,
			Verdict{Effect: EffectNone, Reason: "transient failure: connection refused"}},
		{"needs login, wrapped", fmt.Errorf("access token: %w", needsLoginErr{}), CallQuotaRead,
			Verdict{Effect: EffectNeedsLogin, Reason: "refresh token rejected (invalid_grant)"}},
		{"client mismatch", clientMismatchErr{}, CallGeneration,
			Verdict{Effect: EffectClientMismatch, Reason: "refresh token belongs to another OAuth client"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Judge(tt.err, tt.call, now); got != tt.want {
				t.Errorf("Judge:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	if r := forbiddenReason(forbidden); !containsAll(r, "SERVICE_DISABLED", "OAuth client") {
		t.Errorf("forbidden reason %q does not explain the refused client", r)
	}
}

// TestJudgeRetried: an account already retried once in a request is not
// retried again; a short rate limit then cools a generation's family for
// its delay, and marks nothing on a passthrough call.
func TestJudgeRetried(t *testing.T) {
	now := t0
	short := &cloudcode.RateLimitedError{Status: 429, RetryDelay: time.Second}
	tests := []struct {
		name string
		err  error
		call Call
		want Verdict
	}{
		{"short rate limit on generation", short, CallGeneration,
			Verdict{Effect: EffectCooldown, Status: 429, Delay: time.Second, Until: now.Add(time.Second), ShortLived: true, Reason: "rate limited"}},
		{"short rate limit on passthrough", short, CallPassthrough,
			Verdict{Effect: EffectNone, Status: 429, Delay: time.Second, ShortLived: true, Reason: "rate limited"}},
		{"a second 401", &cloudcode.UnauthorizedError{Status: 401}, CallGeneration,
			Verdict{Effect: EffectNone, Status: 401, Reason: "access token rejected (401)"}},
		{"anything else as Judge", &cloudcode.QuotaExhaustedError{Status: 429}, CallGeneration,
			Judge(&cloudcode.QuotaExhaustedError{Status: 429}, CallGeneration, now)},
	}
	for _, tt := range tests {
		if got := JudgeRetried(tt.err, tt.call, now); got != tt.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// A 403 from the quota reads leaves the account active and routable with
// its quota unreadable (and why); a 403 on generation, judged by the same
// function, makes it forbidden, with one event however often it is met.
func TestQuotaRead403IsUnreadable(t *testing.T) {
	const email = "shy@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
	id := e.id(email)
	e.sync(email)
	feed := e.m.Subscribe()
	defer feed.Close()

	e.srv.Forbid(email, "SERVICE_DISABLED")
	err := e.m.SyncAccount(context.Background(), id)
	if err == nil {
		t.Fatal("sync of a 403ing account succeeded")
	}
	st, _ := e.m.Account(id)
	if st.State != StateActive || st.Unreadable == "" || !strings.Contains(st.Unreadable, "SERVICE_DISABLED") {
		t.Fatalf("after a quota-read 403: state %s unreadable %q, want active and the reason", st.State, st.Unreadable)
	}
	if st.Family(cloudcode.FamilyGemini).Effective.Known {
		t.Errorf("the figure is still shown as known: %+v", st.Family(cloudcode.FamilyGemini).Effective)
	}
	c := e.check(email, "gemini-3-flash")
	if !c.Usable || c.Decision != Unknown {
		t.Errorf("check while unreadable: %+v, want usable (reactive path) and unknown", c)
	}
	row, _ := e.st.Account(context.Background(), id)
	if row.State != store.StateActive {
		t.Errorf("stored state %s, want active", row.State)
	}

	// The proxy meets a 403 on generation: forbidden. Met twice (and
	// once more by a sync), it warns once.
	v := Judge(&cloudcode.ForbiddenError{Status: 403, Reason: "SERVICE_DISABLED", Message: "m"}, CallGeneration, e.clk.Now())
	for range 2 {
		if err := e.m.Apply(context.Background(), id, cloudcode.FamilyGemini, v, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	e.m.SyncAccount(context.Background(), id)
	st, _ = e.m.Account(id)
	if st.State != StateForbidden {
		t.Errorf("after a generation 403: state %s, want forbidden", st.State)
	}
	n := 0
	for _, ev := range drainEvents(feed) {
		if ev.Kind == EventAccountDisabled {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d account-disabled events, want 1", n)
	}

	// The account answers again: active, readable.
	e.srv.Unflag(email)
	e.sync(email)
	if st, _ = e.m.Account(id); st.State != StateActive || st.Unreadable != "" || !st.Family(cloudcode.FamilyGemini).Effective.Known {
		t.Errorf("after recovery: state %s unreadable %q", st.State, st.Unreadable)
	}
}

// A plain PERMISSION_DENIED on generation changes the account only when a
// fresh quota read of it is refused too (issue 11.1); Apply makes that
// read. When the read finds the account needs verification, that is the
// state it gets, not forbidden.
func TestApplyVerifiesPlainForbidden(t *testing.T) {
	denied := &cloudcode.ForbiddenError{Status: 403, Reason: "", Message: "The caller does not have permission"}
	tests := []struct {
		name  string
		flag  func(e *env, email string)
		err   error
		state AccountState
	}{
		{"the read answers: not confirmed", nil, ErrUnconfirmed, StateActive},
		{"the read is refused too", func(e *env, email string) { e.srv.Forbid(email, "") }, nil, StateForbidden},
		{"the read needs verification", func(e *env, email string) { e.srv.FlagValidation(email, "https://v") }, nil, StateValidationRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const email = "denied@example.com"
			e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"})
			id := e.id(email)
			e.sync(email)
			if tt.flag != nil {
				tt.flag(e, email)
			}
			reads := e.srv.Requests(email, "fetchAvailableModels")
			v := Judge(denied, CallGeneration, e.clk.Now())
			err := e.m.Apply(context.Background(), id, cloudcode.FamilyGemini, v, e.clk.Now())
			if tt.err == nil && err != nil || tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("Apply: %v, want %v", err, tt.err)
			}
			if st, _ := e.m.Account(id); st.State != tt.state {
				t.Errorf("state %s, want %s", st.State, tt.state)
			}
			if e.srv.Requests(email, "fetchAvailableModels") == reads && e.srv.Requests(email, "loadCodeAssist") == 0 {
				t.Error("no fresh quota read was made")
			}
		})
	}
}

// An account whose loadCodeAssist names no project says so plainly, and
// no quota call goes out with an empty project.
func TestNoProjectIsSaidPlainly(t *testing.T) {
	const email = "new@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: email, TierID: "free-tier"})
	e.srv.SetOnboarded(email, false)
	err := e.m.SyncAccount(context.Background(), e.id(email))
	if err == nil {
		t.Fatal("sync without a project succeeded")
	}
	st, _ := e.m.Account(e.id(email))
	if !strings.Contains(st.Unreadable, "no project") || st.State != StateActive {
		t.Errorf("unreadable %q state %s, want \"no project\" and active", st.Unreadable, st.State)
	}
	if strings.Contains(err.Error(), "resource project .") || strings.Contains(st.Unreadable, "project .") {
		t.Errorf("the message names an empty project: %v / %q", err, st.Unreadable)
	}
	for _, rpc := range []string{"fetchAvailableModels", "retrieveUserQuotaSummary"} {
		if n := e.srv.Requests(email, rpc); n != 0 {
			t.Errorf("%d %s calls without a project", n, rpc)
		}
	}
}

// A 429 on a quota read pauses that account's reads for the delay asked
// (at least a minute), instead of retrying every cycle.
func TestQuotaRead429BacksOff(t *testing.T) {
	const email = "busy@example.com"
	e := newEnv(t, cloudcodetest.Options{}, Options{}, cloudcodetest.AccountSpec{Email: email, TierID: "g1-pro-tier"}, cloudcodetest.AccountSpec{Email: "calm@example.com", TierID: "g1-pro-tier"})
	e.sync(email)
	e.srv.SetQuotaReadLimit(email, 3*time.Minute)
	e.clk.Advance(10 * time.Minute)
	ctx := context.Background()
	e.m.SyncAll(ctx)
	calls := e.srv.Requests(email, "fetchAvailableModels")
	st, _ := e.m.Account(e.id(email))
	if !st.UnreadableUntil.Equal(e.clk.Now().Add(3*time.Minute)) || !strings.Contains(st.Unreadable, "429") {
		t.Fatalf("after a 429: unreadable %q until %s", st.Unreadable, st.UnreadableUntil)
	}
	for range 3 {
		e.clk.Advance(30 * time.Second)
		res := e.m.SyncAll(ctx)
		if res.OK != 1 {
			t.Errorf("the other account must still sync: %+v", res)
		}
		e.check(email, "gemini-3-flash") // a cache miss must not ask either
	}
	if n := e.srv.Requests(email, "fetchAvailableModels"); n != calls {
		t.Errorf("%d more quota reads during the back-off", n-calls)
	}
	e.srv.SetQuotaReadLimit(email, 0)
	e.clk.Advance(2 * time.Minute)
	e.m.SyncAll(ctx)
	if st, _ := e.m.Account(e.id(email)); st.Unreadable != "" {
		t.Errorf("after the back-off: unreadable %q", st.Unreadable)
	}
}
