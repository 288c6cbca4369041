package cloudcode

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// ErrorEnvelope is Google's error answer, {"error": {...}}. The simulator
// writes it as the upstream does, and the proxy answers its clients in it
// so that SDKs and Gemini CLI branch on it as they would on Google's own.
type ErrorEnvelope struct {
	Error ErrorStatus `json:"error"`
}

// ErrorStatus is the body of an ErrorEnvelope.
type ErrorStatus struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
	Details []any  `json:"details,omitempty"`
}

// ErrorInfo is the google.rpc.ErrorInfo detail: the reason clients branch on.
type ErrorInfo struct {
	Type     string            `json:"@type"`
	Reason   string            `json:"reason"`
	Domain   string            `json:"domain"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// RetryInfo is the google.rpc.RetryInfo detail: how long to wait.
type RetryInfo struct {
	Type       string `json:"@type"`
	RetryDelay string `json:"retryDelay"`
}

// The detail type URLs and the domain of the upstream's own errors (Gemini
// CLI only trusts a reason from that domain).
const (
	ErrorInfoType = "type.googleapis.com/google.rpc.ErrorInfo"
	RetryInfoType = "type.googleapis.com/google.rpc.RetryInfo"
	ErrorDomain   = "cloudcode-pa.googleapis.com"
)

// NewErrorInfo returns an ErrorInfo from the upstream's domain.
func NewErrorInfo(reason string, metadata map[string]string) ErrorInfo {
	return ErrorInfo{Type: ErrorInfoType, Reason: reason, Domain: ErrorDomain, Metadata: metadata}
}

// NewRetryInfo returns a RetryInfo for d, written as a protobuf JSON
// Duration ("1.354703728s", "40s").
func NewRetryInfo(d time.Duration) RetryInfo {
	if d < 0 {
		d = 0
	}
	return RetryInfo{Type: RetryInfoType, RetryDelay: strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"}
}

// StatusName is the canonical Google status string for an HTTP status.
func StatusName(code int) string {
	switch code {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return "UNIMPLEMENTED"
	case http.StatusRequestTimeout, http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusServiceUnavailable, http.StatusBadGateway:
		return "UNAVAILABLE"
	}
	if code >= 500 {
		return "INTERNAL"
	}
	return "UNKNOWN"
}

// WriteError answers w in Google's error envelope with the given status
// string ("" means StatusName(code)) and details.
func WriteError(w http.ResponseWriter, code int, status, message string, details ...any) {
	if status == "" {
		status = StatusName(code)
	}
	body, err := json.Marshal(ErrorEnvelope{Error: ErrorStatus{Code: code, Message: message, Status: status, Details: details}})
	if err != nil {
		// Details are plain structs and maps of strings: only a caller's bug
		// lands here, and the client still gets the code and message.
		body, _ = json.Marshal(ErrorEnvelope{Error: ErrorStatus{Code: code, Message: message, Status: status}})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}
