package quota

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/store"
)

// This file is the one place that says what an upstream error means for
// an account: the monitor's syncs and the proxy's requests both ask Judge,
// and both apply the answer with Manager.Apply, so one forbidden account
// gives one state change and one warning, whoever met it first.

// Call is the kind of upstream call an error came from: the same status
// means different things on a quota read and on a generation.
type Call uint8

// The call kinds.
const (
	// CallQuotaRead is the engine reading an account's tier or quota:
	// loadCodeAssist, fetchAvailableModels, retrieveUserQuotaSummary.
	CallQuotaRead Call = iota + 1
	// CallGeneration spends quota: generateContent, streamGenerateContent.
	CallGeneration
	// CallPassthrough is any other v1internal method a client sent through
	// the proxy (countTokens, listExperiments, loadCodeAssist, ...).
	CallPassthrough
)

// String names the call kind for logs.
func (c Call) String() string {
	switch c {
	case CallQuotaRead:
		return "quota read"
	case CallGeneration:
		return "generation"
	case CallPassthrough:
		return "passthrough"
	}
	return "unknown call"
}

// Effect is what an upstream error means for the account and the family
// it was used for.
type Effect uint8

// The effects, from "nothing about the account" to "a person must act".
const (
	// EffectNone: the error says nothing about the account (Google's
	// capacity, a network fault, a host down, a malformed answer). Another
	// account may do better; no mark is set.
	EffectNone Effect = iota
	// EffectRetry: a short rate limit; retry the same account after Delay.
	EffectRetry
	// EffectCooldown: rest the family on this account until Until.
	EffectCooldown
	// EffectExhausted: the family's pool on this account is spent until
	// Until (zero when the upstream gave no time: the engine then uses the
	// cached reset, never a cap below what the server said).
	EffectExhausted
	// EffectRefreshToken: the access token expired or was revoked; refresh
	// it once and retry.
	EffectRefreshToken
	// EffectQuotaUnreadable: the quota cannot be read now (a 403 or a 429
	// on a quota read, no project). The account stays routable on the
	// reactive path; Until, when set, is when to read again.
	EffectQuotaUnreadable
	// EffectForbidden: the account is refused until a later sync succeeds.
	EffectForbidden
	// EffectValidationRequired: a person must verify the account at
	// ValidationURL.
	EffectValidationRequired
	// EffectNeedsLogin: the refresh token is dead; a new login is needed.
	EffectNeedsLogin
	// EffectClientMismatch: the refresh token belongs to another OAuth
	// client than the one quotatui refreshed it with.
	EffectClientMismatch
	// EffectNeedsClient: the account's OAuth client is not configured.
	EffectNeedsClient
)

// String names the effect for logs and tests.
func (e Effect) String() string {
	switch e {
	case EffectNone:
		return "none"
	case EffectRetry:
		return "retry"
	case EffectCooldown:
		return "cooldown"
	case EffectExhausted:
		return "exhausted"
	case EffectRefreshToken:
		return "refresh token"
	case EffectQuotaUnreadable:
		return "quota unreadable"
	case EffectForbidden:
		return "forbidden"
	case EffectValidationRequired:
		return "validation required"
	case EffectNeedsLogin:
		return "needs login"
	case EffectClientMismatch:
		return "client mismatch"
	case EffectNeedsClient:
		return "needs client"
	}
	return "unknown"
}

// State returns the account state the effect sets, or "" when it sets
// none.
func (e Effect) State() AccountState {
	switch e {
	case EffectForbidden:
		return StateForbidden
	case EffectValidationRequired:
		return StateValidationRequired
	case EffectNeedsLogin:
		return StateNeedsLogin
	case EffectClientMismatch:
		return StateClientMismatch
	case EffectNeedsClient:
		return StateNeedsClient
	}
	return ""
}

// Verdict is Judge's answer.
type Verdict struct {
	Effect Effect
	// Until ends a cooldown, an exhaustion or a quota-read back-off.
	Until time.Time
	// Delay is the upstream's retry delay (for EffectRetry, and as read).
	Delay time.Duration
	// Reason says why, in words fit for the dashboard and the log: the
	// account state's reason, the mark's reason, why the quota is
	// unreadable. Never a token.
	Reason        string
	ValidationURL string
	// Resync asks for an immediate sync of the account to learn the truth
	// (after a bare 429 or an exhaustion).
	Resync bool
	// ClientFault is set when the answer is the client's own: the request
	// itself is wrong (a 400, a 404 on a model), so every account would
	// answer the same, or a passthrough call was refused (that refusal is
	// the client's business and proves nothing about the account). Do not
	// try another account; pass the upstream's answer on.
	ClientFault bool
	// Status is the upstream's HTTP status (0 for a network failure or an
	// error that is not an upstream answer).
	Status int
	// Backoff says the upstream gave no delay for a cooldown (a 429
	// without details, a rate limit without RetryInfo, a timeout): Until
	// is the shortest cooldown, ShortCooldown, and a caller that sees the
	// refusals repeat may lengthen it (the proxy doubles it per account
	// and family up to its maximum, and starts over after a success).
	Backoff bool
	// ShortLived says the refusal passes quickly (a rate limit, or a
	// timeout on generation): a caller that retries on other accounts
	// need not count it against its attempts, and may wait for the
	// account's cooldown when every account is cooling down.
	ShortLived bool
	// TimedOut says the account did not answer within the caller's time
	// limit (cloudcode.TimeoutError): it may be hung, so a caller that
	// ranks accounts may rank it last until it answers again.
	TimedOut bool
	// Verify says the account state (EffectForbidden) is proven only if
	// a fresh quota read of the account is refused too: a plain
	// PERMISSION_DENIED on one generation call may be about that call.
	// Manager.Apply makes the read.
	Verify bool
}

