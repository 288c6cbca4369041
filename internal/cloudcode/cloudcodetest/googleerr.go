package cloudcodetest

import (
	"net/http"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// bareExhaustedMessage is the text of the most common 429, the one with no
// details.
const bareExhaustedMessage = "Resource has been exhausted (e.g. check quota)."

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
	cloudcode.WriteError(w, code, status, message, details...)
}
