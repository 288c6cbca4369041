package anthropic

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/quotatui/quotatui/internal/frontend"
)

func translate(t *testing.T, body, model string) (*Translation, frontend.Request) {
	t.Helper()
	r, err := Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := Translate(r, model, SessionKey("", r), nil)
	if err != nil {
		t.Fatal(err)
	}
	var g frontend.Request
	if err := json.Unmarshal(tr.Body, &g); err != nil {
		t.Fatal(err)
	}
	return tr, g
}

// TestClaudeCodeTurn translates a Claude Code 2.1.332 request (the
// brief's recorded shape: billing header, cache_control everywhere,
// adaptive thinking, tool search placeholder, a server tool, MCP names
// over 64 characters, mid-conversation system turns, parallel calls, a
// tool image, an interrupted call and an orphan result).
func TestClaudeCodeTurn(t *testing.T) {
	body, err := os.ReadFile("testdata/claude_code_turn3.json")
	if err != nil {
		t.Fatal(err)
	}
	tr, g := translate(t, string(body), "claude-opus-4-6-thinking")

	// Pitfall 5: nothing of the client's extras leaks.
	for _, leak := range []string{"cache_control", "defer_loading", "strict", "eager_input_streaming", "$schema", "additionalProperties",
		"x-anthropic-billing-header", "context_management", "output_config", "metadata", "web_search", "DeferredToolPlaceholder",
		"caller", "is_error", "toolu_vrtx_99", "RVALIDSIGNATUREEMPTYTEXT"} {
		if bytes.Contains(tr.Body, []byte(leak)) {
			t.Errorf("upstream body contains %q", leak)
		}
	}
	// Determinism: the same history gives the same bytes.
	_, _ = translate(t, string(body), "claude-opus-4-6-thinking")
	r2, _ := Parse(body)
	tr2, _ := Translate(r2, "claude-opus-4-6-thinking", SessionKey("", r2), frontend.NewSchemaCache())
	if !bytes.Equal(tr.Body, tr2.Body) {
		t.Error("two translations of one request differ")
	}
	if g.SessionID == "" || g.SessionID != frontend.UpstreamSessionID("cc:0b6d9c52-4d1e-4a8f-9c3e-2f1a7b6c5d4e") {
		t.Errorf("sessionId %q is not derived from metadata.user_id's session_id", g.SessionID)
	}
	if n := len(g.SystemInstruction.Parts); n != 2 || !strings.HasPrefix(g.SystemInstruction.Parts[0].Text, "You are a Claude agent") {
		t.Errorf("system parts = %+v, want identity and prompt without the billing header (and the identity untouched)", g.SystemInstruction.Parts)
	}
	decls := g.Tools[0].FunctionDeclarations
	var names []string
	for _, d := range decls {
		names = append(names, d.Name)
		if len(d.Name) > 64 {
			t.Errorf("name %q over 64 characters", d.Name)
		}
	}
	if len(decls) != 4 || names[0] != "Bash" || names[3] != "ToolSearch" || tr.Names.Client(names[2]) != "mcp__github_enterprise_server__list_pull_request_review_comments_for_repository" {
		t.Errorf("declarations %v", names)
	}
	if got := string(decls[2].Parameters); got != `{"properties":{"owner":{"description":"(pattern: \"^[a-z]+$\"; maxLength: 39)","type":"string"},"state":{"enum":["open","closed"],"type":"string"}},"required":["owner"],"type":"object"}` {
		t.Errorf("MCP schema cleaned to %s", got)
	}

	roles := ""
	for _, c := range g.Contents {
		roles += c.Role[:1]
	}
	if roles != "umumu" {
		t.Fatalf("roles %q, want alternating umumu: %s", roles, tr.Body)
	}
	m1 := g.Contents[1].Parts
	if !m1[0].Thought || m1[0].ThoughtSignature != "RVALIDSIGNATUREFROMCLAUDE0123456789" || m1[1].Text != "I'll run it." || m1[2].FunctionCall.Name != "Bash" {
		t.Errorf("first model turn = %+v, want signed thought, text, call", m1)
	}
	u2 := g.Contents[2].Parts
	if u2[0].FunctionResponse == nil || u2[0].FunctionResponse.Name != "Bash" || u2[0].FunctionResponse.ID != "toolu_vrtx_01AbCdEf" ||
		!strings.HasPrefix(u2[1].Text, "<system-reminder><total_tokens>") {
		t.Errorf("result turn = %+v, want the Bash result then the system turn as a reminder", u2)
	}
	m3 := g.Contents[3].Parts
	if len(m3) != 2 || m3[0].FunctionCall == nil {
		t.Errorf("second model turn = %+v, want the empty thinking dropped and two calls", m3)
	}
	u4 := g.Contents[4].Parts
	if len(u4) != 3 || u4[0].FunctionResponse.ID != "toolu_vrtx_02" || !strings.Contains(string(u4[0].FunctionResponse.Response), "interrupted") ||
		u4[1].FunctionResponse.ID != "toolu_vrtx_03" || len(u4[1].FunctionResponse.Parts) != 1 || u4[1].FunctionResponse.Parts[0].InlineData.MimeType != "image/png" ||
		u4[2].Text != "Also, what is in this picture?" {
		t.Errorf("last turn = %s, want results in call order (the interrupted one synthesised, the image inside), then the text, no orphan", mustJSON(u4))
	}
	// Pitfall 2: the open tool loop's call turn has no signed thinking, so
	// thinking is off for this request rather than a 400.
	if g.GenerationConfig == nil || g.GenerationConfig.ThinkingConfig != nil || g.GenerationConfig.MaxOutputTokens != 64000 || tr.Thinking {
		t.Errorf("generation config %s, want no thinking and max 64000", mustJSON(g.GenerationConfig))
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestTranslateRules covers the request-side pitfalls one case at a time.
func TestTranslateRules(t *testing.T) {
	tests := []struct {
		name  string
		model string
		body  string
		check func(t *testing.T, g frontend.Request, tr *Translation)
	}{
		{"thinking budget kept under max_tokens (pitfall 8)", "claude-opus-4-6-thinking",
			`{"model":"m","max_tokens":8000,"thinking":{"type":"enabled","budget_tokens":16000},"temperature":0.5,"messages":[{"role":"user","content":"hi"}]}`,
			func(t *testing.T, g frontend.Request, tr *Translation) {
				gc := g.GenerationConfig
				if gc.ThinkingConfig == nil || gc.ThinkingConfig.ThinkingBudget != 8000-1024 || gc.MaxOutputTokens != 8000 || gc.Temperature != nil {
					t.Errorf("config %s", mustJSON(gc))
				}
			}},
		{"budget under 1024 drops thinking", "claude-opus-4-6-thinking",
			`{"model":"m","max_tokens":1500,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"hi"}]}`,
			func(t *testing.T, g frontend.Request, tr *Translation) {
				if g.GenerationConfig.ThinkingConfig != nil {
					t.Errorf("config %s", mustJSON(g.GenerationConfig))
				}
			}},
		{"max_tokens capped at the model's limit", "claude-sonnet-4-6",
			`{"model":"m","max_tokens":128000,"messages":[{"role":"user","content":"hi"}]}`,
			func(t *testing.T, g frontend.Request, tr *Translation) {
				if g.GenerationConfig.MaxOutputTokens != 64000 {
					t.Errorf("config %s", mustJSON(g.GenerationConfig))
				}
			}},
		{"temperature 0 survives", "gemini-3-flash",
			`{"model":"m","max_tokens":10,"temperature":0,"top_k":5,"stop_sequences":["END"],"messages":[{"role":"user","content":"hi"}]}`,
			func(t *testing.T, g frontend.Request, tr *Translation) {
				if gc := g.GenerationConfig; gc.Temperature == nil || *gc.Temperature != 0 || *gc.TopK != 5 || gc.StopSequences[0] != "END" {
					t.Errorf("config %s", mustJSON(gc))
				}
			}},
		{"unsigned and foreign thinking dropped for Claude (pitfall 1)", "claude-opus-4-6-thinking",
			`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"thinking","thinking":"x"},{"type":"thinking","thinking":"y","signature":"skip_thought_signature_validator"},{"type":"redacted_thinking","data":"zz"},{"type":"text","text":"b"}]},{"role":"user","content":"c"}]}`,
			func(t *testing.T, g frontend.Request, tr *Translation) {
				if p := g.Contents[1].Parts; len(p) != 1 || p[0].Thought {
					t.Errorf("model turn %s", mustJSON(p))
				}
			}},
		{"thinking never replayed to Gemini", "gemini-3-flash",
			`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"thinking","thinking":"x","signature":"RLONGCLAUDESIGNATURE000"},{"type":"text","text":"b"}]},{"role":"user","content":"c"}]}`,
			func(t *testing.T, g frontend.Request, tr *Translation) {
				if p := g.Contents[1].Parts; len(p) != 1 || p[0].Thought {
					t.Errorf("model turn %s", mustJSON(p))
				}
			}},
		{"Gemini: leading model turn gets a user turn first (pitfall 15)", "gemini-3-flash",
			`{"model":"m","max_tokens":10,"messages":[{"role":"assistant","content":"prefill"},{"role":"user","content":"  "},{"role":"user","content":"q"}]}`,
			func(t *testing.T, g frontend.Request, tr *Translation) {
				if len(g.Contents) != 3 || g.Contents[0].Role != "user" || g.Contents[2].Parts[0].Text != "q" {
					t.Errorf("contents %s", mustJSON(g.Contents))
				}
			}},
		{"parts reordered thinking, text, calls (pitfall 2)", "claude-opus-4-6-thinking",
			`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":null},{"type":"text","text":"b"},{"type":"thinking","thinking":"x","signature":"RLONGCLAUDESIGNATURE000"}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","is_error":true}]}]}`,
			func(t *testing.T, g frontend.Request, tr *Translation) {
				p := g.Contents[1].Parts
				if !p[0].Thought || p[1].Text != "b" || p[2].FunctionCall == nil || string(p[2].FunctionCall.Args) != "{}" {
					t.Errorf("model turn %s", mustJSON(p))
				}
				if r := g.Contents[2].Parts[0].FunctionResponse; string(r.Response) != `{"error":"Tool execution failed with no output."}` || r.Name != "f" {
					t.Errorf("error result %s", mustJSON(r))
				}
			}},
		{"tool names sanitised and restored (pitfall 12)", "claude-sonnet-4-6",
			`{"model":"m","max_tokens":10,"tools":[{"name":"my/tool name","input_schema":{"type":"object"}},{"name":"9lives","input_schema":{}}],"tool_choice":{"type":"tool","name":"my/tool name"},"messages":[{"role":"user","content":"a"}]}`,
			func(t *testing.T, g frontend.Request, tr *Translation) {
				d := g.Tools[0].FunctionDeclarations
				if d[0].Name != "my_tool_name" || d[1].Name != "_9lives" || tr.Names.Client("my_tool_name") != "my/tool name" {
					t.Errorf("declarations %s", mustJSON(d))
				}
				if fc := g.ToolConfig.FunctionCallingConfig; fc.Mode != "ANY" || fc.AllowedFunctionNames[0] != "my_tool_name" {
					t.Errorf("tool config %s", mustJSON(fc))
				}
				if string(d[1].Parameters) != `{"properties":{},"type":"object"}` {
					t.Errorf("empty schema became %s", d[1].Parameters)
				}
			}},
		{"images and documents", "gemini-3-flash",
			`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"AAA"}},{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBER"}},{"type":"image","source":{"type":"url","url":"https://example.com/a.png"}},{"type":"text","text":"describe"}]}]}`,
			func(t *testing.T, g frontend.Request, tr *Translation) {
				p := g.Contents[0].Parts
				if p[0].InlineData.MimeType != "image/jpeg" || p[1].InlineData.MimeType != "application/pdf" || p[2].FileData.FileURI != "https://example.com/a.png" {
					t.Errorf("parts %s", mustJSON(p))
				}
			}},
		{"tool_reference textualised (pitfall 11)", "claude-sonnet-4-6",
			`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"ToolSearch","input":{"query":"x"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"tool_reference","tool_name":"WebFetch"}]}]}]}`,
			func(t *testing.T, g frontend.Request, tr *Translation) {
				if r := g.Contents[2].Parts[0].FunctionResponse; string(r.Response) != `{"result":"Tool available: WebFetch"}` {
					t.Errorf("result %s", r.Response)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, g := translate(t, tt.body, tt.model)
			tt.check(t, g, tr)
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, body := range []string{`{`, `{"messages":[{"role":"user","content":"a"}]}`, `{"model":"m","messages":[]}`} {
		if _, err := Parse([]byte(body)); err == nil {
			t.Errorf("%s: no error", body)
		}
	}
	r, _ := Parse([]byte(`{"model":"m","messages":[{"role":"robot","content":"a"}]}`))
	if _, err := Translate(r, "gemini-3-flash", "", nil); err == nil || !strings.Contains(err.Error(), "messages.0") {
		t.Errorf("bad role: %v", err)
	}
	r, _ = Parse([]byte(`{"model":"m","messages":[{"role":"user","content":"  "}]}`))
	if _, err := Translate(r, "gemini-3-flash", "", nil); err == nil {
		t.Error("an all-empty conversation was translated")
	}
}

// TestSessionKey follows the brief's §8.2 order.
func TestSessionKey(t *testing.T) {
	r, _ := Parse([]byte(`{"model":"m","metadata":{"user_id":"user_abc_account__session_1f2e3d4c-0000-1111-2222-333344445555"},"messages":[{"role":"user","content":"a"}]}`))
	if got := SessionKey("hdr", r); got != "cc:hdr" {
		t.Errorf("header: %q", got)
	}
	if got := SessionKey("", r); got != "cc:1f2e3d4c-0000-1111-2222-333344445555" {
		t.Errorf("legacy user_id: %q", got)
	}
	r1, _ := Parse([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"<system-reminder>x</system-reminder>"},{"type":"text","text":"first"}]}]}`))
	r2, _ := Parse([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"<system-reminder>other</system-reminder>"},{"type":"text","text":"first"}]},{"role":"assistant","content":"x"}]}`))
	if a, b := SessionKey("", r1), SessionKey("", r2); a == "" || a != b {
		t.Errorf("hash of the first non-reminder text: %q vs %q", a, b)
	}
}
