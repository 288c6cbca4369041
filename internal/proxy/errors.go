package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
)

// googleStatus maps an HTTP status to the canonical status string Google
// puts in its error envelope, so SDKs that branch on it behave.
func googleStatus(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusMethodNotAllowed:
		return "UNIMPLEMENTED"
	case http.StatusRequestEntityTooLarge:
		return "INVALID_ARGUMENT"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	case http.StatusBadGateway:
		return "UNAVAILABLE"
	default:
		if code >= 500 {
			return "INTERNAL"
		}
		return "UNKNOWN"
	}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
	Details []any  `json:"details,omitempty"`
}

// errorInfo and retryInfo are the google.rpc detail messages clients
// branch on (Gemini CLI reads the reason and the delay, not Retry-After).
type errorInfo struct {
	Type     string            `json:"@type"`
	Reason   string            `json:"reason"`
	Domain   string            `json:"domain"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

type retryInfo struct {
	Type       string `json:"@type"`
	RetryDelay string `json:"retryDelay"`
}

// errorDomain is the domain Google's own quota errors carry; Gemini CLI
// only trusts a reason from it.
const errorDomain = "cloudcode-pa.googleapis.com"

// maxClientWait is the longest wait a client is told to sit out. Gemini
// CLI waits up to 300 s on a rate limit; past that, it should stop at once
// instead of retrying for minutes against an empty pool.
const maxClientWait = 5 * time.Minute

// retryDetail is a RetryInfo for d, in whole seconds as Retry-After says.
func retryDetail(d time.Duration) retryInfo {
	return retryInfo{Type: "type.googleapis.com/google.rpc.RetryInfo", RetryDelay: fmt.Sprintf("%ds", retrySeconds(d))}
}

// waitDetails says, the way Google does, how long a client must wait
// before the pool can serve it: a RATE_LIMIT_EXCEEDED with the delay when
// the wait is short enough to sit out, else QUOTA_EXHAUSTED with the reset
// time, which clients treat as final.
func waitDetails(d time.Duration, reset time.Time) []any {
	if d <= maxClientWait {
		return []any{
			errorInfo{Type: "type.googleapis.com/google.rpc.ErrorInfo", Reason: "RATE_LIMIT_EXCEEDED", Domain: errorDomain},
			retryDetail(d),
		}
	}
	md := map[string]string{"quotaResetDelay": time.Duration(retrySeconds(d) * int64(time.Second)).String()}
	if !reset.IsZero() {
		md["quotaResetTimeStamp"] = reset.UTC().Format(time.RFC3339)
	}
	return []any{
		errorInfo{Type: "type.googleapis.com/google.rpc.ErrorInfo", Reason: "QUOTA_EXHAUSTED", Domain: errorDomain, Metadata: md},
		retryDetail(d),
	}
}

// capacityDetails is Google's answer when it has no capacity for a model.
func capacityDetails(d time.Duration) []any {
	return []any{
		errorInfo{Type: "type.googleapis.com/google.rpc.ErrorInfo", Reason: "MODEL_CAPACITY_EXHAUSTED", Domain: errorDomain},
		retryDetail(d),
	}
}

// writeError answers the client in Google's error envelope.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeErrorDetails(w, code, msg, nil)
}

// writeErrorDetails answers in Google's error envelope with details.
func writeErrorDetails(w http.ResponseWriter, code int, msg string, details []any) {
	b, _ := json.Marshal(errorBody{Error: errorDetail{Code: code, Message: msg, Status: googleStatus(code), Details: details}})
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
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
}

// Error says why no account can serve the family and when one can again.
func (e *NoAccountError) Error() string {
	switch {
	case e.Accounts == 0:
		return "no accounts are configured in quotatui; add one with `quotatui login`"
	case e.Unavailable:
		return fmt.Sprintf("none of the %d accounts can be used for %s (disabled, forbidden or needing a login); see the quotatui dashboard",
			e.Accounts, e.Family.Title())
	case e.Reset.IsZero():
		return fmt.Sprintf("all %d accounts are out of quota for %s; no reset time is known yet (quotatui is resyncing)",
			e.Accounts, e.Family.Title())
	default:
		return fmt.Sprintf("all %d accounts are out of quota for %s; the earliest resets at %s (in %s)",
			e.Accounts, e.Family.Title(), e.Reset.UTC().Format("15:04:05Z"), shortDuration(e.Reset.Sub(e.Now)))
	}
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
