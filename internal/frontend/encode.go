package frontend

import (
	"encoding/json"
	"math"
	"strconv"
	"sync"

	"github.com/quotatui/quotatui/internal/rawjson"
)

// Marshal returns r's JSON: the bytes json.Marshal(r) gives, written
// field by field instead of by reflection (the upstream request of every
// translated call). Raw members (arguments, tool results, schemas) are
// copied when they are already compact and escaped as encoding/json
// writes them, which is how the translators make them; anything else
// (and every error: a malformed raw member, a NaN) is left to
// json.Marshal. TestMarshalMatchesEncodingJSON and FuzzMarshal compare
// the two.
func (r *Request) Marshal() ([]byte, error) {
	p := encodeBufs.Get().(*[]byte)
	e := encoder{b: (*p)[:0]}
	e.request(r)
	var out []byte
	if !e.bad {
		out = append(make([]byte, 0, len(e.b)), e.b...) // one allocation of the exact size
	}
	if cap(e.b) <= maxPooledEncode {
		*p = e.b
		encodeBufs.Put(p)
	}
	if e.bad {
		return json.Marshal(r)
	}
	return out, nil
}

// encodeBufs are Marshal's scratch buffers: a request is written into
// one, which grows as it needs, and copied out once, as json.Marshal
// does with its own.
var encodeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledEncode bounds what goes back to encodeBufs.
const maxPooledEncode = 1 << 20

// encoder appends JSON to b; bad is set when a value needs json.Marshal.
type encoder struct {
	b     []byte
	bad   bool
	first bool // no member written yet in the open object
}

func (e *encoder) open() { e.b = append(e.b, '{'); e.first = true }

func (e *encoder) close() { e.b = append(e.b, '}'); e.first = false }

// key writes a member's key (a plain ASCII name) and its colon.
func (e *encoder) key(k string) {
	if !e.first {
		e.b = append(e.b, ',')
	}
	e.first = false
	e.b = append(e.b, '"')
	e.b = append(e.b, k...)
	e.b = append(e.b, '"', ':')
}

func (e *encoder) str(k, v string) {
	e.key(k)
	e.b = rawjson.AppendString(e.b, v)
}

// strOmit writes a string member unless it is empty (omitempty).
func (e *encoder) strOmit(k, v string) {
	if v != "" {
		e.str(k, v)
	}
}

func (e *encoder) intOmit(k string, v int) {
	if v != 0 {
		e.key(k)
		e.b = strconv.AppendInt(e.b, int64(v), 10)
	}
}

// float writes v as encoding/json writes a float64.
func (e *encoder) float(k string, v float64) {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		e.bad = true
		return
	}
	e.key(k)
	format := byte('f')
	if abs := math.Abs(v); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	e.b = strconv.AppendFloat(e.b, v, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9, as encoding/json does
		if n := len(e.b); n >= 4 && e.b[n-4] == 'e' && e.b[n-3] == '-' && e.b[n-2] == '0' {
			e.b[n-2] = e.b[n-1]
			e.b = e.b[:n-1]
		}
	}
}

// raw writes a raw member: "null" when nil (json.RawMessage's own
// encoding), as it is when compact and escaped, else bad.
func (e *encoder) raw(k string, v json.RawMessage) {
	e.key(k)
	if v == nil {
		e.b = append(e.b, "null"...)
		return
	}
	var ok bool
	if e.b, ok = AppendRaw(e.b, v); !ok {
		e.bad = true
	}
}

// AppendRaw appends a raw JSON value as json.Marshal writes a
// json.RawMessage, when that is the value unchanged: valid, compact, and
// with no character encoding/json escapes for HTML. ok is false (and
// dst unchanged) otherwise: the caller is to use encoding/json.
func AppendRaw(dst []byte, v json.RawMessage) (_ []byte, ok bool) {
	if !compactEscaped(v) || !rawjson.Valid(v) {
		return dst, false
	}
	return append(dst, v...), true
}

// rawOmit writes a raw member unless it is empty (omitempty).
func (e *encoder) rawOmit(k string, v json.RawMessage) {
	if len(v) > 0 {
		e.raw(k, v)
	}
}

// AppendOptString appends a *string as encoding/json writes it: null
// when nil.
func AppendOptString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return rawjson.AppendString(b, *s)
}

// AppendList appends xs as a JSON array, one element by appendElem (null
// when xs is nil, as encoding/json writes a nil slice); ok is false when
// any element's was.
func AppendList[T any](b []byte, xs []T, appendElem func(*T, []byte) ([]byte, bool)) (_ []byte, ok bool) {
	if xs == nil {
		return append(b, "null"...), true
	}
	ok = true
	b = append(b, '[')
	for i := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		var good bool
		b, good = appendElem(&xs[i], b)
		ok = ok && good
	}
	return append(b, ']'), ok
}

