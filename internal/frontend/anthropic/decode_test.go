package anthropic

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/quotatui/quotatui/internal/frontend"
)

// parseStd is Parse with encoding/json alone, as it was before
// decodeRequest: the reference the fast path must match.
func parseStd(body []byte) (*Request, error) {
	var r Request
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, bad("request body is not a Messages request: %v", err)
	}
	if r.Model == "" {
		return nil, bad("model: field required")
	}
	if len(r.Messages) == 0 {
		return nil, bad("messages: at least one message is required")
	}
	return &r, nil
}

// blocksStd is blocks with encoding/json alone.
func blocksStd(raw json.RawMessage) ([]Block, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return []Block{{Type: "text", Text: s}}, nil
	}
	var bs []Block
	if err := json.Unmarshal(raw, &bs); err != nil {
		return nil, err
	}
	return bs, nil
}

var requestCorpus = []string{
	`{"model":"claude-opus-4-8","max_tokens":1024,"messages":[{"role":"user","content":"how long does this take?"}]}`,
	`{"model":"m","max_tokens":100,"stream":true,"temperature":0.7,"top_p":1,"top_k":40,"stop_sequences":["\n\nHuman:"],
	  "system":[{"type":"text","text":"x-anthropic-billing-header: cc","cache_control":{"type":"ephemeral"}},{"type":"text","text":"You are Claude Code.\n"}],
	  "thinking":{"type":"enabled","budget_tokens":4096},"output_config":{"effort":"high"},"metadata":{"user_id":"{\"session_id\":\"abc\"}"},
	  "tool_choice":{"type":"tool","name":"Bash"},"context_management":{"edits":[]},
	  "tools":[{"name":"Bash","description":"Run \"cmd\"","input_schema":{"type":"object","properties":{"command":{"type":"string"}}},"defer_loading":true},{"type":"web_search_20250305","name":"web_search"}],
	  "messages":[{"role":"user","content":[{"type":"text","text":"<system-reminder>r</system-reminder>"},{"type":"text","text":"list files é \u00e9 \ud83d\ude00","cache_control":{"type":"ephemeral"}}]},
	   {"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"c2lnbmF0dXJlc2lnbmF0dXJl"},{"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"ls"}}]},
	   {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"a.go"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}},{"type":"tool_reference","tool_name":"Grep"}],"is_error":false}]}]}`,
	`{"model":"m","messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"https://x/y.png"}},{"type":"document","source":{"type":"text","data":"doc"}}]}]}`,
	`{"model":"m","messages":[]}`, `{"messages":[{"role":"user","content":"x"}]}`, `{}`,
	// Unusual: left to encoding/json.
	`{"Model":"m","messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","model":"n","messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","temperature":null,"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","max_tokens":1024.0,"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","max_tokens":"1024","messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","temperature":1e999,"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","stream":"yes","messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","messages":[{"role":"user","content":null}]}`,
	`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":null}]}]}`,
	`{"model":"m","messages":[{"role":"user","content":[{"type":"text","TEXT":"x"}]}]}`,
	`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a","text":"b"}]}]}`,
	`{"model":"m","messages":{"role":"user"}}`, `[]`, `"x"`, `null`, ``, `{`, `{"model":"m",}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}]} trailing`,
	"{\"model\":\"bad utf8 \xff\",\"messages\":[{\"role\":\"user\",\"content\":\"\xfe\"}]}",
	`{"model":"m","messages":[{"role":"user","content":"lone \ud800 surrogate"}],"system":"sys \u2028"}`,
	`{"model":"m","top_k":-0,"max_tokens":-5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"plain"}]}]}`,
}

func compareRequest(t *testing.T, body []byte) {
	t.Helper()
	got, err := Parse(body)
	want, wantErr := parseStd(body)
	if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
		t.Fatalf("%q: error %v, encoding/json's %v", body, err, wantErr)
	}
	if err != nil {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got  %+v\n want %+v", body, got, want)
	}
	for i, m := range got.Messages {
		compareBlocks(t, m.Content, i)
	}
	compareBlocks(t, got.System, -1)
}

func compareBlocks(t *testing.T, raw json.RawMessage, i int) {
	t.Helper()
	got, err := blocks(raw)
	want, wantErr := blocksStd(raw)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("content %d %q: error %v, encoding/json's %v", i, raw, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("content %d %q:\n got  %+v\n want %+v", i, raw, got, want)
	}
	for _, b := range got {
		if b.Type == "tool_result" && len(b.Content) > 0 && b.Content[0] == '[' {
			compareBlocks(t, b.Content, i)
		}
	}
}

// TestDecodeMatchesEncodingJSON checks Parse and blocks against
// encoding/json: the same request, the same blocks, the same errors.
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	turn, err := os.ReadFile("testdata/claude_code_turn3.json")
	if err != nil {
		t.Fatal(err)
	}
	compareRequest(t, turn)
	if _, ok := frontend.DecodeFast(turn, readRequest); !ok {
		t.Error("a Claude Code turn was left to encoding/json")
	}
	for _, in := range requestCorpus {
		compareRequest(t, []byte(in))
	}
	for _, in := range requestCorpus[:6] {
		if _, ok := frontend.DecodeFast([]byte(in), readRequest); !ok {
			t.Errorf("the common shape %s was left to encoding/json", in)
		}
	}
}

// FuzzParse compares Parse (and blocks of every message) with
// encoding/json on any input: the same result or the same error, never a
// panic.
func FuzzParse(f *testing.F) {
	for _, in := range requestCorpus {
		f.Add([]byte(in))
	}
	if turn, err := os.ReadFile("testdata/claude_code_turn3.json"); err == nil {
		f.Add(turn)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		compareRequest(t, body)
	})
}
