package cloudcode_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// What WriteError writes must classify back to the error it describes:
// the simulator and the proxy speak it, the client reads it.
func TestWriteErrorClassifiesBack(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		code    int
		status  string
		details []any
		check   func(error) bool
	}{
		{"quota", 429, "", []any{cloudcode.NewErrorInfo("QUOTA_EXHAUSTED", map[string]string{"quotaResetDelay": "2h"}), cloudcode.NewRetryInfo(2 * time.Hour)},
			func(err error) bool {
				var e *cloudcode.QuotaExhaustedError
				return errors.As(err, &e) && e.ResetAt.Equal(now.Add(2*time.Hour))
			}},
		{"rate", 429, "", []any{cloudcode.NewErrorInfo("RATE_LIMIT_EXCEEDED", nil), cloudcode.NewRetryInfo(1354703728 * time.Nanosecond)},
			func(err error) bool {
				var e *cloudcode.RateLimitedError
				return errors.As(err, &e) && !e.Bare && e.RetryDelay == 1354703728*time.Nanosecond
			}},
		{"bare", 429, "", nil,
			func(err error) bool { var e *cloudcode.RateLimitedError; return errors.As(err, &e) && e.Bare }},
		{"capacity", 503, "", []any{cloudcode.NewErrorInfo("MODEL_CAPACITY_EXHAUSTED", nil), cloudcode.NewRetryInfo(40 * time.Second)},
			func(err error) bool {
				var e *cloudcode.CapacityExhaustedError
				return errors.As(err, &e) && e.RetryDelay == 40*time.Second
			}},
		{"unauthorized", 401, "", nil,
			func(err error) bool { var e *cloudcode.UnauthorizedError; return errors.As(err, &e) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			cloudcode.WriteError(rec, tc.code, tc.status, "something happened", tc.details...)
			if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=UTF-8" {
				t.Errorf("Content-Type %q", ct)
			}
			err := cloudcode.Classify(rec.Code, rec.Header(), rec.Body.Bytes(), now)
			if !tc.check(err) {
				t.Errorf("WriteError(%d) classified as %T: %v\nbody: %s", tc.code, err, err, rec.Body.String())
			}
		})
	}
}

func TestStatusName(t *testing.T) {
	for code, want := range map[int]string{
		http.StatusBadRequest: "INVALID_ARGUMENT", http.StatusUnauthorized: "UNAUTHENTICATED",
		http.StatusForbidden: "PERMISSION_DENIED", http.StatusNotFound: "NOT_FOUND",
		http.StatusTooManyRequests: "RESOURCE_EXHAUSTED", http.StatusServiceUnavailable: "UNAVAILABLE",
		http.StatusInternalServerError: "INTERNAL", http.StatusTeapot: "UNKNOWN",
	} {
		if got := cloudcode.StatusName(code); got != want {
			t.Errorf("StatusName(%d) = %q, want %q", code, got, want)
		}
	}
}
