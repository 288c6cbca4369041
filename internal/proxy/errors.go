package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
)

// maxClientWait is the longest wait a client is told to sit out. Gemini
// CLI waits up to 300 s on a rate limit; past that, it should stop at once
// instead of retrying for minutes against an empty pool.
const maxClientWait = 5 * time.Minute

// retryDetail is a RetryInfo for d, in whole seconds as Retry-After says.
func retryDetail(d time.Duration) cloudcode.RetryInfo {
	return cloudcode.NewRetryInfo(time.Duration(retrySeconds(d)) * time.Second)
}

// waitDetails says, the way Google does, how long a client must wait
// before the pool can serve it: a RATE_LIMIT_EXCEEDED with the delay when
// the wait is short enough to sit out, else QUOTA_EXHAUSTED with the reset
// time, which clients treat as final.
func waitDetails(d time.Duration, reset time.Time) []any {
	if d <= maxClientWait {
		return []any{
			cloudcode.NewErrorInfo("RATE_LIMIT_EXCEEDED", nil),
			retryDetail(d),
		}
	}
	md := map[string]string{"quotaResetDelay": time.Duration(retrySeconds(d) * int64(time.Second)).String()}
	if !reset.IsZero() {
		md["quotaResetTimeStamp"] = reset.UTC().Format(time.RFC3339)
	}
	return []any{
		cloudcode.NewErrorInfo("QUOTA_EXHAUSTED", md),
		retryDetail(d),
	}
}

// capacityDetails is Google's answer when it has no capacity for a model.
func capacityDetails(d time.Duration) []any {
	return []any{
		cloudcode.NewErrorInfo("MODEL_CAPACITY_EXHAUSTED", nil),
		retryDetail(d),
	}
}

// writeError answers the client in Google's error envelope.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeErrorDetails(w, code, msg, nil)
}

// writeErrorDetails answers in Google's error envelope with details.
func writeErrorDetails(w http.ResponseWriter, code int, msg string, details []any) {
	cloudcode.WriteError(w, code, "", msg, details...)
}

// setRetryAfter sets Retry-After in whole seconds, at least 1.
func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.FormatInt(retrySeconds(d), 10))
}

// retrySeconds rounds a wait up to whole seconds, at least 1.
func retrySeconds(d time.Duration) int64 {
	return max(int64(math.Ceil(d.Seconds())), 1)
}

// NoAccountError says that no account in the pool can serve a model
// family right now. The proxy answers it with 429 and Retry-After.
type NoAccountError struct {
	Family   cloudcode.Family
	Accounts int       // accounts in the pool
	Reset    time.Time // earliest time an account becomes usable again; zero when unknown
	Now      time.Time // when the error was made, for the "in 2h10m" part
	// Unavailable is set when no account is usable for reasons other than
	// quota (disabled, forbidden, needs login), so waiting will not help.
	Unavailable bool
	// Cooling is set when the account usable soonest is only cooling down
	// after short-lived refusals (rate limits, timeouts), not out of quota.
	Cooling bool
	// Causes say why accounts cannot be used at all, one line an account
	// ("forbidden by the upstream (SERVICE_DISABLED: ...)", "could not get
	// an access token: <network error>").
	Causes []string
}

// Error says why no account can serve the family and when one can again.
func (e *NoAccountError) Error() string {
	switch {
	case e.Accounts == 0:
		return "no accounts are configured in quotatui; add one with `quotatui login`"
	case e.Unavailable:
		what := "any model"
		if e.Family != cloudcode.FamilyUnknown {
			what = e.Family.Title()
		}
		return fmt.Sprintf("none of the %d accounts can be used for %s: %s; see the quotatui dashboard",
			e.Accounts, what, summarize(e.Causes))
	case e.Cooling:
		return fmt.Sprintf("rate-limited: the upstream asked all %d accounts to slow down for %s; retry in %s",
			e.Accounts, e.Family.Title(), shortDuration(max(e.Reset.Sub(e.Now), time.Second)))
	case e.Reset.IsZero():
		return fmt.Sprintf("all %d accounts are out of quota for %s; no reset time is known yet (quotatui is resyncing)",
			e.Accounts, e.Family.Title())
	default:
		return fmt.Sprintf("all %d accounts are out of quota for %s; the earliest resets at %s (in %s)",
			e.Accounts, e.Family.Title(), e.Reset.UTC().Format("15:04:05Z"), shortDuration(e.Reset.Sub(e.Now)))
	}
}

// summarize joins causes, counting the accounts that share one: "2
// accounts: could not get an access token: dial tcp ...: connection
// refused; 1 account: disabled by you".
func summarize(causes []string) string {
	if len(causes) == 0 {
		return "no reason is known (see the dashboard)"
	}
	count := map[string]int{}
	var order []string
	for _, c := range causes {
		if count[c] == 0 {
			order = append(order, c)
		}
		count[c]++
	}
	parts := make([]string, len(order))
	for i, c := range order {
		n := "1 account"
		if count[c] > 1 {
			n = fmt.Sprintf("%d accounts", count[c])
		}
		parts[i] = n + ": " + c
	}
	return strings.Join(parts, "; ")
}

// RetryAfter returns how long the client should wait, zero when unknown.
func (e *NoAccountError) RetryAfter() time.Duration {
	if e.Reset.IsZero() {
		return 0
	}
	return max(e.Reset.Sub(e.Now), time.Second)
}

// shortDuration prints d as people read it: "2h10m", "45s", "3d4h".
func shortDuration(d time.Duration) string {
	if d < time.Second {
		return "under a second"
	}
	return clock.Short(d)
}

// jsonProblem describes a JSON decoding error with its byte offset, so a
// person can find the mistake in the body they sent.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("request body is not valid JSON: %v (at byte %d)", syn, syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "the body"
		}
		return fmt.Sprintf("request body has the wrong type for %s: want %s, got JSON %s (at byte %d)", field, typ.Type, typ.Value, typ.Offset)
	case errors.Is(err, errEmptyBody):
		return "request body is empty; send a JSON object"
	default:
		return fmt.Sprintf("request body is not valid JSON: %v", err)
	}
}

var errEmptyBody = errors.New("empty body")