// The judgement's fixed times.
const (
	// ShortRetry is the longest rate-limit delay worth waiting for on the
	// same account (upstream-api.md: "retry the same account after the
	// delay when it is short (≤ 2 s)").
	ShortRetry = 2 * time.Second
	// ShortCooldown rests a family after a refusal the upstream gave no
	// delay for (a 429 with no details, a timeout): not proof of
	// exhaustion, so short, and a resync learns the truth. A burst must
	// not take the pool down: with 10 s, 30 % bare 429s over 4 accounts
	// failed 78 % of client requests (issue 11.3). Callers that see the
	// refusals repeat lengthen it (Verdict.Backoff).
	ShortCooldown = 250 * time.Millisecond
	// minReadBackoff is the shortest pause of an account's quota reads
	// after the upstream rate-limited one.
	minReadBackoff = time.Minute
)

// stateError is how the token source's errors name the account state
// they imply (auth.NeedsLoginError, auth.ClientError) without quota
// importing auth.
type stateError interface {
	AccountState() store.AccountState
}

// Judge says what err, met on a call of kind call at now, means for the
// account and the family it was used for. It is the one judgement of
// upstream errors: the proxy and the monitor both use it (and apply it
// with Manager.Apply). err may be wrapped; a nil err, or a context error,
// is EffectNone.
func Judge(err error, call Call, now time.Time) Verdict {
	var (
		qe  *cloudcode.QuotaExhaustedError
		rl  *cloudcode.RateLimitedError
		ce  *cloudcode.CapacityExhaustedError
		ue  *cloudcode.UnauthorizedError
		ve  *cloudcode.ValidationRequiredError
		fe  *cloudcode.ForbiddenError
		nf  *cloudcode.NotFoundError
		unk *cloudcode.UnknownError
		te  *cloudcode.TimeoutError
		se  stateError
	)
	switch {
	case err == nil:
		return Verdict{}
	case errors.As(err, &se):
		st := se.AccountState()
		v := Verdict{Reason: fmt.Sprint(se)} // the token source's own words, not its callers' wrapping
		switch st {
		case store.StateNeedsLogin:
			v.Effect = EffectNeedsLogin
		case store.StateClientMismatch:
			v.Effect = EffectClientMismatch
		case store.StateNeedsClient:
			v.Effect = EffectNeedsClient
		}
		return v
	case errors.As(err, &ve):
		if call == CallPassthrough {
			// A client's own call never changes an account (issue 11.1):
			// the refusal goes back to that client.
			return Verdict{Effect: EffectNone, Status: ve.Status, ValidationURL: ve.URL, Reason: ve.Message, ClientFault: true}
		}
		return Verdict{Effect: EffectValidationRequired, Status: ve.Status, ValidationURL: ve.URL, Reason: ve.Message}
	case errors.As(err, &ue):
		return Verdict{Effect: EffectRefreshToken, Status: ue.Status, Reason: "access token rejected (401)"}
	case errors.As(err, &qe):
		switch call {
		case CallQuotaRead:
			return readBackoff(qe.Status, 0, now, "quota read refused (429)")
		case CallPassthrough:
			// Only a generation call proves the pool spent: no mark, but
			// another account may answer.
			return Verdict{Effect: EffectNone, Status: qe.Status, Until: qe.ResetAt, Reason: "quota exhausted (upstream 429)"}
		}
		return Verdict{Effect: EffectExhausted, Status: qe.Status, Until: qe.ResetAt, Resync: true,
			Reason: "quota exhausted (upstream 429)"}
	case errors.As(err, &ce):
		// Google is out of capacity for the model: not the account's quota.
		return Verdict{Effect: EffectNone, Status: ce.Status, Delay: ce.RetryDelay, Reason: "model capacity exhausted"}
	case errors.As(err, &rl):
		return judgeRateLimit(rl, call, now)
	case errors.As(err, &fe):
		reason := forbiddenReason(fe)
		switch call {
		case CallGeneration:
			// A reason that names the account proves it; a plain
			// PERMISSION_DENIED is proven by a fresh quota read refused
			// too (Apply makes it).
			return Verdict{Effect: EffectForbidden, Status: fe.Status, Reason: reason, Verify: !accountReasons[fe.Reason]}
		case CallQuotaRead:
			// A 403 on a quota read alone is no proof: healthy accounts
			// get them at times. The quota is unreadable, the account
			// routable.
			return Verdict{Effect: EffectQuotaUnreadable, Status: fe.Status, Reason: reason}
		}
		// A client's own call that the upstream refuses (retrieveUserQuotaSummary
		// without a project, say) is the client's business: relayed, no
		// account touched. Otherwise any local client could switch the
		// pool off (issue 11.1).
		return Verdict{Effect: EffectNone, Status: fe.Status, Reason: reason, ClientFault: true}
	case errors.As(err, &te):
		if call != CallGeneration {
			return Verdict{Effect: EffectNone, TimedOut: true, Reason: te.Error()}
		}
		// A hung account: a short cooldown, a resync, and the request
		// moves on before its first byte.
		return Verdict{Effect: EffectCooldown, Until: now.Add(ShortCooldown), Backoff: true, Resync: true,
			ShortLived: true, TimedOut: true, Reason: te.Error()}
	case errors.As(err, &nf):
		// A 404 after every host was tried: the method or the model does
		// not exist, whichever account asks.
		return Verdict{Effect: EffectNone, Status: nf.Status, ClientFault: call != CallQuotaRead, Reason: "not found"}
	case errors.As(err, &unk):
		v := Verdict{Effect: EffectNone, Status: unk.Status, Reason: fmt.Sprintf("upstream error (HTTP %d)", unk.Status)}
		v.ClientFault = call != CallQuotaRead && unk.Status >= 400 && unk.Status < 500 && unk.Status != http.StatusTooManyRequests
		return v
	}
	return Verdict{Effect: EffectNone, Reason: err.Error()}
}

