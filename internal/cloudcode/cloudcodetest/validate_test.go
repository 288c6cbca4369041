package cloudcodetest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// wrap builds an envelope around a request body given as JSON.
func wrap(project, model, request string) []byte {
	return []byte(`{"project":"` + project + `","model":"` + model + `","userAgent":"antigravity","requestType":"agent","requestId":"agent/1/x","request":` + request + `}`)
}

// TestStrictRequests: the simulator refuses what Google refuses, with
// Google's wording, and charges no quota for it.
func TestStrictRequests(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "strict@example.com", TierID: "g1-pro-tier"})
	const user = `{"role":"user","parts":[{"text":"hi"}]}`
	call := `{"role":"model","parts":[{"functionCall":{"id":"toolu_1","name":"f","args":{}}}]}`
	resp := `{"role":"user","parts":[{"functionResponse":{"id":"toolu_1","name":"f","response":{"result":"ok"}}}]}`
	tests := []struct {
		name, model, request, body, want string
	}{
		{name: "unknown top-level field", model: "gemini-3-flash", body: `{"project":"P","model":"gemini-3-flash","request":{"contents":[` + user + `]},"metadata":{}}`,
			want: `Unknown name "metadata": Cannot find field`},
		{name: "unknown request field", model: "gemini-3-flash", request: `{"contents":[` + user + `],"stream_options":{}}`,
			want: `Unknown name "stream_options" at 'request': Cannot find field`},
		{name: "cache_control on a part", model: "claude-sonnet-4-6", request: `{"contents":[{"role":"user","parts":[{"text":"hi","cache_control":{"type":"ephemeral"}}]}]}`,
			want: `Unknown name "cache_control" at 'request.contents[0].parts[0]'`},
		{name: "schema $schema", model: "gemini-3-flash", request: `{"contents":[` + user + `],"tools":[{"functionDeclarations":[{"name":"f","parameters":{"$schema":"x","type":"object"}}]}]}`,
			want: `Unknown name "$schema" at 'request.tools[0].function_declarations[0].parameters'`},
		{name: "schema additionalProperties deep", model: "gemini-3-flash", request: `{"contents":[` + user + `],"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"object","additionalProperties":false}}}}]}]}`,
			want: `Unknown name "additionalProperties" at 'request.tools[0].function_declarations[0].parameters.properties[0].value'`},
		{name: "schema const", model: "gemini-3-flash", request: `{"contents":[` + user + `],"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"object","properties":{"a":{"const":"x"}}}}]}]}`,
			want: `Unknown name "const"`},
		{name: "schema type array", model: "gemini-3-flash", request: `{"contents":[` + user + `],"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":["string","null"]}}]}]}`,
			want: `Invalid value at 'request.tools[0].function_declarations[0].parameters.type'`},
		{name: "no contents", model: "gemini-3-flash", request: `{"contents":[]}`, want: "contents is not specified"},
		{name: "empty parts", model: "gemini-3-flash", request: `{"contents":[{"role":"user","parts":[]}]}`, want: "contents.parts must not be empty"},
		{name: "empty text", model: "gemini-3-flash", request: `{"contents":[{"role":"user","parts":[{"text":""}]}]}`, want: "required oneof field 'data'"},
		{name: "empty text to Claude", model: "claude-sonnet-4-6", request: `{"contents":[{"role":"user","parts":[{"text":""}]}]}`, want: `text content blocks must be non-empty`},
		{name: "bad role", model: "gemini-3-flash", request: `{"contents":[{"role":"assistant","parts":[{"text":"x"}]}]}`, want: "valid role"},
		{name: "call after model turn", model: "gemini-2.5-flash", request: `{"contents":[` + user + `,{"role":"model","parts":[{"text":"a"}]},` + call + `,` + resp + `]}`,
			want: "function call turn comes immediately after a user turn"},
		{name: "response without call", model: "gemini-2.5-flash", request: `{"contents":[` + user + `,` + resp + `]}`,
			want: "function response turn comes immediately after a function call turn"},
		{name: "responses fewer than calls", model: "gemini-2.5-flash", request: `{"contents":[` + user + `,{"role":"model","parts":[{"functionCall":{"name":"f"}},{"functionCall":{"name":"g"}}]},` + resp + `]}`,
			want: "number of function response parts is equal"},
		{name: "Claude result id mismatch", model: "claude-sonnet-4-6", request: `{"contents":[` + user + `,` + call + `,{"role":"user","parts":[{"functionResponse":{"id":"toolu_2","name":"f","response":{}}}]}]}`,
			want: "unexpected `tool_use_id`"},
		{name: "Claude call without result", model: "claude-sonnet-4-6", request: `{"contents":[` + user + `,` + call + `,` + user + `]}`,
			want: "without `tool_result` blocks immediately after"},
		{name: "Claude thinking without signature", model: "claude-opus-4-6-thinking", request: `{"contents":[` + user + `,{"role":"model","parts":[{"text":"hmm","thought":true},{"text":"a"}]},` + user + `]}`,
			want: "thinking.signature: Field required"},
		{name: "Claude forged signature", model: "claude-opus-4-6-thinking", request: `{"contents":[` + user + `,{"role":"model","parts":[{"text":"hmm","thought":true,"thoughtSignature":"RZm9yZ2Vk"},{"text":"a"}]},` + user + `]}`,
			want: "Invalid `signature` in `thinking` block"},
		{name: "Claude sentinel signature", model: "claude-opus-4-6-thinking", request: `{"contents":[` + user + `,{"role":"model","parts":[{"text":"hmm","thought":true,"thoughtSignature":"skip_thought_signature_validator"}]},` + user + `]}`,
			want: "Invalid `signature` in `thinking` block"},
		{name: "Claude open tool loop without thinking", model: "claude-opus-4-6-thinking", request: `{"contents":[` + user + `,` + call + `,` + resp + `],"generationConfig":{"maxOutputTokens":4096,"thinkingConfig":{"includeThoughts":true,"thinkingBudget":2048}}}`,
			want: "Expected `thinking` or `redacted_thinking`, but found `tool_use`"},
		{name: "Claude budget not under max", model: "claude-opus-4-6-thinking", request: `{"contents":[` + user + `],"generationConfig":{"maxOutputTokens":2048,"thinkingConfig":{"includeThoughts":true,"thinkingBudget":2048}}}`,
			want: "`max_tokens` must be greater than `thinking.budget_tokens`"},
		{name: "Gemini 3 call without signature", model: "gemini-3-flash", request: `{"contents":[` + user + `,` + call + `,` + resp + `]}`,
			want: "Function call is missing a thought_signature"},
		{name: "Gemini 3 forged call signature", model: "gemini-3-flash", request: `{"contents":[` + user + `,{"role":"model","parts":[{"functionCall":{"name":"f"},"thoughtSignature":"Rbm9wZQ"}]},` + resp + `]}`,
			want: "Corrupted thought signature."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(strings.ReplaceAll(tt.body, `"P"`, `"`+acct.Project+`"`))
			if tt.body == "" {
				body = wrap(acct.Project, tt.model, tt.request)
			}
			status, out := s.raw(t, http.MethodPost, "generateContent", acct.AccessToken, body)
			var env struct {
				Error struct {
					Code    int    `json:"code"`
					Status  string `json:"status"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(out, &env); err != nil || status != http.StatusBadRequest || env.Error.Status != "INVALID_ARGUMENT" ||
				!strings.Contains(env.Error.Message, tt.want) {
				t.Fatalf("got %d %s\nwant 400 INVALID_ARGUMENT with %q", status, out, tt.want)
			}
			if strings.Contains(tt.model, "claude") && strings.Contains(tt.want, "`") {
				// Claude's errors come as Anthropic's JSON inside Google's message.
				var inner struct {
					Type  string `json:"type"`
					Error struct{ Type, Message string }
				}
				if json.Unmarshal([]byte(env.Error.Message), &inner) != nil || inner.Type != "error" || inner.Error.Type != "invalid_request_error" {
					t.Errorf("message is not Anthropic's error JSON: %s", env.Error.Message)
				}
			}
		})
	}
	for _, f := range cloudcode.Families {
		if got := s.srv.Remaining(acct.Email, f, cloudcode.Window5h); got != 1 {
			t.Errorf("refused requests drained %s to %v", f, got)
		}
	}
}

