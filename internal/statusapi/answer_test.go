package statusapi

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// `status --json` shows times as RFC 3339 in UTC to the second, as it did
// before the answer came from a running instance. Time once had only
// MarshalText, so time.Time's own MarshalJSON (promoted through the
// embedding) won: nanoseconds and the local offset.
func TestTimeIsUTCToTheSecond(t *testing.T) {
	at := time.Date(2026, 11, 30, 5, 6, 7, 891011121, time.FixedZone("CET", 3600))
	b, err := json.Marshal(Family{ResetTime: Time{at}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `"reset_time":"2026-11-30T04:06:07Z"`; !bytes.Contains(b, []byte(want)) {
		t.Errorf("encoded %s; want %s", b, want)
	}
	var f Family
	if err := json.Unmarshal(b, &f); err != nil || !f.ResetTime.Equal(at.Truncate(time.Second)) {
		t.Errorf("decoded %v, %v; want %v", f.ResetTime, err, at.Truncate(time.Second))
	}
}

// A time that is not an RFC 3339 string is an error, null is no time.
func TestTimeDecoding(t *testing.T) {
	for _, bad := range []string{`1234`, `"`, `"2026-11-30"`, `"2026-11-30T04:06:07Z`, `"2026-11-30T04:06:07Z\u0000"`} {
		var f Family
		if err := json.Unmarshal([]byte(`{"reset_time":`+bad+`}`), &f); err == nil {
			t.Errorf("%s decoded as %v; want an error", bad, f.ResetTime)
		}
	}
	var f Family
	if err := json.Unmarshal([]byte(`{"reset_time":null}`), &f); err != nil || !f.ResetTime.IsZero() {
		t.Errorf("null decoded as %v, %v; want no time", f.ResetTime, err)
	}
}
