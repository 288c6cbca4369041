package proxy

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// TestUpstreamBodyBytes: the upstream body is the client's bytes with the
// project swapped where Gemini CLI puts it (project, cloudaicompanionProject,
// metadata.duetProject), in place: key order, unknown fields, spacing
// inside values, number spellings and escapes go on as sent. (Before, the
// body was decoded into a map and re-encoded: keys sorted, values
// compacted, "<" escaped.)
func TestUpstreamBodyBytes(t *testing.T) {
	tests := []struct {
		name, body, project string
		add                 bool
		want                string
	}{
		{"generate: project swapped in place", `{"model":"gemini-3-flash","project":"client-project","user_prompt_id":"u1","request":{"contents":[{"role":"user","parts":[{"text":"a<b & \u00e9"}]}],"generationConfig":{"temperature":1.0e0}}}`,
			"proj-1", true,
			`{"model":"gemini-3-flash","project":"proj-1","user_prompt_id":"u1","request":{"contents":[{"role":"user","parts":[{"text":"a<b & \u00e9"}]}],"generationConfig":{"temperature":1.0e0}}}`},
		{"generate without a project: added first", `{"model":"m","request":{ "contents" : [ ] }}`, "proj-2", true,
			`{"project":"proj-2","model":"m","request":{ "contents" : [ ] }}`},
		{"project as an object", `{"project":{"id":"margaret-23463","name":"margaret-23463"},"x":1}`, "proj-1", false,
			`{"project":"proj-1","x":1}`},
		{"all three places", `{"cloudaicompanionProject":"mine","metadata":{"ideType":"IDE_UNSPECIFIED","duetProject":"mine","pluginType":"GEMINI"},"mode":"HEALTH_CHECK"}`,
			"proj-3", false,
			`{"cloudaicompanionProject":"proj-3","metadata":{"ideType":"IDE_UNSPECIFIED","duetProject":"proj-3","pluginType":"GEMINI"},"mode":"HEALTH_CHECK"}`},
		{"metadata without duetProject untouched", `{"metadata":{ "pluginType" : "GEMINI" },"project":"p"}`, "proj-1", false,
			`{"metadata":{ "pluginType" : "GEMINI" },"project":"proj-1"}`},
		{"no project anywhere: the client's bytes", " {\"metadata\":{\"pluginType\":\"GEMINI\"}}\n", "proj-1", false,
			" {\"metadata\":{\"pluginType\":\"GEMINI\"}}\n"},
		{"an account without a project: removed everywhere", `{"project":"c","model":"m","cloudaicompanionProject":"c","metadata":{"duetProject":"c","a":1}}`, "", true,
			`{"model":"m","metadata":{"a":1}}`},
		{"a key written twice goes out once, the last", `{"project":"a","x":1,"x":2,"project":"b"}`, "proj-1", false,
			`{"x":2,"project":"proj-1"}`},
		{"escaped key", `{"proj\u0065ct":"c","n":-0.0}`, "proj-1", false, `{"proj\u0065ct":"proj-1","n":-0.0}`},
		{"a project that needs escaping", `{"project":"c"}`, `p"<`, false, `{"project":"p\"\u003c"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := parseEnvelope([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			got := e.withProject(tt.project, tt.add)
			if string(got) != tt.want {
				t.Errorf("upstream body\n got %s\nwant %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("upstream body is not valid JSON: %s", got)
			}
			// The same value as decoding and re-encoding gave.
			if want := referenceBody(t, tt.body, tt.project, tt.add); !sameJSON(got, want) {
				t.Errorf("upstream body %s means something else than %s", got, want)
			}
		})
	}
}

// TestUpstreamBodyThroughTheProxy: a Gemini CLI turn through the handler
// reaches the upstream byte for byte, the project swapped.
func TestUpstreamBodyThroughTheProxy(t *testing.T) {
	body := cliTurnBody(8 << 10)
	h := newHarness(t, 1, NewOptions(), func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		return jsonResponse(200, okAnswer), nil
	})
	resp, out := h.post("/v1internal:generateContent", body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	want := strings.ReplaceAll(body, `"client-project"`, `"proj-1"`)
	if got := string(h.up.Calls()[0].Body); got != want {
		t.Errorf("upstream body differs from the client's beyond the project:\n got %.300s…\nwant %.300s…", got, want)
	}
}

// TestGenerationEnvelope: the envelope the Gemini API and the translated
// routes build is the request as given, inside Google's fields.
func TestGenerationEnvelope(t *testing.T) {
	now := time.UnixMilli(1764460800123)
	e := generationEnv(`gemini-3-"flash"`, []byte(" {\"contents\":[{\"parts\":[{\"text\":\"<hi>\"}]}]}\n"), now)
	got := e.withProject("proj-1", true)
	var env map[string]json.RawMessage
	if err := json.Unmarshal(got, &env); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	for k, want := range map[string]string{"project": `"proj-1"`, "model": `"gemini-3-\"flash\""`, "userAgent": `"antigravity"`,
		"requestType": `"agent"`, "request": `{"contents":[{"parts":[{"text":"<hi>"}]}]}`} {
		if string(env[k]) != want {
			t.Errorf("%s = %s, want %s", k, env[k], want)
		}
	}
	if id := string(env["requestId"]); !strings.HasPrefix(id, `"agent/1764460800123/`) || len(id) != len(`"agent/1764460800123/`)+9 {
		t.Errorf("requestId = %s", id)
	}
	if len(env) != 6 {
		t.Errorf("envelope has %d members: %s", len(env), got)
	}
	if e.get("model") == nil || string(e.get("request")) != `{"contents":[{"parts":[{"text":"<hi>"}]}]}` {
		t.Errorf("the envelope's own index is wrong: model %s, request %s", e.get("model"), e.get("request"))
	}
	ce := requestEnv([]byte(`{"model":"models/x"}`))
	if string(ce.get("request")) != `{"model":"models/x"}` || string(ce.withProject("p", false)) != `{"request":{"model":"models/x"}}` {
		t.Errorf("requestEnv: %s", ce.raw)
	}
}

// TestEnvelopeRefusals: a body that is not one JSON object is refused
// with encoding/json's own words, as before.
func TestEnvelopeRefusals(t *testing.T) {
	for _, body := range []string{"", "  ", "null", "[1]", `"s"`, `{"a":1`, `{"a":1}{}`, `{"a":tru}`, "{\"a\":\"\x01\"}"} {
		_, err := parseEnvelope([]byte(body))
		_, want := decodeObject([]byte(body))
		if err == nil || want == nil || jsonProblem(err) != jsonProblem(want) {
			t.Errorf("parseEnvelope(%q) = %v, want %v", body, err, want)
		}
	}
}

// FuzzEnvelope: for any object, the upstream body is valid JSON with the
// same meaning as decoding and re-encoding gave.
func FuzzEnvelope(f *testing.F) {
	for _, s := range []string{`{"project":"a","metadata":{"duetProject":"b"},"cloudaicompanionProject":{"id":"c"}}`, `{"model":"m","request":{}}`,
		`{"project":1,"project":2}`, `{"metadata":[1],"x":"\u0000"}`, `{"metadata":{"duetProject":null,"duetProject":"z"}}`} {
		f.Add([]byte(s), "proj-1", true)
		f.Add([]byte(s), "", false)
	}
	f.Fuzz(func(t *testing.T, body []byte, project string, add bool) {
		e, err := parseEnvelope(body)
		if _, want := decodeObject(body); (err == nil) != (want == nil) {
			t.Fatalf("parseEnvelope(%q) = %v, decoding gives %v", body, err, want)
		}
		if err != nil {
			return
		}
		got := e.withProject(project, add)
		if !json.Valid(got) {
			t.Fatalf("upstream body is not valid JSON: %q from %q", got, body)
		}
		if want := referenceBody(t, string(body), project, add); !sameJSON(got, want) {
			t.Fatalf("upstream body %q means something else than %q (from %q)", got, want, body)
		}
	})
}

// referenceBody is how the upstream body was made before the envelope:
// decoded into a map, the projects swapped, re-encoded.
func referenceBody(t testing.TB, body, project string, add bool) []byte {
	env, err := decodeObject([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	swap := func(m map[string]json.RawMessage, key string) {
		if project == "" {
			delete(m, key)
			return
		}
		m[key], _ = json.Marshal(project)
	}
	if _, ok := env["project"]; ok || add {
		swap(env, "project")
	}
	if _, ok := env["cloudaicompanionProject"]; ok {
		swap(env, "cloudaicompanionProject")
	}
	if raw, ok := env["metadata"]; ok {
		var md map[string]json.RawMessage
		if json.Unmarshal(raw, &md) == nil && md != nil {
			if _, ok := md["duetProject"]; ok {
				swap(md, "duetProject")
				env["metadata"], _ = json.Marshal(md)
			}
		}
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameJSON(a, b []byte) bool {
	var x, y any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if da.Decode(&x) != nil || db.Decode(&y) != nil {
		return false
	}
	return reflect.DeepEqual(normalizeNumbers(x), normalizeNumbers(y))
}

// normalizeNumbers turns json.Numbers into their float64 values, so that
// 1.0e0 and 1 compare equal, as they mean the same to the upstream.
func normalizeNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return v.String()
		}
		return f
	case map[string]any:
		for k, e := range v {
			v[k] = normalizeNumbers(e)
		}
	case []any:
		for i, e := range v {
			v[i] = normalizeNumbers(e)
		}
	}
	return v
}

// TestSessionFromBodyAsDecoded: reading only the members it needs gives
// the key decoding the whole request gave.
func TestSessionFromBodyAsDecoded(t *testing.T) {
	for _, req := range sessionCorpus {
		if got, want := SessionFromBody(json.RawMessage(req), "gemini-3-flash"), referenceSession(json.RawMessage(req), "gemini-3-flash"); got != want {
			t.Errorf("SessionFromBody(%s) = %q, decoding gave %q", req, got, want)
		}
	}
}

var sessionCorpus = []string{
	`{"contents":[{"role":"user","parts":[{"text":"hello"}]}]}`,
	`{"contents":[{"role":"model","parts":[{"text":"x"}]},{"role":"user","parts":[{"text":"a"},{"inlineData":{}},{"text":"b"}]}]}`,
	`{"contents":[{"parts":[{"text":"no role"}]}]}`,
	`{"contents":[{"role":"user","parts":[{"inlineData":{"data":"AA=="}}]}]}`,
	`{"sessionId":"s-9","contents":[{"role":"user","parts":[{"text":"hello"}]}]}`,
	`{"session_id":"cli-1","contents":[]}`,
	`{"SESSIONID":"upper","session_id":"snake"}`,
	`{"sessionId":"","session_id":"snake"}`,
	`{"sessionId":null,"contents":[{"role":"user","parts":[{"text":"t"}]}]}`,
	`{"sessionId":5}`,
	`{"contents":"not a list"}`,
	`{"contents":null}`,
	`{"contents":[null,{"role":"user","parts":[{"text":"t"}]}]}`,
	`{"contents":[{"role":"user","parts":[{"text":"t"}]}],"contents":[{"role":"user","parts":[{"text":"later"}]}]}`,
	`{"contents":[{"role":null,"parts":[{"text":"t"}]}]}`,
	`{"contents":[{"role":"user","Parts":[{"TEXT":"folded"}]}]}`,
	`{"contents":[{"role":3}]}`,
	`{"contents":[{"role":"user","parts":[{"text":7}]}]}`,
	`{}`, `[]`, `null`, ``,
}

// FuzzSessionFromBody compares SessionFromBody with decoding the whole
// request, on requests that decode (a request of the wrong shape is
// refused by the upstream whatever key it gets).
func FuzzSessionFromBody(f *testing.F) {
	for _, s := range sessionCorpus {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := SessionFromBody(b, "claude-sonnet-4-6")
		if !json.Valid(b) {
			return
		}
		var whole struct {
			Contents []struct {
				Role  string            `json:"role"`
				Parts []json.RawMessage `json:"parts"`
			} `json:"contents"`
		}
		if json.Unmarshal(b, &whole) != nil {
			return // shapes that do not decode: any answer will do
		}
		if want := referenceSession(b, "claude-sonnet-4-6"); got != want {
			t.Fatalf("SessionFromBody(%s) = %q, decoding gave %q", b, got, want)
		}
	})
}

// referenceSession is SessionFromBody as it was: the whole request
// decoded into a struct.
func referenceSession(request json.RawMessage, model string) string {
	var r struct {
		SessionID      string `json:"sessionId"`
		SessionIDSnake string `json:"session_id"`
		Contents       []struct {
			Role  string `json:"role"`
			Parts []struct {
				Text string `json:"text"`
			} `json:"parts"`
		} `json:"contents"`
	}
	if len(request) == 0 || json.Unmarshal(request, &r) != nil {
		return ""
	}
	if id := cmp.Or(r.SessionID, r.SessionIDSnake); id != "" {
		return id
	}
	for _, c := range r.Contents {
		if c.Role != "" && c.Role != "user" {
			continue
		}
		h := sha256.New()
		h.Write([]byte(cloudcode.ModelFamily(model).String()))
		text := false
		for _, p := range c.Parts {
			if p.Text != "" {
				h.Write([]byte{0})
				h.Write([]byte(p.Text))
				text = true
			}
		}
		if !text {
			return ""
		}
		return "h:" + hex.EncodeToString(h.Sum(nil)[:12])
	}
	return ""
}
