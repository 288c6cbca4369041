package frontend

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCleanSchema covers the keyword table of the brief's §5.2
// (pitfall 4): what goes, what becomes a hint, what is rewritten.
func TestCleanSchema(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", ``, `{"properties":{},"type":"object"}`},
		{"meta keys dropped", `{"$schema":"x","$id":"y","$comment":"z","type":"object","additionalProperties":false,"properties":{}}`,
			`{"description":"(No extra properties allowed)","properties":{},"type":"object"}`},
		{"const to enum", `{"type":"object","properties":{"k":{"const":"a"}}}`, `{"properties":{"k":{"enum":["a"],"type":"string"}},"type":"object"}`},
		{"type array with null", `{"type":"object","properties":{"k":{"type":["integer","null"]}}}`, `{"properties":{"k":{"nullable":true,"type":"integer"}},"type":"object"}`},
		{"anyOf picks the richest branch", `{"type":"object","properties":{"k":{"anyOf":[{"type":"string"},{"type":"object","properties":{"a":{"type":"string"}}},{"type":"null"}]}}}`,
			`{"properties":{"k":{"description":"(Accepts: string | object)","nullable":true,"properties":{"a":{"type":"string"}},"type":"object"}},"type":"object"}`},
		{"allOf merged", `{"allOf":[{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]},{"properties":{"b":{"type":"number"}}}]}`,
			`{"properties":{"a":{"type":"string"},"b":{"type":"number"}},"required":["a"],"type":"object"}`},
		{"local refs inlined, cycles cut", `{"type":"object","properties":{"n":{"$ref":"#/$defs/Node"}},"$defs":{"Node":{"type":"object","properties":{"next":{"$ref":"#/$defs/Node"},"v":{"type":"string"}}}}}`,
			`{"properties":{"n":{"properties":{"next":{"description":"See: Node","type":"object"},"v":{"type":"string"}},"type":"object"}},"type":"object"}`},
		{"constraints become hints", `{"type":"object","properties":{"n":{"type":"integer","minimum":1,"exclusiveMaximum":10,"default":3,"examples":[2]}}}`,
			`{"properties":{"n":{"description":"(minimum: 1; exclusiveMaximum: 10)","type":"integer"}},"type":"object"}`},
		{"schema keywords as property names survive", `{"type":"object","properties":{"format":{"type":"string"},"x-header":{"type":"string","x-mcp":1}},"required":["format","x-header","gone"]}`,
			`{"properties":{"format":{"type":"string"},"x-header":{"type":"string"}},"required":["format","x-header"],"type":"object"}`},
		{"non-string enums become a hint", `{"type":"object","properties":{"n":{"type":"integer","enum":[1,2]}}}`,
			`{"properties":{"n":{"description":"(Allowed values: [\"1\",\"2\"])","type":"integer"}},"type":"object"}`},
		{"malformed MCP properties repaired", `{"type":"object","properties":{"a":{"required":true,"type":"string"},"b":{"c":{"type":"string"}}}}`,
			`{"properties":{"a":{"type":"string"},"b":{"properties":{"c":{"type":"string"}},"type":"object"}},"required":["a"],"type":"object"}`},
		{"array without items", `{"type":"object","properties":{"l":{"type":"array","prefixItems":[{"type":"number"}]}}}`,
			`{"properties":{"l":{"items":{"type":"number"},"type":"array"}},"type":"object"}`},
		{"propertyNames and friends dropped", `{"type":"object","propertyNames":{"pattern":"x"},"patternProperties":{},"unevaluatedProperties":false,"deprecated":true,"title":"T","properties":{}}`,
			`{"properties":{},"type":"object"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CleanSchema(json.RawMessage(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	if _, err := CleanSchema(json.RawMessage(`{`)); err == nil {
		t.Error("bad JSON accepted")
	}
}

func TestNames(t *testing.T) {
	n := NewNames()
	long := "mcp__server__" + strings.Repeat("very_long_tool_name_", 4)
	cases := map[string]string{"Bash": "Bash", "a/b c": "a_b_c", "1st": "_1st", "mcp:x.y-z": "mcp:x.y-z"}
	for in, want := range cases {
		if got := n.Upstream(in); got != want || n.Client(got) != in {
			t.Errorf("%q -> %q (back %q), want %q", in, got, n.Client(got), want)
		}
	}
	l := n.Upstream(long)
	if len(l) > 64 || n.Client(l) != long {
		t.Errorf("long name -> %q", l)
	}
	// Two client names that sanitise alike stay apart.
	a, b := n.Upstream("x/y"), n.Upstream("x y")
	if a == b || n.Client(a) != "x/y" || n.Client(b) != "x y" {
		t.Errorf("collision: %q %q", a, b)
	}
	if SanitizeID("toolu_vrtx.01/x") != "toolu_vrtx_01_x" || SanitizeID("call_ok-1") != "call_ok-1" {
		t.Error("SanitizeID")
	}
}

func text(s string) Part { return Part{Text: s} }
func call(id, name string) Part {
	return Part{FunctionCall: &FunctionCall{ID: id, Name: name, Args: json.RawMessage(`{}`)}}
}
func result(id string) Part {
	return Part{FunctionResponse: &FunctionResponse{ID: id, Response: json.RawMessage(`{"result":"ok"}`)}}
}

// TestFixTurns covers pitfalls 6 and 15.
func TestFixTurns(t *testing.T) {
	in := []Content{
		{Role: "user", Parts: []Part{text("a"), text(" ")}},
		{Role: "user", Parts: []Part{text("b")}},
		{Role: "model", Parts: []Part{call("1", "f"), text("t"), call("2", "g")}},
		{Role: "user", Parts: []Part{text("note"), result("2"), result("9")}},
		{Role: "user", Parts: []Part{result("1")}},
		{Role: "model", Parts: []Part{call("3", "h")}},
	}
	got := FixTurns(in, Claude)
	b, _ := json.Marshal(got)
	want := `[{"role":"user","parts":[{"text":"a"},{"text":"b"}]},` +
		`{"role":"model","parts":[{"text":"t"},{"functionCall":{"id":"1","name":"f","args":{}}},{"functionCall":{"id":"2","name":"g","args":{}}}]},` +
		`{"role":"user","parts":[{"functionResponse":{"id":"1","name":"f","response":{"result":"ok"}}},{"functionResponse":{"id":"2","name":"g","response":{"result":"ok"}}},{"text":"note"}]},` +
		`{"role":"model","parts":[{"functionCall":{"id":"3","name":"h","args":{}}}]},` +
		`{"role":"user","parts":[{"functionResponse":{"id":"3","name":"h","response":{"error":"Tool execution interrupted: no result was provided."}}}]}]`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	// Gemini targets never start with a model turn; Claude keeps it.
	lead := []Content{{Role: "model", Parts: []Part{text("x")}}, {Role: "user", Parts: []Part{text("y")}}}
	if g := FixTurns(lead, Gemini); g[0].Role != "user" || len(g) != 3 {
		t.Errorf("gemini: %+v", g)
	}
	if g := FixTurns(lead, Claude); g[0].Role != "model" {
		t.Errorf("claude: %+v", g)
	}
	open, signed := OpenToolLoop(got[:3])
	if !open || signed {
		t.Errorf("OpenToolLoop = %v %v", open, signed)
	}
}

func TestArgsObject(t *testing.T) {
	for in, want := range map[string]string{
		``: `{}`, `null`: `{}`, `{"b":1,"a":12345678901234567890}`: `{"a":12345678901234567890,"b":1}`,
		`"{\"x\":1}"`: `{"x":1}`, `"plain"`: `{"params":"plain"}`, `[1]`: `{"params":[1]}`, `not json`: `{"params":"not json"}`,
	} {
		if got := string(ArgsObject(json.RawMessage(in))); got != want {
			t.Errorf("%s -> %s, want %s", in, got, want)
		}
	}
}

func TestAliases(t *testing.T) {
	a, err := NewAliases(DefaultAliases())
	if err != nil {
		t.Fatal(err)
	}
	pool := map[string]bool{"claude-opus-4-6-thinking": true, "claude-sonnet-4-6": true, "claude-sonnet-4-6-thinking": true, "gemini-3-flash": true, "gemini-3-pro-high": true}
	known := func(id string) bool { return pool[id] }
	for in, want := range map[string]string{
		"claude-opus-4-8": "claude-opus-4-6-thinking", "claude-opus-4-6-20260201": "claude-opus-4-6-thinking", "opus": "claude-opus-4-6-thinking",
		"claude-sonnet-4-5-20250929": "claude-sonnet-4-6", "claude-sonnet-4-5-thinking": "claude-sonnet-4-6-thinking", "claude-haiku-4-5-20251001": "claude-sonnet-4-6",
		"Claude-3-5-Sonnet-20241022": "claude-sonnet-4-6", "gpt-4o-mini": "gemini-3-flash", "o3": "gemini-3-pro-high", "gemini-3-flash": "gemini-3-flash",
		"models/gemini-3-pro-high": "gemini-3-pro-high",
	} {
		if got, ok := a.Resolve(in, known); !ok || got != want {
			t.Errorf("%s -> %s %v, want %s", in, got, ok, want)
		}
	}
	if _, ok := a.Resolve("llama-3", known); ok {
		t.Error("an unknown model resolved")
	}
	if got, ok := a.Resolve("llama-3", nil); !ok || got != "llama-3" {
		t.Error("with no pool list, names pass through")
	}
	own, _ := NewAliases(map[string]string{"fast": "gemini-3-flash", "claude-*": "claude-sonnet-4-6"})
	if got, _ := own.Resolve("claude-opus-4-8", known); got != "claude-sonnet-4-6" {
		t.Errorf("user table: %s", got)
	}
	for _, bad := range []map[string]string{{"": "x"}, {"a": ""}, {"a*b": "x"}} {
		if _, err := NewAliases(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestThinking(t *testing.T) {
	for _, tt := range []struct {
		model             string
		budget, max       int
		wantBudget, wantM int
	}{
		{"claude-opus-4-6-thinking", 24576, 64000, 24576, 64000},
		{"claude-opus-4-6-thinking", 24576, 8000, 6976, 8000},
		{"claude-opus-4-6-thinking", 4096, 200000, 4096, 64000},
		{"claude-opus-4-6-thinking", 4096, 0, 4096, 0},
		{"claude-opus-4-6-thinking", 500, 0, 0, 0},
		{"gemini-3-flash", 0, 100, 0, 100},
	} {
		cfg, m := Thinking(tt.model, tt.budget, tt.max)
		got := 0
		if cfg != nil {
			got = cfg.ThinkingBudget
		}
		if got != tt.wantBudget || m != tt.wantM {
			t.Errorf("%+v: budget %d max %d", tt, got, m)
		}
	}
}

func TestUsage(t *testing.T) {
	u := Usage{PromptTokenCount: 100, CachedContentTokenCount: 30, CandidatesTokenCount: 10, ThoughtsTokenCount: 5, TotalTokenCount: 115}
	if u.Input() != 70 || u.Output() != 15 || u.Total() != 115 {
		t.Errorf("usage %d %d %d", u.Input(), u.Output(), u.Total())
	}
	for _, tt := range []struct {
		reason string
		calls  bool
		want   StopKind
	}{{"STOP", true, StopTools}, {"OTHER", true, StopTools}, {"MAX_TOKENS", false, StopMaxTokens}, {"SAFETY", false, StopFilter}, {"", false, StopEnd}, {"OTHER", false, StopEnd}} {
		if got := Stop(tt.reason, tt.calls); got != tt.want {
			t.Errorf("Stop(%s,%v) = %v", tt.reason, tt.calls, got)
		}
	}
}

// TestSignCalls covers pitfalls 1 and 3: Gemini gets the sentinel on
// each model turn's first call and no other signature; Claude keeps
// signatures on thoughts only.
func TestSignCalls(t *testing.T) {
	mk := func() []Content {
		return []Content{
			{Role: "user", Parts: []Part{text("q")}},
			{Role: "model", Parts: []Part{{Text: "t", Thought: true, ThoughtSignature: "S1"}, {Text: "x", ThoughtSignature: "S2"}, call("1", "f"), call("2", "g")}},
			{Role: "user", Parts: []Part{result("1"), result("2")}},
			{Role: "model", Parts: []Part{{FunctionCall: &FunctionCall{ID: "3", Name: "h"}, ThoughtSignature: "foreign"}}},
			{Role: "user", Parts: []Part{result("3")}},
		}
	}
	g := FixTurns(mk(), Gemini)
	m1, m2 := g[1].Parts, g[3].Parts
	if len(m1) != 3 || m1[0].ThoughtSignature != "" || m1[1].ThoughtSignature != SkipSignature || m1[2].ThoughtSignature != "" || m2[0].ThoughtSignature != SkipSignature {
		t.Errorf("gemini: %+v %+v", m1, m2)
	}
	c := FixTurns(mk(), Claude)
	m1, m2 = c[1].Parts, c[3].Parts
	if !m1[0].Thought || m1[0].ThoughtSignature != "S1" || m1[1].ThoughtSignature != "" || m2[0].ThoughtSignature != "" {
		t.Errorf("claude: %+v %+v", m1, m2)
	}
	o := FixTurns(mk(), Other)
	if p := o[1].Parts; p[0].Thought || p[1].ThoughtSignature != "" {
		t.Errorf("other: %+v", p)
	}
}

// FuzzSanitizeName checks SanitizeName's fast path for valid names
// against the character-by-character rewrite it skips.
func FuzzSanitizeName(f *testing.F) {
	for _, s := range []string{"Bash", "a/b c", "1st", "mcp:x.y-z", "", "_", "é", strings.Repeat("a", 64), strings.Repeat("a", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if validName(name) {
			var b strings.Builder
			for _, r := range name {
				if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == ':' || r == '-') {
					t.Fatalf("%q: valid with %q in it", name, r)
				}
				b.WriteRune(r)
			}
			if s := b.String(); s != name || len(s) > maxNameLen || !(s[0] == '_' || s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
				t.Fatalf("%q: taken as valid", name)
			}
		}
	})
}
