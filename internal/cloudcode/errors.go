package cloudcode

import (
	"fmt"
	"time"
)

// The typed errors below are what Classify returns for an upstream error
// response. Callers branch on them with errors.As. Every one carries the
// HTTP status and the upstream's message (never a token).

// QuotaExhaustedError means the account's pool for the model's family is
// spent until ResetAt. Never cap a lock below ResetAt.
type QuotaExhaustedError struct {
	Status  int
	Model   string    // from ErrorInfo metadata, may be empty
	ResetAt time.Time // absolute reset time; zero if the upstream gave none
	Message string
}

// Error describes the failure for logs and the UI; it never holds a token.
func (e *QuotaExhaustedError) Error() string {
	if e.ResetAt.IsZero() {
		return fmt.Sprintf("quota exhausted (HTTP %d): %s", e.Status, e.Message)
	}
	return fmt.Sprintf("quota exhausted until %s (HTTP %d): %s", e.ResetAt.UTC().Format(time.RFC3339), e.Status, e.Message)
}

// RateLimitedError is a short-term limit: retry after RetryDelay. Bare is
// set for a 429 that carried no details; it is not proof of exhausted quota.
type RateLimitedError struct {
	Status     int
	RetryDelay time.Duration // zero if unknown
	Bare       bool
	Message    string
}

// Error describes the failure for logs and the UI; it never holds a token.
func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limited (HTTP %d, retry in %s): %s", e.Status, e.RetryDelay, e.Message)
}

// CapacityExhaustedError means Google is out of capacity for the model; it
// says nothing about the account's quota.
type CapacityExhaustedError struct {
	Status     int
	RetryDelay time.Duration
	Message    string
}

// Error describes the failure for logs and the UI; it never holds a token.
func (e *CapacityExhaustedError) Error() string {
	return fmt.Sprintf("model capacity exhausted (HTTP %d, retry in %s): %s", e.Status, e.RetryDelay, e.Message)
}

// UnauthorizedError is a 401: the access token expired or was revoked.
type UnauthorizedError struct {
	Status  int
	Message string
}

// Error describes the failure for logs and the UI; it never holds a token.
func (e *UnauthorizedError) Error() string {
	return fmt.Sprintf("unauthorized (HTTP %d): %s", e.Status, e.Message)
}

// ValidationRequiredError means a person must verify the account at URL.
type ValidationRequiredError struct {
	Status  int
	URL     string
	Message string
}

// Error describes the failure for logs and the UI; it never holds a token.
func (e *ValidationRequiredError) Error() string {
	return fmt.Sprintf("account needs verification at %s (HTTP %d)", e.URL, e.Status)
}

// ForbiddenError is any other 403 (SERVICE_DISABLED, PERMISSION_DENIED).
type ForbiddenError struct {
	Status  int
	Reason  string
	Message string
}

// Error describes the failure for logs and the UI; it never holds a token.
func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("forbidden (HTTP %d, %s): %s", e.Status, e.Reason, e.Message)
}

// NotFoundError is a 404.
type NotFoundError struct {
	Status  int
	Message string
}

// Error describes the failure for logs and the UI; it never holds a token.
func (e *NotFoundError) Error() string {
	return fmt.Sprintf("not found (HTTP %d): %s", e.Status, e.Message)
}

// TransientError is a 408, a 5xx other than capacity, or a network failure
// (Status 0): worth retrying on another host or later.
type TransientError struct {
	Status  int
	Message string
	Err     error // the network error, if any
}

// Error describes the failure for logs and the UI; it never holds a token.
func (e *TransientError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("transient failure: %s", e.Message)
	}
	return fmt.Sprintf("transient failure (HTTP %d): %s", e.Status, e.Message)
}

// Unwrap returns the underlying network error, if any.
func (e *TransientError) Unwrap() error { return e.Err }

// TimeoutError is an upstream call that sent no first byte, or went
// silent between two stream events, within its caller's time limit (the
// proxy's first-byte and stream-idle timeouts). The account may be hung:
// it says nothing about its quota.
type TimeoutError struct {
	Stage string        // "first byte" or "stream event"
	After time.Duration // the limit that ran out
}

// Error says which limit ran out.
func (e *TimeoutError) Error() string {
	return fmt.Sprintf("upstream timed out: no %s within %s", e.Stage, e.After)
}

// MalformedResponseError is an answer whose body is not what the call
// promises, including a 200 that is not the expected JSON.
type MalformedResponseError struct {
	Status  int
	Method  string
	Problem string // what was wrong, e.g. "body is not JSON" or "models: want object, got array"
}

// Error describes the failure for logs and the UI; it never holds a token.
func (e *MalformedResponseError) Error() string {
	return fmt.Sprintf("malformed %s response (HTTP %d): %s", e.Method, e.Status, e.Problem)
}

// UnknownError is any other error response.
type UnknownError struct {
	Status  int
	Message string
}

// Error describes the failure for logs and the UI; it never holds a token.
func (e *UnknownError) Error() string {
	return fmt.Sprintf("upstream error (HTTP %d): %s", e.Status, e.Message)
}
