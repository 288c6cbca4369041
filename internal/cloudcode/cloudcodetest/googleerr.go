package cloudcodetest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// errorDomain is the ErrorInfo domain the upstream uses.
const errorDomain = "cloudcode-pa.googleapis.com"

// bareExhaustedMessage is the text of the most common 429, the one with no
// details.
const bareExhaustedMessage = "Resource has been exhausted (e.g. check quota)."

type googleError struct {
	Error googleErrorBody `json:"error"`
}

type googleErrorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
	Details []any  `json:"details,omitempty"`
}

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

const errorInfoType = "type.googleapis.com/google.rpc.ErrorInfo"

func newErrorInfo(reason string, metadata map[string]string) errorInfo {
	return errorInfo{Type: errorInfoType, Reason: reason, Domain: errorDomain, Metadata: metadata}
}

func newRetryInfo(d time.Duration) retryInfo {
	return retryInfo{Type: "type.googleapis.com/google.rpc.RetryInfo", RetryDelay: protoDuration(d)}
}

// protoDuration formats d as a protobuf JSON Duration: seconds with up to
// nine fractional digits, e.g. "1.354703728s", "40s".
func protoDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// messageDuration formats d for a message the way the upstream does,
// rounded up to whole seconds: "4h2m3s".
func messageDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if r := d.Truncate(time.Second); r != d {
		d = r + time.Second
	}
	return d.String()
}

// writeGoogleError writes an error in Google's envelope.
func writeGoogleError(w http.ResponseWriter, code int, status, message string, details ...any) {
	writeJSON(w, code, googleError{Error: googleErrorBody{Code: code, Message: message, Status: status, Details: details}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only simulator bugs get here; say so loudly in the answer.
		http.Error(w, "cloudcodetest: encode answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	w.Write(body)
}

// statusName is the Google status for a plain HTTP error code.
func statusName(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusRequestTimeout:
		return "DEADLINE_EXCEEDED"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusNotImplemented:
		return "UNIMPLEMENTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	default:
		if code >= 500 {
			return "INTERNAL"
		}
		return "UNKNOWN"
	}
}
