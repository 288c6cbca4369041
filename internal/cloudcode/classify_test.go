package cloudcode_test

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

var classifyNow = time.Date(2026, 11, 27, 16, 0, 0, 0, time.UTC)

func TestClassifyBriefBodies(t *testing.T) {
	tests := []struct {
		name   string
		status int
		file   string
		header http.Header
		want   error
	}{
		{
			// RetryInfo wins over the metadata and the message.
			name: "quota exhausted", status: 429, file: "quota_exhausted.json",
			want: &cloudcode.QuotaExhaustedError{Status: 429, Model: "claude-sonnet-4-5", ResetAt: classifyNow.Add(581981300432511 * time.Nanosecond)},
		},
		{
			name: "quota exhausted, metadata delay", status: 429, file: "quota_exhausted_metadata_only.json",
			want: &cloudcode.QuotaExhaustedError{Status: 429, Model: "gemini-3-flash", ResetAt: classifyNow.Add(2*time.Hour + 30*time.Minute + 500*time.Millisecond)},
		},
		{
			name: "quota exhausted, timestamp", status: 429, file: "quota_exhausted_timestamp_only.json",
			want: &cloudcode.QuotaExhaustedError{Status: 429, Model: "gemini-3-flash", ResetAt: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)},
		},
		{
			// The timestamp outranks Retry-After.
			name: "quota exhausted, timestamp over header", status: 429, file: "quota_exhausted_timestamp_only.json",
			header: http.Header{"Retry-After": {"60"}},
			want:   &cloudcode.QuotaExhaustedError{Status: 429, Model: "gemini-3-flash", ResetAt: time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)},
		},
		{
			name: "individual quota reached", status: 429, file: "individual_quota.json",
			want: &cloudcode.QuotaExhaustedError{Status: 429, ResetAt: classifyNow.Add(9*time.Hour + 22*time.Minute + 20*time.Second)},
		},
		{
			name: "rate limit seconds", status: 429, file: "rate_limit_seconds.json",
			want: &cloudcode.RateLimitedError{Status: 429, RetryDelay: 1354703728 * time.Nanosecond},
		},
		{
			name: "rate limit ms", status: 429, file: "rate_limit_ms.json",
			want: &cloudcode.RateLimitedError{Status: 429, RetryDelay: 634846608 * time.Nanosecond},
		},
		{
			name: "rate limit delay from message", status: 429, file: "rate_limit_message_only.json",
			want: &cloudcode.RateLimitedError{Status: 429, RetryDelay: 634846608 * time.Nanosecond},
		},
		{
			// The classic mistake is to read this as exhaustion.
			name: "bare 429", status: 429, file: "bare_429.json",
			want: &cloudcode.RateLimitedError{Status: 429, Bare: true},
		},
		{
			name: "bare 429 with Retry-After", status: 429, file: "bare_429.json",
			header: http.Header{"Retry-After": {"7"}},
			want:   &cloudcode.RateLimitedError{Status: 429, Bare: true, RetryDelay: 7 * time.Second},
		},
		{
			name: "bare 429 with Retry-After date", status: 429, file: "bare_429.json",
			header: http.Header{"Retry-After": {classifyNow.Add(90 * time.Second).Format(http.TimeFormat)}},
			want:   &cloudcode.RateLimitedError{Status: 429, Bare: true, RetryDelay: 90 * time.Second},
		},
		{
			name: "capacity 503", status: 503, file: "capacity_503.json",
			want: &cloudcode.CapacityExhaustedError{Status: 503, RetryDelay: 40 * time.Second},
		},
		{
			name: "capacity as 429", status: 429, file: "capacity_429.json",
			want: &cloudcode.CapacityExhaustedError{Status: 429, RetryDelay: 12500 * time.Millisecond},
		},
		{
			name: "validation required", status: 403, file: "validation_required.json",
			want: &cloudcode.ValidationRequiredError{Status: 403, URL: "https://accounts.google.com/signin/continue?sarp=1&scc=1"},
		},
		{
			name: "validation from message", status: 403, file: "validation_message_only.json",
			want: &cloudcode.ValidationRequiredError{Status: 403, URL: "https://accounts.google.com/verify?x=1"},
		},
		{
			name: "service disabled", status: 403, file: "service_disabled.json",
			want: &cloudcode.ForbiddenError{Status: 403, Reason: "SERVICE_DISABLED"},
		},
		{
			name: "permission denied", status: 403, file: "permission_denied.json",
			want: &cloudcode.ForbiddenError{Status: 403, Reason: "PERMISSION_DENIED"},
		},
		{
			name: "unauthenticated", status: 401, file: "unauthenticated.json",
			want: &cloudcode.UnauthorizedError{Status: 401},
		},
		{
			name: "not found", status: 404, file: "not_found.json",
			want: &cloudcode.NotFoundError{Status: 404},
		},
		{
			name: "html 502", status: 502, file: "bad_gateway.html",
			want: &cloudcode.TransientError{Status: 502, Message: "Error 502 (Server Error)!!1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cloudcode.Classify(tt.status, tt.header, sample(t, "errors/"+tt.file), classifyNow)
			assertClassified(t, got, tt.want)
		})
	}
}

// assertClassified checks that got is the same typed error as want with
// the same fields, ignoring the message unless want sets one.
func assertClassified(t *testing.T, got, want error) {
	t.Helper()
	if got == nil {
		t.Fatalf("Classify = nil, want %T", want)
	}
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	if g.Type() != w.Type() {
		t.Fatalf("Classify = %v (%T), want %T", got, got, want)
	}
	gv := reflect.New(g.Elem().Type()).Elem()
	gv.Set(g.Elem()) // a copy, so the message can be blanked
	if w.Elem().FieldByName("Message").String() == "" {
		gv.FieldByName("Message").SetString("")
	}
	if !reflect.DeepEqual(gv.Interface(), w.Elem().Interface()) {
		t.Errorf("Classify =\n %+v\nwant\n %+v", gv.Interface(), w.Elem().Interface())
	}
}

