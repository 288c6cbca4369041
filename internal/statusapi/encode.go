package statusapi

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/quotatui/quotatui/internal/rawjson"
)

// The accounts' JSON, written by hand. encoding/json took 5–10 ms to encode
// a thousand accounts (reflection over ten thousand fields and a map per
// account), the largest part of `status --json`'s time
// (docs/BENCHMARKS.md). These functions write exactly the bytes
// encoding/json writes for the same values — Marshal compact, and what an
// Encoder with SetIndent("", "  ") writes — which the tests check field by
// field against encoding/json. A field added to Account or Family must be
// added here too; TestEncodeMatchesEncodingJSON fills every field by
// reflection and fails until it is.

// appendJSON appends what `status --json` prints: the accounts indented,
// [] when there are none, and a newline.
func appendJSON(b []byte, accts []Account) ([]byte, error) {
	if accts == nil {
		accts = []Account{}
	}
	b, err := appendAccounts(b, accts, true, 0)
	if err != nil {
		return nil, fmt.Errorf("encode the accounts: %w", err)
	}
	return append(b, '\n'), nil
}

// appendAccounts appends accts as JSON: compact when indent is false, else
// indented by two spaces from depth (0 at the top), as json.Indent would.
// A nil slice is null, as encoding/json writes it.
func appendAccounts(b []byte, accts []Account, indent bool, depth int) ([]byte, error) {
	if accts == nil {
		return append(b, "null"...), nil
	}
	if len(accts) == 0 {
		return append(b, "[]"...), nil
	}
	var err error
	b = append(b, '[')
	for i := range accts {
		if i > 0 {
			b = append(b, ',')
		}
		b = newline(b, indent, depth+1)
		if b, err = appendAccount(b, &accts[i], indent, depth+1); err != nil {
			return nil, err
		}
	}
	b = newline(b, indent, depth)
	return append(b, ']'), nil
}

// object writes a JSON object's members one after another.
type object struct {
	b      []byte
	indent bool
	depth  int // the object's own depth; members are one deeper
	n      int // members written
}

func openObject(b []byte, indent bool, depth int) object {
	return object{b: append(b, '{'), indent: indent, depth: depth}
}

// key starts the member named k (a constant without characters to escape).
func (o *object) key(k string) {
	if o.n > 0 {
		o.b = append(o.b, ',')
	}
	o.n++
	o.b = newline(o.b, o.indent, o.depth+1)
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
	if o.indent {
		o.b = append(o.b, ' ')
	}
}

func (o *object) str(k, v string) { o.key(k); o.b = rawjson.AppendString(o.b, v) }

// strOmit is an `omitempty` string.
func (o *object) strOmit(k, v string) {
	if v != "" {
		o.str(k, v)
	}
}

// timeOmit is an `omitzero` Time.
func (o *object) timeOmit(k string, t Time) {
	if !t.IsZero() {
		o.key(k)
		o.b = appendTime(o.b, t.Time)
	}
}

func (o *object) close() []byte {
	if o.n > 0 {
		o.b = newline(o.b, o.indent, o.depth)
	}
	return append(o.b, '}')
}

func appendAccount(b []byte, a *Account, indent bool, depth int) ([]byte, error) {
	o := openObject(b, indent, depth)
	o.key("id")
	o.b = strconv.AppendInt(o.b, a.ID, 10)
	o.str("email", a.Email)
	o.str("label", a.Label)
	o.str("tier", a.Tier)
	o.strOmit("tier_id", a.TierID)
	o.strOmit("project", a.Project)
	o.str("state", a.State)
	o.str("status", a.Status)
	o.strOmit("state_reason", a.StateReason)
	o.strOmit("validation_url", a.ValidationURL)
	o.timeOmit("last_sync", a.LastSync)
	o.strOmit("last_error", a.LastError)
	o.strOmit("quota_unreadable", a.QuotaUnreadable)
	o.strOmit("quota_unreadable_cause", a.QuotaUnreadableCause)
	o.timeOmit("quota_unreadable_until", a.QuotaUnreadableUntil)
	o.key("families")
	if a.Families == nil {
		o.b = append(o.b, "null"...)
		return o.close(), nil
	}
	// encoding/json sorts a map's keys; two families need no sort.Slice.
	var keys [4]string
	names := keys[:0]
	for k := range a.Families {
		names = append(names, k)
	}
	slices.Sort(names)
	fam := openObject(o.b, indent, depth+1)
	for _, k := range names {
		if fam.n > 0 {
			fam.b = append(fam.b, ',')
		}
		fam.n++
		fam.b = newline(fam.b, indent, depth+2)
		fam.b = rawjson.AppendString(fam.b, k)
		fam.b = append(fam.b, ':')
		if indent {
			fam.b = append(fam.b, ' ')
		}
		var err error
		f := a.Families[k]
		if fam.b, err = appendFamily(fam.b, &f, indent, depth+2); err != nil {
			return nil, fmt.Errorf("account %d family %q: %w", a.ID, k, err)
		}
	}
	o.b = fam.close()
	return o.close(), nil
}

