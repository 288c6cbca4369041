package openai

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// ErrorBody is OpenAI's error object.
func ErrorBody(errType, msg, code string) map[string]any {
	var c any
	if code != "" {
		c = code
	}
	return map[string]any{"error": map[string]any{"message": msg, "type": errType, "param": nil, "code": c}}
}

// UpstreamError describes an error the proxy is about to send.
type UpstreamError struct {
	Status  int
	Message string
	Reason  string // ErrorInfo reason
	// Local marks the proxy's own refusal (its API key, Host or Origin
	// check), whose 401 or 403 stands; an upstream's never does.
	Local bool
}

// MapError gives the status and body an OpenAI client gets (brief §7.2).
// Anthropic error JSON inside Google's message is unwrapped to its text.
// Account problems are never 401/403.
func MapError(e UpstreamError) (int, []byte) {
	msg := innerMessage(e.Message)
	status, typ, code := e.Status, "api_error", ""
	switch {
	case e.Reason == "MODEL_CAPACITY_EXHAUSTED":
		status, typ, code = http.StatusServiceUnavailable, "server_error", "model_overloaded"
	case e.Status == http.StatusTooManyRequests:
		typ, code = "rate_limit_error", "rate_limit_exceeded"
		if e.Reason == "QUOTA_EXHAUSTED" {
			typ, code = "insufficient_quota", "insufficient_quota"
		}
	case e.Status == http.StatusBadRequest:
		typ = "invalid_request_error"
		if strings.Contains(strings.ToLower(msg), "too long") {
			code = "context_length_exceeded"
		}
	case e.Status == http.StatusNotFound:
		typ, code = "invalid_request_error", "model_not_found"
	case e.Status == http.StatusUnauthorized && e.Local:
		typ, code = "invalid_request_error", "invalid_api_key" // the proxy's own key
	case e.Status == http.StatusForbidden && e.Local:
		typ = "permission_error"
	case e.Status == http.StatusUnauthorized, e.Status == http.StatusForbidden:
		status = http.StatusServiceUnavailable // an account's trouble, not the client's key
	case e.Status == http.StatusRequestEntityTooLarge, e.Status == http.StatusMethodNotAllowed, e.Status == http.StatusUnsupportedMediaType:
		typ = "invalid_request_error"
	case e.Status >= 500:
		typ = "server_error"
	}
	b, _ := json.Marshal(ErrorBody(typ, msg, code))
	return status, b
}

// RetryAfterMS is the retry-after-ms header value for a Retry-After in
// whole seconds ("" when it is not a number).
func RetryAfterMS(retryAfter string) string {
	n, err := strconv.Atoi(strings.TrimSpace(retryAfter))
	if err != nil || n < 0 {
		return ""
	}
	return strconv.Itoa(n * 1000)
}

// innerMessage unwraps Anthropic's error JSON that Claude returns inside
// Google's message.
func innerMessage(msg string) string {
	t := strings.TrimSpace(msg)
	if !strings.HasPrefix(t, "{") {
		return msg
	}
	var v struct {
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(t), &v) == nil && v.Error != nil && v.Error.Message != "" {
		return v.Error.Message
	}
	return msg
}