// compactEscaped reports JSON with no white space outside strings and
// none of the characters encoding/json escapes for HTML (<, >, &, U+2028,
// U+2029) inside them: json.Marshal would write it unchanged.
func compactEscaped(v []byte) bool {
	in := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '"':
			in = !in
		case '\\':
			if in {
				i++
			}
		case ' ', '\t', '\n', '\r':
			if !in {
				return false
			}
		case '<', '>', '&':
			return false
		case 0xE2:
			if i+2 < len(v) && v[i+1] == 0x80 && (v[i+2] == 0xA8 || v[i+2] == 0xA9) {
				return false
			}
		}
	}
	return true
}

func (e *encoder) strings(k string, v []string) {
	e.key(k)
	list(e, v, func(s *string) { e.b = rawjson.AppendString(e.b, *s) })
}

func (e *encoder) request(r *Request) {
	e.open()
	e.key("contents")
	list(e, r.Contents, e.content)
	if r.SystemInstruction != nil {
		e.key("systemInstruction")
		e.content(r.SystemInstruction)
	}
	if len(r.Tools) > 0 {
		e.key("tools")
		list(e, r.Tools, e.tool)
	}
	if tc := r.ToolConfig; tc != nil {
		e.key("toolConfig")
		e.open()
		if fc := tc.FunctionCallingConfig; fc != nil {
			e.key("functionCallingConfig")
			e.open()
			e.strOmit("mode", fc.Mode)
			if len(fc.AllowedFunctionNames) > 0 {
				e.strings("allowedFunctionNames", fc.AllowedFunctionNames)
			}
			e.close()
		}
		e.close()
	}
	if gc := r.GenerationConfig; gc != nil {
		e.key("generationConfig")
		e.generationConfig(gc)
	}
	e.strOmit("sessionId", r.SessionID)
	e.close()
}

// list writes xs as an array, one element by write; nil is null, as
// encoding/json writes a nil slice.
func list[T any](e *encoder, xs []T, write func(*T)) {
	if xs == nil {
		e.b = append(e.b, "null"...)
		return
	}
	e.b = append(e.b, '[')
	for i := range xs {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		write(&xs[i])
	}
	e.b = append(e.b, ']')
}

func (e *encoder) content(c *Content) {
	e.open()
	e.strOmit("role", c.Role)
	e.key("parts")
	list(e, c.Parts, e.part)
	e.close()
}

func (e *encoder) part(p *Part) {
	e.open()
	e.strOmit("text", p.Text)
	if p.Thought {
		e.key("thought")
		e.b = append(e.b, "true"...)
	}
	e.strOmit("thoughtSignature", p.ThoughtSignature)
	if d := p.InlineData; d != nil {
		e.key("inlineData")
		e.open()
		e.str("mimeType", d.MimeType)
		e.str("data", d.Data)
		e.close()
	}
	if d := p.FileData; d != nil {
		e.key("fileData")
		e.open()
		e.strOmit("mimeType", d.MimeType)
		e.str("fileUri", d.FileURI)
		e.close()
	}
	if c := p.FunctionCall; c != nil {
		e.key("functionCall")
		e.open()
		e.strOmit("id", c.ID)
		e.str("name", c.Name)
		e.rawOmit("args", c.Args)
		e.close()
	}
	if r := p.FunctionResponse; r != nil {
		e.key("functionResponse")
		e.open()
		e.strOmit("id", r.ID)
		e.str("name", r.Name)
		e.raw("response", r.Response)
		if len(r.Parts) > 0 {
			e.key("parts")
			list(e, r.Parts, e.part)
		}
		e.close()
	}
	e.close()
}

func (e *encoder) tool(t *Tool) {
	e.open()
	if len(t.FunctionDeclarations) > 0 {
		e.key("functionDeclarations")
		list(e, t.FunctionDeclarations, func(d *FunctionDeclaration) {
			e.open()
			e.str("name", d.Name)
			e.strOmit("description", d.Description)
			e.rawOmit("parameters", d.Parameters)
			e.close()
		})
	}
	e.close()
}

func (e *encoder) generationConfig(g *GenerationConfig) {
	e.open()
	e.intOmit("maxOutputTokens", g.MaxOutputTokens)
	if g.Temperature != nil {
		e.float("temperature", *g.Temperature)
	}
	if g.TopP != nil {
		e.float("topP", *g.TopP)
	}
	if g.TopK != nil {
		e.key("topK")
		e.b = strconv.AppendInt(e.b, int64(*g.TopK), 10)
	}
	if len(g.StopSequences) > 0 {
		e.strings("stopSequences", g.StopSequences)
	}
	e.strOmit("responseMimeType", g.ResponseMimeType)
	e.rawOmit("responseSchema", g.ResponseSchema)
	if t := g.ThinkingConfig; t != nil {
		e.key("thinkingConfig")
		e.open()
		if t.IncludeThoughts {
			e.key("includeThoughts")
			e.b = append(e.b, "true"...)
		}
		e.intOmit("thinkingBudget", t.ThinkingBudget)
		e.close()
	}
	e.close()
}