func appendFamily(b []byte, f *Family, indent bool, depth int) ([]byte, error) {
	o := openObject(b, indent, depth)
	var err error
	for _, m := range [...]struct {
		k string
		v *float64
	}{{"effective", f.Effective}, {"five_hour", f.FiveHour}, {"weekly", f.Weekly}} {
		o.key(m.k)
		if o.b, err = appendFloatPtr(o.b, m.v); err != nil {
			return nil, fmt.Errorf("%s: %w", m.k, err)
		}
	}
	o.strOmit("bottleneck", f.Bottleneck)
	o.timeOmit("reset_time", f.ResetTime)
	o.str("decision", f.Decision)
	o.str("status", f.Status)
	o.strOmit("mark", f.Mark)
	o.timeOmit("mark_until", f.MarkUntil)
	o.timeOmit("synced_at", f.SyncedAt)
	if f.Estimated {
		o.key("estimated")
		o.b = append(o.b, "true"...)
	}
	if f.Synced != nil {
		o.key("synced")
		if o.b, err = appendFloatPtr(o.b, f.Synced); err != nil {
			return nil, fmt.Errorf("synced: %w", err)
		}
	}
	if f.RequestsSinceSync != 0 {
		o.key("requests_since_sync")
		o.b = strconv.AppendInt(o.b, f.RequestsSinceSync, 10)
	}
	return o.close(), nil
}

// newline starts a new line at depth when indenting.
func newline(b []byte, indent bool, depth int) []byte {
	if !indent {
		return b
	}
	b = append(b, '\n')
	for range depth {
		b = append(b, ' ', ' ')
	}
	return b
}

// appendFloatPtr writes a float64 as encoding/json does (ES6 number
// formatting), null for nil; NaN and infinities are errors, as there.
func appendFloatPtr(b []byte, p *float64) ([]byte, error) {
	if p == nil {
		return append(b, "null"...), nil
	}
	f := *p
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, &json.UnsupportedValueError{Str: strconv.FormatFloat(f, 'g', -1, 64)}
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 is written e-9.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// appendAnswer appends the answer as json.Marshal encodes it, with the
// accounts written by hand (appendAccounts). It is not Answer's
// MarshalJSON: through that, encoding/json would scan the megabyte again
// to compact it.
func appendAnswer(b []byte, a *Answer) ([]byte, error) {
	b = append(b, `{"schema":`...)
	b = rawjson.AppendString(b, a.Schema)
	for _, part := range []struct {
		key  string
		v    any
		omit bool
	}{
		{`,"at":`, a.At, false},
		{`,"instance":`, a.Instance, a.Instance == nil},
		{`,"summary":`, a.Summary, false},
	} {
		if part.omit {
			continue
		}
		j, err := json.Marshal(part.v)
		if err != nil {
			return nil, err
		}
		b = append(b, part.key...)
		b = append(b, j...)
	}
	b = append(b, `,"accounts":`...)
	b, err := appendAccounts(b, a.Accounts, false, 0)
	if err != nil {
		return nil, err
	}
	if len(a.Problems) > 0 {
		j, err := json.Marshal(a.Problems)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"problems":`...)
		b = append(b, j...)
	}
	return append(b, '}'), nil
}
