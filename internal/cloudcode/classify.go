package cloudcode

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The ErrorInfo reasons Classify branches on.
const (
	reasonQuotaExhausted    = "QUOTA_EXHAUSTED"
	reasonRateLimitExceeded = "RATE_LIMIT_EXCEEDED"
	reasonCapacityExhausted = "MODEL_CAPACITY_EXHAUSTED"
	reasonValidation        = "VALIDATION_REQUIRED"
)

// envelope is what Classify learns from a Google error body. Every field is
// optional: bodies that are not JSON, or not the envelope, leave it empty.
type envelope struct {
	message    string
	status     string // e.g. RESOURCE_EXHAUSTED
	hasDetails bool   // any ErrorInfo or RetryInfo was present
	reason     string // first ErrorInfo reason
	model      string // ErrorInfo metadata "model"
	retryDelay string // RetryInfo.retryDelay
	resetDelay string // ErrorInfo metadata quotaResetDelay
	resetStamp string // ErrorInfo metadata quotaResetTimeStamp
	validation string // a validation link from metadata or a Help detail
}

// Classify turns an upstream error response into one of the typed errors
// in errors.go, for callers to branch on with errors.As. It returns nil for
// a 2xx status and never nil for any other; it never panics, whatever the
// body. now anchors relative delays to absolute reset times.
func Classify(status int, header http.Header, body []byte, now time.Time) error {
	if status >= 200 && status < 300 {
		return nil
	}
	env := parseEnvelope(body)
	msg := env.message
	if msg == "" {
		msg = fallbackMessage(status, body)
	}
	upperReason := strings.ToUpper(env.reason)
	lowerMsg := strings.ToLower(msg)

	switch {
	case upperReason == reasonCapacityExhausted ||
		((status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) &&
			strings.Contains(lowerMsg, "no capacity available")):
		d, _ := findDelay(env, header, msg, now)
		return &CapacityExhaustedError{Status: status, RetryDelay: d, Message: msg}

	case status == http.StatusTooManyRequests:
		switch {
		case upperReason == reasonQuotaExhausted ||
			(upperReason != reasonRateLimitExceeded && looksExhausted(lowerMsg)):
			e := &QuotaExhaustedError{Status: status, Model: env.model, Message: msg}
			if d, ok := findDelay(env, header, msg, now); ok {
				e.ResetAt = now.Add(d)
			}
			return e
		default:
			// RATE_LIMIT_EXCEEDED, an unknown reason, or no details at
			// all. A bare RESOURCE_EXHAUSTED is the most common 429 and
			// proves nothing about quota: a short cooldown, never a lock.
			d, _ := findDelay(env, header, msg, now)
			return &RateLimitedError{Status: status, RetryDelay: d, Bare: !env.hasDetails, Message: msg}
		}

	case status == http.StatusUnauthorized:
		return &UnauthorizedError{Status: status, Message: msg}

	case status == http.StatusForbidden:
		if upperReason == reasonValidation || env.validation != "" || strings.Contains(lowerMsg, "verify your account") {
			u := env.validation
			if u == "" {
				u = findURL(msg)
			}
			return &ValidationRequiredError{Status: status, URL: u, Message: msg}
		}
		reason := env.reason
		if reason == "" {
			reason = env.status
		}
		if reason == "" {
			reason = "PERMISSION_DENIED"
		}
		return &ForbiddenError{Status: status, Reason: reason, Message: msg}

	case status == http.StatusNotFound:
		return &NotFoundError{Status: status, Message: msg}

	case status == http.StatusRequestTimeout || (status >= 500 && status < 600):
		return &TransientError{Status: status, Message: msg}
	}
	return &UnknownError{Status: status, Message: msg}
}

// looksExhausted recognises the quota-exhaustion messages, old and new,
// for 429s that carry no ErrorInfo reason.
func looksExhausted(lowerMsg string) bool {
	return strings.Contains(lowerMsg, "exhausted your capacity") ||
		strings.Contains(lowerMsg, "quota will reset") ||
		strings.Contains(lowerMsg, "individual quota reached")
}

