package frontend

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/quotatui/quotatui/internal/rawjson"
)

// A decoder of the common shape of Gemini answers (candidates with text,
// thought and functionCall parts, usageMetadata, modelVersion,
// responseId, promptFeedback) into Response, for every translated answer
// and stream event: encoding/json's reflection was most of a translated
// request's own CPU.
//
// It decodes only what it is sure encoding/json would decode the same
// way, and reports anything else as unusual so that the caller decodes
// with encoding/json instead (TestDecodeResponseMatchesEncodingJSON and
// FuzzParseResponse compare the two): keys that match a field only
// without regard to case, keys with escapes or non-ASCII bytes, a field
// given twice, null, a number that is not a plain integer, a value of
// the wrong type, a part with inlineData, fileData or functionResponse.
// Unknown keys are skipped, as encoding/json skips them. Its input has
// been checked by rawjson.Valid; it never panics on any input all the
// same, and never reads past it.

// decodeResponse decodes b, one JSON value, into a Response; ok is false
// when b is unusual in any of the ways above.
func decodeResponse(b []byte) (_ *Response, ok bool) {
	d := Decoder{b: b}
	r := new(Response)
	d.response(r)
	if !d.Done() {
		return nil, false
	}
	return r, true
}

// envelopeFields is v1internal's envelope, as decodeEnvelope reads it.
var envelopeFields = []string{"response"}

// decodeEnvelope decodes b, a v1internal envelope {"response": ...,
// "traceId": ...}, into the Response it wraps, in one pass; ok is false
// when it has no "response" member or is unusual.
func decodeEnvelope(b []byte) (_ *Response, ok bool) {
	d := Decoder{b: b}
	var r *Response
	d.Object(envelopeFields, func(int) {
		r = new(Response)
		d.response(r)
	})
	if r == nil || !d.Done() {
		return nil, false
	}
	return r, true
}

// Decoder reads the common shape of a JSON document into a struct the
// way encoding/json would, for the translators' hot paths, and gives up
// (Failed) on anything unusual, where the caller decodes the document
// with encoding/json instead and so gets its result and its errors:
// a key that matches a field only without regard to case, a key with
// escapes or non-ASCII bytes, a field given twice, null where a field
// reads a value, a value of the wrong type, a number that does not fit.
// Its input must have been checked by rawjson.Valid (or json.Valid);
// on any input it never panics and never reads past it. After the first
// failure every method returns a zero value without reading.
type Decoder struct {
	b   []byte
	i   int
	bad bool
}

// NewDecoder returns a decoder of the JSON value b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// Decode reads the JSON document b into a new T: with read when b is
// valid JSON of the common shape, else with encoding/json (into a fresh
// T), whose error it returns.
func Decode[T any](b []byte, read func(*Decoder, *T)) (*T, error) {
	if v, ok := DecodeFast(b, read); ok {
		return v, nil
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, err
	}
	return v, nil
}

// DecodeFast is Decode's fast path alone: ok is false when b is not
// valid JSON or read found it unusual.
func DecodeFast[T any](b []byte, read func(*Decoder, *T)) (_ *T, ok bool) {
	if !rawjson.Valid(b) {
		return nil, false
	}
	d := Decoder{b: b}
	v := new(T)
	read(&d, v)
	if !d.Done() {
		return nil, false
	}
	return v, true
}

// Elems reads an array into *s, one element by read: "[]" is an empty,
// non-nil slice, as encoding/json makes it.
func Elems[T any](d *Decoder, s *[]T, read func(*T)) {
	*s = []T{}
	d.Array(func() {
		var zero T
		*s = append(*s, zero)
		read(&(*s)[len(*s)-1])
	})
}

// Fail marks the input unusual: the caller is to use encoding/json.
func (d *Decoder) Fail() { d.bad = true }

// Failed reports whether the decoder gave up.
func (d *Decoder) Failed() bool { return d.bad }

// Done reports whether the one value was read whole and nothing but
// white space follows it.
func (d *Decoder) Done() bool {
	d.space()
	return !d.bad && d.i == len(d.b)
}

