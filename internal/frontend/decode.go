package frontend

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
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
	d := decoder{b: b}
	r := new(Response)
	d.response(r)
	d.space()
	if d.bad || d.i != len(d.b) {
		return nil, false
	}
	return r, true
}

// decoder reads one value at i; bad is set at the first unusual thing,
// after which every method returns without reading.
type decoder struct {
	b   []byte
	i   int
	bad bool
}

func (d *decoder) space() {
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
func (d *decoder) peek() byte {
	d.space()
	if d.i >= len(d.b) {
		return 0
	}
	return d.b[d.i]
}

// object reads an object, calling member for each key; member must read
// the value (or call d.skip). The key aliases the input. fields are the
// names member knows: a key that matches one of them only without regard
// to case is unusual (encoding/json would take it), and so is one given
// twice. A key with escapes or non-ASCII bytes is unusual too.
func (d *decoder) object(fields []string, member func(field int)) {
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
			d.skip()
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
func (d *decoder) key() ([]byte, bool) {
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

// array reads an array, calling elem for each element; elem must read it.
// (The caller sets its slice to an empty one first: encoding/json makes
// "[]" an empty, non-nil slice.)
func (d *decoder) array(elem func()) {
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

// str reads a string. One with escapes or bytes that are not valid UTF-8
// is decoded by encoding/json (which replaces them with U+FFFD), so it
// reads the same.
func (d *decoder) str() string {
	if d.bad || d.peek() != '"' {
		d.bad = true
		return ""
	}
	start := d.i
	plain := true
	for j := start + 1; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			d.i = j + 1
			if plain && utf8.Valid(d.b[start+1:j]) {
				return string(d.b[start+1 : j])
			}
			var s string
			if json.Unmarshal(d.b[start:d.i], &s) != nil {
				d.bad = true
			}
			return s
		case c == '\\':
			plain = false
			j++ // the escaped byte cannot end the string
		case c < 0x20:
			d.bad = true
			return ""
		}
	}
	d.bad = true
	return ""
}

// integer reads a number written as a plain integer that fits an int.
func (d *decoder) integer() int {
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

// boolean reads true or false.
func (d *decoder) boolean() bool {
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
func (d *decoder) literal(word string) bool {
	end := d.i + len(word)
	if !bytes.HasPrefix(d.b[d.i:], []byte(word)) || end < len(d.b) && !isDelim(d.b[end]) {
		return false
	}
	d.i = end
	return true
}

// raw reads any value but null and returns a copy of its bytes, as
// json.RawMessage keeps them.
func (d *decoder) raw() json.RawMessage {
	if d.bad || d.peek() == 'n' {
		d.bad = true
		return nil
	}
	start := d.i
	d.skip()
	if d.bad {
		return nil
	}
	return append(json.RawMessage(nil), d.b[start:d.i]...)
}

// skip passes over one value; null is unusual only where a field reads
// it, so here it is skipped like any literal.
func (d *decoder) skip() {
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

func (d *decoder) response(r *Response) {
	d.object(responseFields, func(f int) {
		switch f {
		case 0:
			r.Candidates = []Candidate{}
			d.array(func() {
				r.Candidates = append(r.Candidates, Candidate{})
				d.candidate(&r.Candidates[len(r.Candidates)-1])
			})
		case 1:
			r.UsageMetadata = new(Usage)
			d.usage(r.UsageMetadata)
		case 2:
			r.ModelVersion = d.str()
		case 3:
			r.ResponseID = d.str()
		case 4:
			r.PromptFeedback = new(struct {
				BlockReason string `json:"blockReason"`
			})
			d.object(feedbackFields, func(int) { r.PromptFeedback.BlockReason = d.str() })
		}
	})
}

func (d *decoder) candidate(c *Candidate) {
	d.object(candidateFields, func(f int) {
		if f == 0 {
			d.content(&c.Content)
		} else {
			c.FinishReason = d.str()
		}
	})
}

func (d *decoder) content(c *Content) {
	d.object(contentFields, func(f int) {
		if f == 0 {
			c.Role = d.str()
			return
		}
		c.Parts = []Part{}
		d.array(func() {
			c.Parts = append(c.Parts, Part{})
			d.part(&c.Parts[len(c.Parts)-1])
		})
	})
}

func (d *decoder) part(p *Part) {
	d.object(partFields, func(f int) {
		switch f {
		case 0:
			p.Text = d.str()
		case 1:
			p.Thought = d.boolean()
		case 2:
			p.ThoughtSignature = d.str()
		case 3:
			p.FunctionCall = new(FunctionCall)
			d.object(callFields, func(f int) {
				switch f {
				case 0:
					p.FunctionCall.ID = d.str()
				case 1:
					p.FunctionCall.Name = d.str()
				case 2:
					p.FunctionCall.Args = d.raw()
				}
			})
		default: // rare in answers: left to encoding/json
			d.bad = true
		}
	})
}

func (d *decoder) usage(u *Usage) {
	d.object(usageFields, func(f int) {
		n := d.integer()
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