// accountReasons are the 403 reasons that name the account itself, so one
// generation call proves the account unusable (VALIDATION_REQUIRED has its
// own error type).
var accountReasons = map[string]bool{"SERVICE_DISABLED": true}

// judgeRateLimit is Judge for a rate limit. On a quota read it pauses the
// reads; on generation a short delay is waited out on the same account and
// a longer one cools the family for it; a passthrough call is retried or
// moved on, but never marks the account.
func judgeRateLimit(rl *cloudcode.RateLimitedError, call Call, now time.Time) Verdict {
	switch {
	case call == CallQuotaRead:
		return readBackoff(rl.Status, rl.RetryDelay, now, "quota reads rate-limited (429)")
	case !rl.Bare && rl.RetryDelay > 0 && rl.RetryDelay <= ShortRetry:
		return Verdict{Effect: EffectRetry, Status: rl.Status, Delay: rl.RetryDelay, Reason: "rate limited"}
	case call == CallPassthrough:
		return Verdict{Effect: EffectNone, Status: rl.Status, Delay: rl.RetryDelay, ShortLived: true, Reason: "rate limited"}
	case rl.Bare:
		// The most common 429 and no proof of exhaustion: rest briefly,
		// learn the truth with a resync. Never a long lock.
		return Verdict{Effect: EffectCooldown, Status: rl.Status, Until: now.Add(ShortCooldown), Backoff: true, Resync: true,
			ShortLived: true, Reason: "429 without details"}
	case rl.RetryDelay <= 0:
		return Verdict{Effect: EffectCooldown, Status: rl.Status, Until: now.Add(ShortCooldown), Backoff: true,
			ShortLived: true, Reason: "rate limited"}
	}
	return Verdict{Effect: EffectCooldown, Status: rl.Status, Delay: rl.RetryDelay, Until: now.Add(rl.RetryDelay),
		ShortLived: true, Reason: "rate limited"}
}

// JudgeRetried is Judge for an error met on an account the caller has
// already retried once in the same request (after a short rate limit or a
// refreshed token): it will not retry again. A short rate limit then
// cools the family for its delay (a generation call) and another 401 says
// nothing more; the caller moves on.
func JudgeRetried(err error, call Call, now time.Time) Verdict {
	v := Judge(err, call, now)
	switch v.Effect {
	case EffectRetry:
		v.ShortLived = true
		if call == CallGeneration {
			v.Effect, v.Until = EffectCooldown, now.Add(v.Delay)
		} else {
			v.Effect = EffectNone
		}
	case EffectRefreshToken:
		v.Effect = EffectNone
	}
	return v
}

// readBackoff is the verdict for a 429 on a quota read: pause this
// account's reads for the delay the upstream asked (at least
// minReadBackoff) instead of asking again every cycle.
func readBackoff(status int, delay time.Duration, now time.Time, reason string) Verdict {
	d := max(delay, minReadBackoff)
	return Verdict{Effect: EffectQuotaUnreadable, Status: status, Delay: delay, Until: now.Add(d), Reason: reason}
}

// forbiddenReason is the account-state reason of a 403: the ErrorInfo
// reason and the message, with a hint when Google refuses the API to the
// OAuth client's Cloud project (README, "OAuth clients").
func forbiddenReason(fe *cloudcode.ForbiddenError) string {
	msg := fe.Message
	if strings.Contains(strings.ToLower(msg), "has not been used in project") {
		msg += " (Google refuses this API to the OAuth client's Cloud project: see README, OAuth clients)"
	}
	if fe.Reason == "" {
		return msg
	}
	return fe.Reason + ": " + msg
}