func (d *Decoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end.
func (d *Decoder) peek() byte {
	d.space()
	if d.i >= len(d.b) {
		return 0
	}
	return d.b[d.i]
}

// Object reads an object, calling member for each key; member must read
// the value (or call d.skip). The key aliases the input. fields are the
// names member knows: a key that matches one of them only without regard
// to case is unusual (encoding/json would take it), and so is one given
// twice. A key with escapes or non-ASCII bytes is unusual too.
func (d *Decoder) Object(fields []string, member func(field int)) {
	if d.bad || d.peek() != '{' {
		d.bad = true
		return
	}
	d.i++
	var seen uint32
	if d.peek() == '}' {
		d.i++
		return
	}
	for !d.bad {
		key, ok := d.key()
		if !ok || d.peek() != ':' {
			d.bad = true
			return
		}
		d.i++
		field := -1
		for f, name := range fields {
			if string(key) == name {
				field = f
				break
			}
			if bytes.EqualFold(key, []byte(name)) {
				d.bad = true
				return
			}
		}
		if field < 0 {
			d.Skip()
		} else {
			if seen&(1<<field) != 0 {
				d.bad = true
				return
			}
			seen |= 1 << field
			member(field)
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return
		default:
			d.bad = true
		}
	}
}

// key reads an object key without escapes or non-ASCII bytes.
func (d *Decoder) key() ([]byte, bool) {
	if d.peek() != '"' {
		return nil, false
	}
	start := d.i + 1
	for j := start; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			d.i = j + 1
			return d.b[start:j], true
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return nil, false
		}
	}
	return nil, false
}

// Array reads an array, calling elem for each element; elem must read it.
// (The caller sets its slice to an empty one first: encoding/json makes
// "[]" an empty, non-nil slice.)
func (d *Decoder) Array(elem func()) {
	if d.bad || d.peek() != '[' {
		d.bad = true
		return
	}
	d.i++
	if d.peek() == ']' {
		d.i++
		return
	}
	for !d.bad {
		elem()
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return
		default:
			d.bad = true
		}
	}
}

// StrObject reads an object of string fields: the value of fields[i]
// into *dst[i].
func (d *Decoder) StrObject(fields []string, dst ...*string) {
	d.Object(fields, func(f int) { *dst[f] = d.Str() })
}

// Str reads a string, decoding escapes and replacing invalid UTF-8 and
// lone surrogates with U+FFFD as encoding/json does.
func (d *Decoder) Str() string {
	if d.bad || d.peek() != '"' {
		d.bad = true
		return ""
	}
	start := d.i + 1
	for j := start; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			d.i = j + 1
			if utf8.Valid(d.b[start:j]) {
				return string(d.b[start:j])
			}
			return string(appendUnquoted(make([]byte, 0, j-start+8), d.b[start:j]))
		case c == '\\':
			return d.escaped(start)
		case c < 0x20:
			d.bad = true
			return ""
		}
	}
	d.bad = true
	return ""
}

// escaped reads the rest of a string with escapes, which starts at start.
func (d *Decoder) escaped(start int) string {
	end := skipString(d.b, start-1)
	if end < 0 {
		d.bad = true
		return ""
	}
	raw := d.b[start : end-1]
	out := appendUnquoted(make([]byte, 0, len(raw)), raw)
	if out == nil {
		d.bad = true
		return ""
	}
	d.i = end
	return string(out)
}

// appendUnquoted appends the contents of a JSON string (between its
// quotes) to dst, decoded as encoding/json decodes it; nil when it is
// malformed (an unknown escape, a control character, a bare quote).
func appendUnquoted(dst, s []byte) []byte {
	for r := 0; r < len(s); {
		switch c := s[r]; {
		case c == '\\':
			if r+1 >= len(s) {
				return nil
			}
			switch e := s[r+1]; {
			case unescapes[e] != 0:
				dst = append(dst, unescapes[e])
				r += 2
			case e == 'u':
				rr := hex4(s[r+2:])
				if rr < 0 {
					return nil
				}
				r += 6
				if utf16.IsSurrogate(rr) {
					if len(s) >= r+6 && s[r] == '\\' && s[r+1] == 'u' {
						if dec := utf16.DecodeRune(rr, hex4(s[r+2:])); dec != unicode.ReplacementChar {
							dst = utf8.AppendRune(dst, dec)
							r += 6
							break
						}
					}
					rr = unicode.ReplacementChar
				}
				dst = utf8.AppendRune(dst, rr)
			default:
				return nil
			}
		case c == '"' || c < ' ':
			return nil
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			if rr == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, s[r:r+size]...)
			}
			r += size
		}
	}
	if dst == nil {
		dst = []byte{}
	}
	return dst
}