// parseEnvelope reads a Google error envelope leniently: it decodes into
// generic values and picks what it can, so one field of an unexpected type
// never hides the others. Some endpoints wrap the envelope in an array.
func parseEnvelope(body []byte) envelope {
	var env envelope
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || (trimmed[0] != '{' && trimmed[0] != '[') {
		return env
	}
	var v any
	if json.Unmarshal(trimmed, &v) != nil {
		return env
	}
	if a, ok := v.([]any); ok {
		if len(a) == 0 {
			return env
		}
		v = a[0]
	}
	top, _ := v.(map[string]any)
	switch e := top["error"].(type) {
	case map[string]any:
		env.message = str(e["message"])
		env.status = str(e["status"])
		details, _ := e["details"].([]any)
		for _, d := range details {
			env.readDetail(d)
		}
	case string:
		// OAuth-style {"error": "invalid_grant", "error_description": "..."}.
		env.status = e
		env.message = str(top["error_description"])
		if env.message == "" {
			env.message = e
		}
	}
	return env
}

// readDetail folds one entry of error.details into env.
func (env *envelope) readDetail(d any) {
	m, ok := d.(map[string]any)
	if !ok {
		return
	}
	typ := str(m["@type"])
	switch {
	case strings.HasSuffix(typ, "google.rpc.ErrorInfo") || (typ == "" && m["reason"] != nil):
		env.hasDetails = true
		if env.reason == "" {
			env.reason = str(m["reason"])
		}
		md, _ := m["metadata"].(map[string]any)
		if env.model == "" {
			env.model = str(md["model"])
		}
		if env.resetDelay == "" {
			env.resetDelay = str(md["quotaResetDelay"])
		}
		if env.resetStamp == "" {
			env.resetStamp = str(md["quotaResetTimeStamp"])
		}
		if env.validation == "" {
			for _, k := range []string{"validation_link", "validationLink", "validation_url", "validationUrl"} {
				if u := str(md[k]); u != "" {
					env.validation = u
					break
				}
			}
		}
	case strings.HasSuffix(typ, "google.rpc.RetryInfo") || (typ == "" && m["retryDelay"] != nil):
		env.hasDetails = true
		if env.retryDelay == "" {
			env.retryDelay = protoDuration(m["retryDelay"])
		}
	case strings.HasSuffix(typ, "google.rpc.Help"):
		env.hasDetails = true
		links, _ := m["links"].([]any)
		for _, l := range links {
			lm, _ := l.(map[string]any)
			if u := str(lm["url"]); u != "" && env.validation == "" && strings.Contains(strings.ToLower(str(lm["description"])+u), "verif") {
				env.validation = u
			}
		}
	default:
		// Other details (QuotaFailure, DebugInfo, ...) still mean the 429
		// is not bare.
		if typ != "" {
			env.hasDetails = true
		}
	}
}

// str returns v as a string: strings as they are, numbers formatted,
// anything else empty.
func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

// protoDuration reads a duration in its JSON form ("1.5s") or, as some
// clients re-encode it, {"seconds": N, "nanos": M}.
func protoDuration(v any) string {
	if m, ok := v.(map[string]any); ok {
		secs, _ := strconv.ParseFloat(str(m["seconds"]), 64)
		nanos, _ := strconv.ParseFloat(str(m["nanos"]), 64)
		total := secs + nanos/1e9
		if total <= 0 || math.IsNaN(total) || math.IsInf(total, 0) {
			return ""
		}
		return strconv.FormatFloat(total, 'f', -1, 64) + "s"
	}
	return str(v)
}

// findDelay returns how long until the limit lifts, from the most reliable
// source present: RetryInfo.retryDelay, metadata quotaResetDelay, metadata
// quotaResetTimeStamp, the Retry-After header, then the message text.
func findDelay(env envelope, header http.Header, msg string, now time.Time) (time.Duration, bool) {
	if d, ok := ParseDuration(env.retryDelay); ok {
		return d, true
	}
	if d, ok := ParseDuration(env.resetDelay); ok {
		return d, true
	}
	if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(env.resetStamp)); err == nil {
		return nonNegative(t.Sub(now)), true
	}
	if d, ok := parseRetryAfter(header.Get("Retry-After"), now); ok {
		return d, true
	}
	return delayFromMessage(msg)
}

// nonNegative clamps a duration at zero: a reset time in the past means
// the limit has already lifted.
func nonNegative(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		return secondsToDuration(secs)
	}
	if t, err := http.ParseTime(v); err == nil {
		return nonNegative(t.Sub(now)), true
	}
	return 0, false
}

