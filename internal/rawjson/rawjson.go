// Package rawjson reads the top level of JSON documents without decoding
// them: where each member of an object, or each element of an array,
// starts and ends. The proxy uses it to find and swap a few members of a
// client's body (the project, the model) and to unwrap answers, sending
// every other byte on as it came instead of decoding and re-encoding the
// whole document.
//
// The functions skip values without validating them: a caller that must
// refuse malformed JSON checks the document with Valid first. On input
// that is malformed at the level they read they report false; they never
// panic and never read past the input.
package rawjson

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Member is one member of a JSON object, as offsets into the object's
// bytes: the member runs from Start (its key's opening quote) to End (just
// past its value), and its value from Value to End.
type Member struct {
	Key               []byte // the key as written, between its quotes (escapes not decoded)
	Start, Value, End int
}

// Is reports whether the member's key is name, comparing the decoded key
// (a key written with escapes, "proj\u0065ct", is "project"; invalid UTF-8
// reads as U+FFFD), exactly as encoding/json would decode it into a map.
func (m Member) Is(name string) bool {
	if m.plain() {
		return string(m.Key) == name
	}
	return m.decoded() == name
}

// Name returns the member's key, decoded.
func (m Member) Name() string {
	if m.plain() {
		return string(m.Key)
	}
	return m.decoded()
}

// SameKey reports whether two members have the same key, decoded.
func (m Member) SameKey(o Member) bool {
	if m.plain() && o.plain() {
		return bytes.Equal(m.Key, o.Key)
	}
	return m.Name() == o.Name()
}

// plain reports whether the key reads as written: no escapes, and no
// invalid UTF-8 (which decoding replaces with U+FFFD).
func (m Member) plain() bool {
	return bytes.IndexByte(m.Key, '\\') < 0 && utf8.Valid(m.Key)
}

// Fold reports whether the member's key matches name as encoding/json
// matches a struct field: exactly or without regard to case.
func (m Member) Fold(name string) bool {
	if m.plain() {
		return bytes.EqualFold(m.Key, []byte(name))
	}
	return bytes.EqualFold([]byte(m.decoded()), []byte(name))
}

func (m Member) decoded() string {
	q := make([]byte, 0, len(m.Key)+2)
	q = append(append(append(q, '"'), m.Key...), '"')
	var s string
	if json.Unmarshal(q, &s) != nil {
		return ""
	}
	return s
}

// Members appends the members of the JSON object b (leading and trailing
// white space allowed) to dst, in the order written. ok is false when b is
// not an object or is malformed at its top level.
func Members(dst []Member, b []byte) (_ []Member, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return dst, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return dst, skipSpace(b, i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return dst, false
		}
		start := i
		keyEnd := skipString(b, i)
		if keyEnd < 0 {
			return dst, false
		}
		i = skipSpace(b, keyEnd)
		if i >= len(b) || b[i] != ':' {
			return dst, false
		}
		v := skipSpace(b, i+1)
		end := skipValue(b, v)
		if end < 0 {
			return dst, false
		}
		dst = append(dst, Member{Key: b[start+1 : keyEnd-1], Start: start, Value: v, End: end})
		i = skipSpace(b, end)
		if i >= len(b) {
			return dst, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return dst, skipSpace(b, i+1) == len(b)
		default:
			return dst, false
		}
	}
}

// Elements calls f with each element of the JSON array b (leading and
// trailing white space allowed), in order, until f returns false. ok is
// false when b is not an array or is malformed at its top level (f may
// have seen the elements before the fault).
func Elements(b []byte, f func(elem []byte) bool) (ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return skipSpace(b, i+1) == len(b)
	}
	for {
		end := skipValue(b, i)
		if end < 0 {
			return false
		}
		if !f(b[i:end]) {
			return true
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return skipSpace(b, i+1) == len(b)
		default:
			return false
		}
	}
}

// Field returns the value of the member of object b that encoding/json
// would decode into a struct field named name: the last member whose key
// matches it (Fold). ok is false when there is none or b is not an object.
func Field(b []byte, name string) (value []byte, ok bool) {
	var buf [16]Member
	ms, isObj := Members(buf[:0], b)
	if !isObj {
		return nil, false
	}
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Fold(name) {
			return b[ms[i].Value:ms[i].End], true
		}
	}
	return nil, false
}

// IsNull reports whether a value is the literal null.
func IsNull(v []byte) bool { return string(bytes.TrimSpace(v)) == "null" }

// AppendString appends s to dst as a JSON string, escaped as
// encoding/json escapes it (HTML characters and U+2028/U+2029 too).
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const hex = "0123456789abcdef"

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the string starting at b[i] (a
// quote), or -1 when it does not end.
func skipString(b []byte, i int) int {
	i++
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return -1
		}
		i += j
		// The quote is escaped when an odd number of backslashes precede it.
		n := 0
		for k := i - 1; k >= 0 && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return i + 1
		}
		i++
	}
}

// skipValue returns the index just past the value starting at b[i], or
// -1 when there is none or it does not end.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				if i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	case '}', ']', ',', ':':
		return -1
	}
	// A number or a literal: up to the next delimiter.
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r', ':', '"', '{', '[':
			return j
		}
		j++
	}
	return j
}