// unescapes maps the byte after a backslash to what it stands for (0:
// not a one-byte escape).
var unescapes = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// hex4 reads four hex digits, or returns -1.
func hex4(s []byte) rune {
	if len(s) < 4 {
		return -1
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// Int reads a number written as a plain integer that fits an int.
func (d *Decoder) Int() int {
	if d.bad {
		return 0
	}
	d.space()
	j := d.i
	if j < len(d.b) && d.b[j] == '-' {
		j++
	}
	for j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9' {
		j++
	}
	if j < len(d.b) {
		switch d.b[j] {
		case '.', 'e', 'E':
			d.bad = true
			return 0
		}
	}
	n, err := strconv.ParseInt(string(d.b[d.i:j]), 10, strconv.IntSize)
	if err != nil {
		d.bad = true
		return 0
	}
	d.i = j
	return int(n)
}

// Float reads a number as encoding/json reads it into a float64.
func (d *Decoder) Float() float64 {
	if d.bad {
		return 0
	}
	d.space()
	j := d.i
	for j < len(d.b) && !isDelim(d.b[j]) {
		j++
	}
	c := byte(0)
	if j > d.i {
		c = d.b[d.i]
	}
	if c != '-' && (c < '0' || c > '9') {
		d.bad = true // a string, a literal, null
		return 0
	}
	f, err := strconv.ParseFloat(string(d.b[d.i:j]), 64)
	if err != nil {
		d.bad = true
		return 0
	}
	d.i = j
	return f
}

// Bool reads true or false.
func (d *Decoder) Bool() bool {
	d.space()
	switch {
	case d.bad:
	case d.literal("true"):
		return true
	case d.literal("false"):
		return false
	default:
		d.bad = true
	}
	return false
}

// literal reads word when it is next and ends there.
func (d *Decoder) literal(word string) bool {
	end := d.i + len(word)
	if !bytes.HasPrefix(d.b[d.i:], []byte(word)) || end < len(d.b) && !isDelim(d.b[end]) {
		return false
	}
	d.i = end
	return true
}

// Raw reads any value and returns a copy of its bytes, as json.RawMessage
// keeps them (null too: it is given the literal).
func (d *Decoder) Raw() json.RawMessage {
	if d.bad {
		return nil
	}
	d.space()
	start := d.i
	d.Skip()
	if d.bad {
		return nil
	}
	return append(json.RawMessage(nil), d.b[start:d.i]...)
}

// Skip passes over one value; null is unusual only where a field reads
// it, so here it is skipped like any literal.
func (d *Decoder) Skip() {
	if d.bad {
		return
	}
	d.space()
	depth := 0
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case '"':
			end := skipString(d.b, d.i)
			if end < 0 {
				d.bad = true
				return
			}
			d.i = end
		case '{', '[':
			depth++
			d.i++
		case '}', ']':
			if depth == 0 {
				d.bad = true
				return
			}
			depth--
			d.i++
		case ',', ':', ' ', '\t', '\n', '\r':
			if depth == 0 {
				d.bad = true // no value here
				return
			}
			d.i++
		default: // a number or a literal
			for d.i < len(d.b) && !isDelim(d.b[d.i]) {
				d.i++
			}
		}
		if depth == 0 {
			return
		}
	}
	d.bad = true
}

func isDelim(c byte) bool {
	switch c {
	case ',', '}', ']', ':', '"', '{', '[', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// skipString returns the index just past the string starting at b[i] (a
// quote), or -1 when it does not end.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '"':
			return j + 1
		case '\\':
			j++
		}
	}
	return -1
}

