package openai

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/quotatui/quotatui/internal/frontend"
)

// chatStd and responsesStd are the parsers with encoding/json alone, as
// they were before the decoders: the references the fast paths must
// match (their checks after decoding are the same code's).
func chatStd(body []byte) (*ChatRequest, error) {
	var r ChatRequest
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, bad("request body is not a Chat Completions request: %v", err)
	}
	return &r, nil
}

func responsesStd(body []byte) (*ResponsesRequest, error) {
	var r ResponsesRequest
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, bad("request body is not a Responses request: %v", err)
	}
	return &r, nil
}

var openaiCorpus = []string{
	`{"model":"gpt-4o","messages":[{"role":"user","content":"how long does this take?"}]}`,
	`{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"max_tokens":10,"max_completion_tokens":20,"temperature":0.2,"top_p":0.9,"top_k":3,
	  "stop":["x"],"reasoning_effort":"low","user":"u","parallel_tool_calls":true,"tool_choice":{"type":"function","function":{"name":"get_weather"}},
	  "response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{"type":"object"}}},
	  "messages":[{"role":"system","content":"You are a coding assistant."},{"role":"user","content":[{"type":"text","text":"weather in Paris\n\"and\" Rome?"}]},
	   {"role":"assistant","content":null,"tool_calls":[{"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
	   {"role":"tool","tool_call_id":"call_a","content":"sun"}],
	  "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}`,
	`{"model":"gpt-5-codex","instructions":"You are Codex.","stream":true,"prompt_cache_key":"c1","max_output_tokens":100,"temperature":1,"top_p":0.5,
	  "reasoning":{"effort":"high","summary":"auto"},"user":"u","tool_choice":"auto","store":false,
	  "tools":[{"type":"function","name":"shell","description":"run","parameters":{"type":"object"},"strict":false},{"type":"web_search"}],
	  "input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"list files"}]}]}`,
	`{"model":"m","input":"hi"}`, `{}`,
	// Unusual: left to encoding/json.
	`{"model":"m","temperature":null,"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","MESSAGES":[{"role":"user","content":"x"}]}`,
	`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"function":null}]}]}`,
	`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"function":{"name":"a","name":"b"}}]}]}`,
	`{"model":"m","max_tokens":1.5,"messages":[]}`, `{"model":"m","stream":1}`, `{"model":"m","reasoning":null,"input":"x"}`,
	`{"model":"m","tools":[{"type":"function","function":{"name":"f","parameters":null}}]}`,
	`[]`, `"x"`, `null`, ``, `{`, `{"model":"m"} x`,
	"{\"model\":\"\xff\",\"input\":\"\\ud800\"}",
}

// TestDecodeMatchesEncodingJSON checks ParseChat's and ParseResponses's
// decoding against encoding/json: the same request or the same error.
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, in := range openaiCorpus {
		compareOpenAI(t, []byte(in))
	}
	if _, ok := frontend.DecodeFast([]byte(openaiCorpus[1]), readChat); !ok {
		t.Error("a Chat Completions request was left to encoding/json")
	}
	if _, ok := frontend.DecodeFast([]byte(openaiCorpus[2]), readResponses); !ok {
		t.Error("a Responses request was left to encoding/json")
	}
}

func compareOpenAI(t *testing.T, body []byte) {
	t.Helper()
	compareOne(t, body, "chat", func(b []byte) (any, bool) { r, ok := frontend.DecodeFast(b, readChat); return r, ok }, func(b []byte) (any, error) { return chatStd(b) })
	compareOne(t, body, "responses", func(b []byte) (any, bool) { r, ok := frontend.DecodeFast(b, readResponses); return r, ok }, func(b []byte) (any, error) { return responsesStd(b) })
}

func compareOne(t *testing.T, body []byte, name string, fast func([]byte) (any, bool), std func([]byte) (any, error)) {
	t.Helper()
	got, ok := fast(body)
	want, err := std(body)
	if !ok {
		return // left to encoding/json: the parser's result is std's
	}
	if err != nil {
		t.Fatalf("%s %q: decoded, where encoding/json says %v", name, body, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s %q:\n got  %+v\n want %+v", name, body, got, want)
	}
}

// FuzzParse compares both decoders with encoding/json on any input.
func FuzzParse(f *testing.F) {
	for _, in := range openaiCorpus {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		compareOpenAI(t, body)
	})
}