// secondsToDuration converts seconds to a Duration, refusing negative,
// NaN and out-of-range values.
func secondsToDuration(secs float64) (time.Duration, bool) {
	if math.IsNaN(secs) || secs < 0 || secs >= float64(math.MaxInt64)/float64(time.Second) {
		return 0, false
	}
	return time.Duration(secs * float64(time.Second)), true
}

// Message patterns for delays, most specific first. The bare pattern only
// runs when no phrase matched, since a message may mention other numbers.
var (
	delayPhraseRE = regexp.MustCompile(`(?i)(?:reset(?:s)? after|reset(?:s)? in|retry (?:in|after)|try again in|wait)\s+([0-9][0-9a-zµ.]*)`)
	delayBareRE   = regexp.MustCompile(`\b[0-9]+(?:\.[0-9]+)?(?:ms|us|µs|ns|h|m|s|d)(?:[0-9]+(?:\.[0-9]+)?(?:ms|us|µs|ns|h|m|s|d))*\b`)
)

// delayFromMessage finds a Go-style duration in an error message, as in
// "reset after 161h39m41s", "Resets in 9h22m20s" or "634.846608ms".
func delayFromMessage(msg string) (time.Duration, bool) {
	for _, m := range delayPhraseRE.FindAllStringSubmatch(msg, -1) {
		if d, ok := ParseDuration(m[1]); ok {
			return d, true
		}
	}
	for _, s := range delayBareRE.FindAllString(msg, -1) {
		if d, ok := ParseDuration(s); ok {
			return d, true
		}
	}
	return 0, false
}

// durationUnits are the units ParseDuration accepts, longest first so
// "ms" wins over "m".
var durationUnits = []struct {
	name string
	unit float64
}{
	{"ms", float64(time.Millisecond)},
	{"us", float64(time.Microsecond)},
	{"µs", float64(time.Microsecond)},
	{"ns", float64(time.Nanosecond)},
	{"d", float64(24 * time.Hour)},
	{"h", float64(time.Hour)},
	{"m", float64(time.Minute)},
	{"s", float64(time.Second)},
}

// ParseDuration is a tolerant reader for the delays the upstream writes:
// Go-style durations with fractions ("161h39m41.300432511s", "634.846608ms"),
// days ("2d"), plain seconds ("40"), surrounding space and trailing
// punctuation ("9h22m20s."). It refuses negative and overflowing values.
func ParseDuration(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimRight(s, ".,;:!)]}\"'")
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		return secondsToDuration(secs)
	}
	var total float64
	for s != "" {
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, false
		}
		n, err := strconv.ParseFloat(s[:i], 64)
		if err != nil {
			return 0, false
		}
		s = s[i:]
		matched := false
		for _, u := range durationUnits {
			if strings.HasPrefix(s, u.name) {
				total += n * u.unit
				s = s[len(u.name):]
				matched = true
				break
			}
		}
		if !matched {
			return 0, false
		}
	}
	if math.IsNaN(total) || total < 0 || total >= float64(math.MaxInt64) {
		return 0, false
	}
	return time.Duration(total), true
}

// urlRE finds a URL in a message such as "To continue, verify your account
// at https://accounts.google.com/...".
var urlRE = regexp.MustCompile(`https?://[^\s"'<>]+`)

// findURL returns the first URL in msg, without trailing punctuation.
func findURL(msg string) string {
	return strings.TrimRight(urlRE.FindString(msg), ".,;:!)]}")
}

// titleRE finds an HTML page's title, the best summary of an error page.
var titleRE = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

// fallbackMessage describes a body that is not a Google envelope: the
// title of an HTML page, else the start of the text, else the status text.
func fallbackMessage(status int, body []byte) string {
	text := strings.TrimSpace(string(body))
	if m := titleRE.FindStringSubmatch(text); m != nil {
		text = strings.TrimSpace(m[1])
	} else if strings.HasPrefix(text, "<") || strings.HasPrefix(text, "{") || strings.HasPrefix(text, "[") {
		text = "" // markup or JSON without a message says nothing useful
	}
	text = strings.Join(strings.Fields(text), " ")
	if text == "" {
		if st := http.StatusText(status); st != "" {
			return st
		}
		return "HTTP " + strconv.Itoa(status)
	}
	return truncate(text, 200)
}