var (
	responseFields  = []string{"candidates", "usageMetadata", "modelVersion", "responseId", "promptFeedback"}
	candidateFields = []string{"content", "finishReason"}
	contentFields   = []string{"role", "parts"}
	partFields      = []string{"text", "thought", "thoughtSignature", "functionCall", "inlineData", "fileData", "functionResponse"}
	callFields      = []string{"id", "name", "args"}
	usageFields     = []string{"promptTokenCount", "candidatesTokenCount", "totalTokenCount", "thoughtsTokenCount", "cachedContentTokenCount"}
	feedbackFields  = []string{"blockReason"}
)

func (d *Decoder) response(r *Response) {
	d.Object(responseFields, func(f int) {
		switch f {
		case 0:
			Elems(d, &r.Candidates, d.candidate)
		case 1:
			r.UsageMetadata = new(Usage)
			d.usage(r.UsageMetadata)
		case 2:
			r.ModelVersion = d.Str()
		case 3:
			r.ResponseID = d.Str()
		case 4:
			r.PromptFeedback = new(struct {
				BlockReason string `json:"blockReason"`
			})
			d.StrObject(feedbackFields, &r.PromptFeedback.BlockReason)
		}
	})
}

func (d *Decoder) candidate(c *Candidate) {
	d.Object(candidateFields, func(f int) {
		if f == 0 {
			d.content(&c.Content)
		} else {
			c.FinishReason = d.Str()
		}
	})
}

func (d *Decoder) content(c *Content) {
	d.Object(contentFields, func(f int) {
		if f == 0 {
			c.Role = d.Str()
			return
		}
		Elems(d, &c.Parts, d.part)
	})
}

func (d *Decoder) part(p *Part) {
	d.Object(partFields, func(f int) {
		switch f {
		case 0:
			p.Text = d.Str()
		case 1:
			p.Thought = d.Bool()
		case 2:
			p.ThoughtSignature = d.Str()
		case 3:
			p.FunctionCall = new(FunctionCall)
			d.Object(callFields, func(f int) {
				switch f {
				case 0:
					p.FunctionCall.ID = d.Str()
				case 1:
					p.FunctionCall.Name = d.Str()
				case 2:
					p.FunctionCall.Args = d.Raw()
				}
			})
		default: // rare in answers: left to encoding/json
			d.bad = true
		}
	})
}

// ParseUsage reads a usageMetadata object as encoding/json decodes it
// into a Usage: in place when it is of the common shape (counts written as
// plain integers, keys as Google writes them), else by encoding/json; ok
// is false when that fails. It allocates nothing on the common shape, so
// the proxy can read every answer's and stream event's counts with it.
func ParseUsage(b []byte) (Usage, bool) {
	if rawjson.Valid(b) {
		var u Usage
		d := Decoder{b: b}
		d.usage(&u)
		if d.Done() {
			return u, true
		}
	}
	// Declared here: what encoding/json is given escapes to the heap.
	v := new(Usage)
	if json.Unmarshal(b, v) != nil {
		return Usage{}, false
	}
	return *v, true
}

func (d *Decoder) usage(u *Usage) {
	d.Object(usageFields, func(f int) {
		n := d.Int()
		switch f {
		case 0:
			u.PromptTokenCount = n
		case 1:
			u.CandidatesTokenCount = n
		case 2:
			u.TotalTokenCount = n
		case 3:
			u.ThoughtsTokenCount = n
		case 4:
			u.CachedContentTokenCount = n
		}
	})
}

// StringOf returns the string a JSON value holds, and false when it is
// not one (or is malformed): for "a string or a list" fields, decoded once.
func StringOf(raw json.RawMessage) (string, bool) {
	if !IsString(raw) {
		return "", false
	}
	d := Decoder{b: raw}
	if s := d.Str(); d.Done() {
		return s, true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// Alloc sets *p to a new T and returns it (a decoder's optional
// sub-object, whose type may be an unnamed struct).
func Alloc[T any](p **T) *T {
	*p = new(T)
	return *p
}