// A well-formed request in either spelling passes: proto JSON takes
// snake_case names too.
func TestStrictAcceptsSnakeCase(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "snake@example.com", TierID: "g1-pro-tier"})
	body := wrap(acct.Project, "gemini-2.5-flash", `{"contents":[{"role":"user","parts":[{"text":"hi"}]},{"role":"model","parts":[{"function_call":{"name":"f","args":{"x-y":{"$schema":1}}}}]},{"role":"user","parts":[{"function_response":{"name":"f","response":{"result":"ok"}}}]}],"system_instruction":{"parts":[{"text":"be brief"}]},"generation_config":{"max_output_tokens":100},"tools":[{"function_declarations":[{"name":"f","parameters":{"type":"OBJECT","properties":{"a":{"type":"string","format":"date"}}}}]}],"session_id":"s"}`)
	status, out := s.raw(t, http.MethodPost, "generateContent", acct.AccessToken, body)
	if status != http.StatusOK {
		t.Fatalf("got %d %s", status, out)
	}
}

// generateRaw posts a wrapped request and decodes the unwrapped answer.
func generateRaw(t *testing.T, s *sim, token string, body []byte) map[string]any {
	t.Helper()
	resp, err := s.client.Do(context.Background(), cloudcode.Request{RPC: "generateContent", Body: body, AccessToken: token})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Response map[string]any `json:"response"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Response
}

// answerParts digs the first candidate's parts out of an answer.
func answerParts(t *testing.T, r map[string]any) []map[string]any {
	t.Helper()
	cands, _ := r["candidates"].([]any)
	if len(cands) == 0 {
		t.Fatalf("no candidates in %v", r)
	}
	content := cands[0].(map[string]any)["content"].(map[string]any)
	var out []map[string]any
	for _, p := range content["parts"].([]any) {
		out = append(out, p.(map[string]any))
	}
	return out
}

// TestClaudeSignatures: a Claude thinking answer carries a signature the
// simulator accepts on replay (from any account unless bound, never for
// another model or edited text).
func TestClaudeSignatures(t *testing.T) {
	for _, bind := range []bool{false, true} {
		s := newSim(t, cloudcodetest.Options{BindClaudeSignatures: bind})
		a := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "a@example.com", TierID: "g1-pro-tier"})
		b := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "b@example.com", TierID: "g1-pro-tier"})
		const model = "claude-opus-4-6-thinking"
		think := `"generationConfig":{"maxOutputTokens":8192,"thinkingConfig":{"includeThoughts":true,"thinkingBudget":4096}}`
		ans := generateRaw(t, s, a.AccessToken, wrap(a.Project, model, `{"contents":[{"role":"user","parts":[{"text":"think"}]}],`+think+`}`))
		parts := answerParts(t, ans)
		if len(parts) < 3 || parts[0]["thought"] != true || parts[1]["thoughtSignature"] == nil || !strings.HasPrefix(ans["responseId"].(string), "msg_vrtx_") {
			t.Fatalf("answer parts = %v", parts)
		}
		thought, sig := parts[0]["text"].(string), parts[1]["thoughtSignature"].(string)
		if u := ans["usageMetadata"].(map[string]any); u["thoughtsTokenCount"] == nil || u["promptTokenCount"] == nil {
			t.Errorf("usage %v lacks thoughts or prompt", u)
		}
		replay := func(acct cloudcodetest.Account, model, text string) (int, string) {
			req := `{"contents":[{"role":"user","parts":[{"text":"think"}]},{"role":"model","parts":[{"text":` + quote(text) + `,"thought":true,"thoughtSignature":"` + sig + `"},{"text":"done"}]},{"role":"user","parts":[{"text":"again"}]}],` + think + `}`
			status, out := s.raw(t, http.MethodPost, "generateContent", acct.AccessToken, wrap(acct.Project, model, req))
			return status, string(out)
		}
		if st, out := replay(a, model, thought); st != http.StatusOK {
			t.Errorf("bind=%v: replay on the issuing account: %d %s", bind, st, out)
		}
		st, out := replay(b, model, thought)
		if bind == (st == http.StatusOK) {
			t.Errorf("bind=%v: replay on another account: %d %s", bind, st, out)
		}
		if st, out := replay(a, "claude-sonnet-4-6-thinking", thought); st != http.StatusBadRequest || !strings.Contains(out, "Invalid `signature`") {
			t.Errorf("bind=%v: replay to another model: %d %s", bind, st, out)
		}
		if st, out := replay(a, model, thought+" (edited)"); st != http.StatusBadRequest || !strings.Contains(out, "Invalid `signature`") {
			t.Errorf("bind=%v: replay of edited thinking: %d %s", bind, st, out)
		}
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestGeminiCallSignatures: Gemini 3 signs its first call; the signature
// or the sentinel replays on that account, not on another.
func TestGeminiCallSignatures(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	a := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "a@example.com", TierID: "g1-pro-tier"})
	b := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "b@example.com", TierID: "g1-pro-tier"})
	tools := `"tools":[{"functionDeclarations":[{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city","days"]}}]}]`
	ans := generateRaw(t, s, a.AccessToken, wrap(a.Project, "gemini-3-flash", `{"contents":[{"role":"user","parts":[{"text":"weather?"}]}],`+tools+`}`))
	parts := answerParts(t, ans)
	fc, _ := parts[0]["functionCall"].(map[string]any)
	sig, _ := parts[0]["thoughtSignature"].(string)
	if fc == nil || fc["name"] != "get_weather" || sig == "" || fc["id"] != nil {
		t.Fatalf("parts = %v, want a signed call without id", parts)
	}
	if args, _ := json.Marshal(fc["args"]); string(args) != `{"city":"sim","days":1}` {
		t.Errorf("args = %s", args)
	}
	turn := func(signature string) string {
		return `{"contents":[{"role":"user","parts":[{"text":"weather?"}]},{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"sim","days":1}},"thoughtSignature":"` + signature + `"}]},{"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"result":"sunny"}}}]}],` + tools + `}`
	}
	for _, tc := range []struct {
		acct cloudcodetest.Account
		sig  string
		want int
	}{{a, sig, 200}, {b, sig, 400}, {b, "skip_thought_signature_validator", 200}} {
		if st, out := s.raw(t, http.MethodPost, "generateContent", tc.acct.AccessToken, wrap(tc.acct.Project, "gemini-3-flash", turn(tc.sig))); st != tc.want {
			t.Errorf("%s with %.12s: %d %s", tc.acct.Email, tc.sig, st, out)
		}
	}
}

// TestImplicitCache: a session's second request on one account reports
// the shared prefix as cached, once it is long enough.
func TestImplicitCache(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	a := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "a@example.com", TierID: "g1-pro-tier"})
	long := strings.Repeat("context ", 800) // ~1600 tokens
	first := `{"contents":[{"role":"user","parts":[{"text":"` + long + `"}]}],"sessionId":"s1"}`
	u := generateRaw(t, s, a.AccessToken, wrap(a.Project, "gemini-3-flash", first))["usageMetadata"].(map[string]any)
	if u["cachedContentTokenCount"] != nil {
		t.Errorf("first request reports cache: %v", u)
	}
	second := `{"contents":[{"role":"user","parts":[{"text":"` + long + `"}]},{"role":"model","parts":[{"text":"ok"}]},{"role":"user","parts":[{"text":"more"}]}],"sessionId":"s1"}`
	u = generateRaw(t, s, a.AccessToken, wrap(a.Project, "gemini-3-flash", second))["usageMetadata"].(map[string]any)
	cached, _ := u["cachedContentTokenCount"].(float64)
	prompt, _ := u["promptTokenCount"].(float64)
	if cached < 1024 || cached >= prompt {
		t.Errorf("second request usage %v: want the first turn cached", u)
	}
}

// TestToolChoiceByName: the simulated model calls the tool the user
// names (Claude Code declares dozens; the first is its subagent tool) and
// takes a string argument from "name: value" in the text.
func TestToolChoiceByName(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	a := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "a@example.com", TierID: "g1-pro-tier"})
	req := `{"contents":[{"role":"user","parts":[{"text":"<system-reminder>Agent, Bash and Read are available</system-reminder>"},{"text":"Run the Bash tool once with the command: echo hi"}]}],` +
		`"tools":[{"functionDeclarations":[{"name":"Agent","parameters":{"type":"object","properties":{"prompt":{"type":"string"}},"required":["prompt"]}},` +
		`{"name":"Bash","parameters":{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}}]}]}`
	parts := answerParts(t, generateRaw(t, s, a.AccessToken, wrap(a.Project, "claude-sonnet-4-6", req)))
	fc := parts[0]["functionCall"].(map[string]any)
	if fc["name"] != "Bash" || fc["args"].(map[string]any)["command"] != "echo hi" {
		t.Errorf("call %v", fc)
	}
}

// TestJSONAnswer: with responseMimeType application/json the simulated
// model answers JSON in the schema's shape (Gemini CLI's router asks so).
func TestJSONAnswer(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	a := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "a@example.com", TierID: "g1-pro-tier"})
	req := `{"contents":[{"role":"user","parts":[{"text":"route"}]}],"generationConfig":{"responseMimeType":"application/json","responseJsonSchema":{"type":"object","properties":{"model_choice":{"type":"string","enum":["flash","pro"]},"reasoning":{"type":"string"}},"required":["reasoning","model_choice"]}}}`
	parts := answerParts(t, generateRaw(t, s, a.AccessToken, wrap(a.Project, "gemini-3-flash", req)))
	if got := parts[0]["text"]; got != `{"model_choice":"flash","reasoning":"sim"}` {
		t.Errorf("answer %v", got)
	}
}
