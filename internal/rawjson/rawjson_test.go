package rawjson

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestMembers(t *testing.T) {
	tests := []struct {
		in   string
		keys []string // decoded
		vals []string
		ok   bool
	}{
		{`{}`, nil, nil, true},
		{" \n{ }\t", nil, nil, true},
		{`{"a":1}`, []string{"a"}, []string{"1"}, true},
		{`{ "a" : "x\"y" , "b":{"c":[1,"]}",{}]}, "d":null,"e":-1.5e3,"f":true}`,
			[]string{"a", "b", "d", "e", "f"}, []string{`"x\"y"`, `{"c":[1,"]}",{}]}`, `null`, `-1.5e3`, `true`}, true},
		{`{"proj\u0065ct":"p","k\\":"\\"}`, []string{"project", `k\`}, []string{`"p"`, `"\\"`}, true},
		{`{"a":1,"a":2}`, []string{"a", "a"}, []string{"1", "2"}, true},
		{`[]`, nil, nil, false},
		{`null`, nil, nil, false},
		{``, nil, nil, false},
		{`{"a":1`, nil, nil, false},
		{`{"a":1,}`, nil, nil, false},
		{`{"a" 1}`, nil, nil, false},
		{`{"a":}`, nil, nil, false},
		{`{"a":"unterminated}`, nil, nil, false},
		{`{"a":{"b":1}`, nil, nil, false},
		{`{"a":1} x`, nil, nil, false},
		{`{a:1}`, nil, nil, false},
	}
	for _, tt := range tests {
		ms, ok := Members(nil, []byte(tt.in))
		if ok != tt.ok {
			t.Errorf("Members(%q) ok = %v, want %v", tt.in, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		if len(ms) != len(tt.keys) {
			t.Errorf("Members(%q) = %d members, want %d", tt.in, len(ms), len(tt.keys))
			continue
		}
		for i, m := range ms {
			if !m.Is(tt.keys[i]) || !m.Fold(tt.keys[i]) {
				t.Errorf("Members(%q)[%d] key %q is not %q", tt.in, i, m.Key, tt.keys[i])
			}
			if got := tt.in[m.Value:m.End]; got != tt.vals[i] {
				t.Errorf("Members(%q)[%d] value %q, want %q", tt.in, i, got, tt.vals[i])
			}
			if tt.in[m.Start] != '"' {
				t.Errorf("Members(%q)[%d] starts at %q, not at its key", tt.in, i, tt.in[m.Start:])
			}
		}
	}
}

func TestField(t *testing.T) {
	tests := []struct {
		in, name, want string
		ok             bool
	}{
		{`{"response":{"a":1},"traceId":"t"}`, "response", `{"a":1}`, true},
		{`{"Response":1,"response":2}`, "response", `2`, true}, // the last one, as encoding/json assigns in turn
		{`{"RESPONSE":1}`, "response", `1`, true},
		{`{"traceId":"t"}`, "response", ``, false},
		{`[{"response":1}]`, "response", ``, false},
	}
	for _, tt := range tests {
		got, ok := Field([]byte(tt.in), tt.name)
		if ok != tt.ok || string(got) != tt.want {
			t.Errorf("Field(%q, %q) = %q, %v; want %q, %v", tt.in, tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestElements(t *testing.T) {
	var got []string
	ok := Elements([]byte(` [1, "a]" ,{"b":[2]}, null] `), func(e []byte) bool { got = append(got, string(e)); return true })
	if want := []string{`1`, `"a]"`, `{"b":[2]}`, `null`}; !ok || len(got) != len(want) {
		t.Fatalf("Elements = %q, %v", got, ok)
	}
	n := 0
	if !Elements([]byte(`[1,2,3]`), func([]byte) bool { n++; return n < 2 }) || n != 2 {
		t.Errorf("Elements did not stop when asked: %d calls", n)
	}
	for _, bad := range []string{`{}`, `[1,`, `[1 2]`, `[,]`, `[1]]`} {
		if Elements([]byte(bad), func([]byte) bool { return true }) {
			t.Errorf("Elements(%q) ok", bad)
		}
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\`, "<a href='x'>&</a>", "\x00\x01\x1f\n\r\t\b\f", "é中😀", "\u2028\u2029", "bad \xff utf8 \xc3"} {
		want, _ := json.Marshal(s)
		if got := AppendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("AppendString(%q) = %s, want x%s", s, got, want)
		}
	}
}

// FuzzMembers checks Members, Elements and Field against encoding/json on
// valid documents, and that they never panic on anything.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"b":[1,{"c":"d"}],"a":"x\"y"}`, `{"proj\u0065ct":{"id":"p"}}`, `[1,"2",{"3":[4]}]`, `{"a":"\\\"}"}`, ` { "k" : -0.5e-7 } `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, ok := Members(nil, b)
		for _, m := range ms {
			if m.Start < 0 || m.Value < m.Start || m.End < m.Value || m.End > len(b) {
				t.Fatalf("member out of bounds: %+v of %d bytes", m, len(b))
			}
		}
		_ = Elements(b, func([]byte) bool { return true })
		_, _ = Field(b, "response")
		if !json.Valid(b) {
			return
		}
		var obj map[string]json.RawMessage
		isObj := json.Unmarshal(b, &obj) == nil && obj != nil
		if ok != isObj {
			t.Fatalf("Members ok = %v, encoding/json says object %v: %q", ok, isObj, b)
		}
		if ok {
			seen := map[string]json.RawMessage{}
			for _, m := range ms {
				var k string
				if err := json.Unmarshal(b[m.Start:m.Value], &k); err != nil {
					// b[m.Start:m.Value] is the key, space and colon: decode the key alone.
					if err := json.Unmarshal(append(append([]byte{'"'}, m.Key...), '"'), &k); err != nil {
						t.Fatalf("key %q: %v", m.Key, err)
					}
				}
				if !m.Is(k) {
					t.Fatalf("member key %q is not %q", m.Key, k)
				}
				seen[k] = b[m.Value:m.End]
			}
			if len(seen) != len(obj) {
				t.Fatalf("%d distinct keys, encoding/json has %d: %q", len(seen), len(obj), b)
			}
			for k, v := range obj {
				if !compactEqual(seen[k], v) {
					t.Fatalf("member %q = %q, encoding/json has %q", k, seen[k], v)
				}
			}
		}
		var arr []json.RawMessage
		if json.Unmarshal(b, &arr) == nil && arr != nil {
			var got [][]byte
			if !Elements(b, func(e []byte) bool { got = append(got, e); return true }) || len(got) != len(arr) {
				t.Fatalf("Elements = %q, encoding/json has %q", got, arr)
			}
			for i := range arr {
				if !compactEqual(got[i], arr[i]) {
					t.Fatalf("element %d = %q, encoding/json has %q", i, got[i], arr[i])
				}
			}
		}
		var env struct {
			Response json.RawMessage `json:"response"`
		}
		if json.Unmarshal(b, &env) == nil {
			v, found := Field(b, "response")
			if found != (env.Response != nil) || found && !compactEqual(v, env.Response) {
				t.Fatalf("Field(response) = %q, %v; encoding/json has %q", v, found, env.Response)
			}
		}
	})
}

// FuzzAppendString checks AppendString against json.Marshal.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a<b>&c", "\x00\u2028\xff", `"\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
	})
}

func compactEqual(a, b []byte) bool {
	var x, y bytes.Buffer
	if json.Compact(&x, a) != nil || json.Compact(&y, b) != nil {
		return false
	}
	return bytes.Equal(x.Bytes(), y.Bytes())
}

func TestValid(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	for _, s := range []string{
		``, ` `, `{}`, `[]`, `""`, `0`, `-0`, `-0.5e+10`, `1E5`, `01`, `1.`, `.5`, `-`, `1e`, `+1`, `true`, `tru`, `nulll`, `null x`,
		`{"a":1,"b":[true,false,null,{"c":"\u00e9\n\"\\\/"}]}`, `{"a" : 1 , }`, `{,}`, `[1,]`, `[,1]`, `{"a"}`, `{"a":}`, `{1:2}`,
		`"\x"`, `"\u12"`, `"\u12g4"`, "\"\x01\"", "\"\xff\xfe\"", `"unterminated`, `{"a":1}}`, `[1]]`, `[{]`, `{[}`,
		deep(10000), deep(10001), "[" + deep(9999) + "," + deep(10000) + "]", " \t\r\n{\"k\":\"v\"}\n",
	} {
		if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("Valid(%.60q) = %v, json.Valid says %v", s, got, want)
		}
	}
}

// FuzzValid checks Valid against json.Valid.
func FuzzValid(f *testing.F) {
	for _, s := range []string{`{"a":[1,-2.5e3,"x\u0041\n",true,false,null,{}]}`, `[[[]]]`, `"\ud800"`, `01`, `{"a":1,}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, json.Valid says %v", b, got, want)
		}
	})
}

func BenchmarkValid(b *testing.B) {
	doc := []byte(`{"model":"gemini-3-flash","request":{"contents":[{"role":"user","parts":[{"text":"` + strings.Repeat("You are an interactive CLI agent. \\n", 1000) + `"}]}],"generationConfig":{"temperature":0.7,"topP":1}}}`)
	b.Run("rawjson", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if !Valid(doc) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if !json.Valid(doc) {
				b.Fatal("invalid")
			}
		}
	})
}
