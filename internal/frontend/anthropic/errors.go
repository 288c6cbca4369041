package anthropic

import (
	"encoding/json"
	"net/http"
	"strings"
)

// ErrorBody is Anthropic's error object.
func ErrorBody(errType, msg string) map[string]any {
	return map[string]any{"type": "error", "error": map[string]string{"type": errType, "message": msg}}
}

// UpstreamError describes an error the proxy is about to send, in the
// terms the client mappings need.
type UpstreamError struct {
	Status  int    // HTTP status the proxy chose
	Message string // Google's message (may hold Anthropic's error JSON)
	Reason  string // ErrorInfo reason: QUOTA_EXHAUSTED, RATE_LIMIT_EXCEEDED, MODEL_CAPACITY_EXHAUSTED, ...
	// Local marks the proxy's own refusal (its API key, Host or Origin
	// check), whose 401 or 403 stands; an upstream's never does.
	Local bool
}

// MapError gives the status and body an Anthropic client gets for an
// error (brief §7.2): an Anthropic error that Claude wrapped inside
// Google's message goes out verbatim, so Claude Code can repair
// thinking-signature errors itself; capacity is 529 overloaded_error;
// account problems are never 401/403, which would send Claude Code to
// its login screen.
func MapError(e UpstreamError) (int, []byte) {
	if inner, ok := innerAnthropic(e.Message); ok {
		return http.StatusBadRequest, inner
	}
	status, typ := e.Status, "api_error"
	switch {
	case e.Reason == "MODEL_CAPACITY_EXHAUSTED":
		status, typ = 529, "overloaded_error"
	case e.Status == http.StatusTooManyRequests:
		typ = "rate_limit_error"
	case e.Status == http.StatusBadRequest:
		typ = "invalid_request_error"
	case e.Status == http.StatusNotFound:
		typ = "not_found_error"
	case e.Status == http.StatusRequestEntityTooLarge:
		typ = "request_too_large"
	case e.Status == http.StatusUnauthorized && e.Local:
		typ = "authentication_error" // the proxy's own API key
	case e.Status == http.StatusForbidden && e.Local:
		typ = "permission_error"
	case e.Status == http.StatusUnauthorized, e.Status == http.StatusForbidden:
		status = http.StatusServiceUnavailable // an account's trouble, not the client's key
	case e.Status == http.StatusMethodNotAllowed, e.Status == http.StatusUnsupportedMediaType:
		typ = "invalid_request_error"
	case e.Status >= 500:
		typ = "api_error"
	}
	b, _ := json.Marshal(ErrorBody(typ, e.Message))
	return status, b
}

// innerAnthropic finds Anthropic's own error JSON that Claude models
// return inside Google's error message.
func innerAnthropic(msg string) ([]byte, bool) {
	t := strings.TrimSpace(msg)
	if !strings.HasPrefix(t, "{") {
		return nil, false
	}
	var v struct {
		Type  string `json:"type"`
		Error *struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(t), &v) != nil || v.Type != "error" || v.Error == nil || v.Error.Type == "" {
		return nil, false
	}
	return []byte(t), true
}