func TestClassifyByStatus(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   error
	}{
		{"empty 429 is bare", 429, "", &cloudcode.RateLimitedError{Status: 429, Bare: true}},
		{"html 429 is bare", 429, "<html><title>Too Many Requests</title></html>", &cloudcode.RateLimitedError{Status: 429, Bare: true}},
		{"429 unknown reason is a rate limit", 429, `{"error":{"code":429,"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"SOMETHING_NEW"}]}}`, &cloudcode.RateLimitedError{Status: 429}},
		// The old-style message alone is enough to know quota is spent.
		{"exhaustion message without details", 429, `{"error":{"code":429,"message":"You have exhausted your capacity on this model. Your quota will reset after 1h2m3s."}}`,
			&cloudcode.QuotaExhaustedError{Status: 429, ResetAt: classifyNow.Add(time.Hour + 2*time.Minute + 3*time.Second)}},
		{"rate limit reason beats exhaustion words", 429, `{"error":{"message":"quota will reset after 5s","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED"}]}}`,
			&cloudcode.RateLimitedError{Status: 429, RetryDelay: 5 * time.Second}},
		{"empty 401", 401, "", &cloudcode.UnauthorizedError{Status: 401}},
		{"empty 403", 403, "", &cloudcode.ForbiddenError{Status: 403, Reason: "PERMISSION_DENIED"}},
		{"403 validation link in metadata only", 403, `{"error":{"code":403,"message":"denied","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"X","metadata":{"validation_link":"https://v.example/1"}}]}}`,
			&cloudcode.ValidationRequiredError{Status: 403, URL: "https://v.example/1"}},
		{"empty 404", 404, "", &cloudcode.NotFoundError{Status: 404}},
		{"408", 408, "timeout", &cloudcode.TransientError{Status: 408, Message: "timeout"}},
		{"500 json", 500, `{"error":{"code":500,"message":"Internal error encountered.","status":"INTERNAL"}}`, &cloudcode.TransientError{Status: 500, Message: "Internal error encountered."}},
		{"503 bare", 503, "", &cloudcode.TransientError{Status: 503, Message: "Service Unavailable"}},
		{"400", 400, `{"error":{"code":400,"message":"Invalid JSON payload","status":"INVALID_ARGUMENT"}}`, &cloudcode.UnknownError{Status: 400}},
		{"oauth style", 400, `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`, &cloudcode.UnknownError{Status: 400}},
		{"array envelope", 429, `[{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"x","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"QUOTA_EXHAUSTED"},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"3600s"}]}}]`,
			&cloudcode.QuotaExhaustedError{Status: 429, ResetAt: classifyNow.Add(time.Hour)}},
		{"wrong types everywhere", 429, `{"error":{"code":"429","message":7,"status":[],"details":"none"}}`, &cloudcode.RateLimitedError{Status: 429, Bare: true}},
		{"retry delay as seconds object", 429, `{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":{"seconds":"2","nanos":500000000}}]}}`,
			&cloudcode.RateLimitedError{Status: 429, RetryDelay: 2500 * time.Millisecond}},
		{"status 0", 0, "", &cloudcode.UnknownError{Status: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cloudcode.Classify(tt.status, nil, []byte(tt.body), classifyNow)
			assertClassified(t, got, tt.want)
		})
	}
}

func TestClassifySuccessIsNil(t *testing.T) {
	for _, status := range []int{200, 204, 299} {
		if err := cloudcode.Classify(status, nil, []byte("<html>"), classifyNow); err != nil {
			t.Errorf("Classify(%d) = %v, want nil", status, err)
		}
	}
}

func TestClassifyMessages(t *testing.T) {
	// The upstream's message must reach the error for logs and the UI.
	err := cloudcode.Classify(429, nil, sample(t, "errors/individual_quota.json"), classifyNow)
	if !strings.Contains(err.Error(), "Individual quota reached") {
		t.Errorf("Error() = %q, want the upstream message", err)
	}
	if !strings.Contains(err.Error(), "2026-11-28T01:22:20Z") {
		t.Errorf("Error() = %q, want the reset time", err)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"161h39m41.300432511s", 161*time.Hour + 39*time.Minute + 41300432511*time.Nanosecond, true},
		{"581981.300432511s", 581981300432511 * time.Nanosecond, true},
		{"634.846608ms", 634846608 * time.Nanosecond, true},
		{"1.354703728s", 1354703728 * time.Nanosecond, true},
		{"9h22m20s.", 9*time.Hour + 22*time.Minute + 20*time.Second, true},
		{" 40s ", 40 * time.Second, true},
		{"40", 40 * time.Second, true},
		{"2.5", 2500 * time.Millisecond, true},
		{"2d3h", 51 * time.Hour, true},
		{"1m30s", 90 * time.Second, true},
		{"500us", 500 * time.Microsecond, true},
		{"500µs", 500 * time.Microsecond, true},
		{"", 0, false},
		{"s", 0, false},
		{"-5s", 0, false},
		{"-5", 0, false},
		{"5x", 0, false},
		{"1..2s", 0, false},
		{"NaN", 0, false},
		{"Inf", 0, false},
		{"99999999999999999999h", 0, false},
		{"1e300", 0, false},
	}
	for _, tt := range tests {
		got, ok := cloudcode.ParseDuration(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
