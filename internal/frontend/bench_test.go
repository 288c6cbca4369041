package frontend_test

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/frontend"
	"github.com/quotatui/quotatui/internal/frontend/anthropic"
	"github.com/quotatui/quotatui/internal/frontend/openai"
)

// The translation cost of one request per route: the request (a Claude
// Code turn with 6 tools and 6 messages for Messages, an SDK tool loop
// for Chat Completions, a Codex turn for Responses) and a four-chunk
// streamed answer with text and a tool call, as the proxy runs them
// around each upstream call.

var streamChunks = []string{
	`{"response":{"candidates":[{"content":{"role":"model","parts":[{"text":"Let me think about this.","thought":true}]}}],"usageMetadata":{"promptTokenCount":9000,"cachedContentTokenCount":8000,"totalTokenCount":9000},"modelVersion":"claude-opus-4-6-thinking","responseId":"msg_vrtx_1"},"traceId":"t"}`,
	`{"response":{"candidates":[{"content":{"role":"model","parts":[{"thought":true,"thoughtSignature":"RY2xhdWRlfGNsYXVkZS1vcHVzLTQtNi10aGlua2luZ3w2YTQyOTk3NDYxNTR8YTY4ZWVhODM4ZGEy"}]}}],"usageMetadata":{"promptTokenCount":9000,"totalTokenCount":9000}},"traceId":"t"}`,
	`{"response":{"candidates":[{"content":{"role":"model","parts":[{"text":"I'll list the files in the working directory first, then read the one you named."}]}}],"usageMetadata":{"promptTokenCount":9000,"candidatesTokenCount":20,"totalTokenCount":9020}},"traceId":"t"}`,
	`{"response":{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"id":"toolu_vrtx_01","name":"Bash","args":{"command":"ls -la","description":"List files"}}}]},"finishReason":"OTHER"}],"usageMetadata":{"promptTokenCount":9000,"candidatesTokenCount":40,"thoughtsTokenCount":12,"totalTokenCount":9052}},"traceId":"t"}`,
}

// stream parses and translates the four chunks, as the proxy does per event.
func stream(b *testing.B, chunk func(*frontend.Response), finish func() []byte) {
	for _, c := range streamChunks {
		r, err := frontend.ParseResponse([]byte(c))
		if err != nil {
			b.Fatal(err)
		}
		chunk(r)
	}
	if len(finish()) == 0 {
		b.Fatal("no output")
	}
}

func BenchmarkMessages(b *testing.B) {
	body, err := os.ReadFile("anthropic/testdata/claude_code_turn3.json")
	if err != nil {
		b.Fatal(err)
	}
	schemas := frontend.NewSchemaCache() // as the proxy runs it
	b.Run("request", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			r, err := anthropic.Parse(body)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := anthropic.Translate(r, "claude-opus-4-6-thinking", anthropic.SessionKey("", r), schemas); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stream", func(b *testing.B) {
		for b.Loop() {
			s := anthropic.NewStream("claude-opus-4-8", nil, true)
			stream(b, s.Chunk, func() []byte { s.Finish(); return s.Take() })
		}
	})
}

const chatBody = `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[
 {"role":"system","content":"You are a coding assistant."},
 {"role":"user","content":"weather in Paris and Rome?"},
 {"role":"assistant","content":null,"tool_calls":[{"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},{"id":"call_b","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
 {"role":"tool","tool_call_id":"call_a","content":"sun"},{"role":"tool","tool_call_id":"call_b","content":"rain"}],
 "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}}}]}`

func BenchmarkChat(b *testing.B) {
	body := []byte(chatBody)
	schemas := frontend.NewSchemaCache()
	b.Run("request", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			r, err := openai.ParseChat(body)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := openai.TranslateChat(r, "gemini-3-flash", openai.ChatSessionKey("", r), schemas); err != nil {
				b.Fatal(err)
			}
		}
	})
	now := time.Now()
	b.Run("stream", func(b *testing.B) {
		for b.Loop() {
			s := openai.NewChatStream("gpt-4o", nil, true, true, now)
			stream(b, s.Chunk, func() []byte { s.Finish(); return s.Take() })
		}
	})
}

const responsesBody = `{"model":"gpt-5-codex","instructions":"You are Codex.","stream":true,"prompt_cache_key":"c1",
 "tools":[{"type":"function","name":"shell","parameters":{"type":"object","properties":{"command":{"type":"array","items":{"type":"string"}}},"required":["command"]}}],
 "input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"list files"}]},
  {"type":"function_call","call_id":"call_1","name":"shell","arguments":"{\"command\":[\"ls\"]}"},
  {"type":"function_call_output","call_id":"call_1","output":"a.go\nb.go"}]}`

func BenchmarkResponses(b *testing.B) {
	body := []byte(responsesBody)
	schemas := frontend.NewSchemaCache()
	b.Run("request", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			r, err := openai.ParseResponses(body)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := openai.TranslateResponses(r, "gemini-3-flash", openai.ResponsesSessionKey("", r), schemas); err != nil {
				b.Fatal(err)
			}
		}
	})
	now := time.Now()
	b.Run("stream", func(b *testing.B) {
		for b.Loop() {
			s := openai.NewRespStream("gpt-5-codex", nil, true, now)
			stream(b, s.Chunk, func() []byte { s.Finish(); return s.Take() })
		}
	})
}

// smallAnswer is the simulator's whole answer to quotabench's question.
const smallAnswer = `{"response":{"candidates":[{"content":{"role":"model","parts":[{"text":"It takes about as long as it takes; the simulator answers at once."}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":14,"totalTokenCount":22},"modelVersion":"gemini-3-flash","responseId":"sim-0123456789abcdef"},"traceId":"t"}`

// BenchmarkSmall is the translators' whole share of one of quotabench's
// non-streaming requests per route (a one-line question, a one-line
// answer): parse and translate the request, parse the upstream answer,
// translate it and encode it, as the proxy does around the call.
func BenchmarkSmall(b *testing.B) {
	ans := []byte(smallAnswer)
	schemas := frontend.NewSchemaCache()
	now := time.Now()
	encode := func(b *testing.B, v any) {
		if _, err := json.Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("messages", func(b *testing.B) {
		body := []byte(`{"model":"gemini-3-flash","max_tokens":1024,"messages":[{"role":"user","content":"how long does this take?"}]}`)
		for b.Loop() {
			r, err := anthropic.Parse(body)
			if err != nil {
				b.Fatal(err)
			}
			tr, err := anthropic.Translate(r, "gemini-3-flash", anthropic.SessionKey("", r), schemas)
			if err != nil {
				b.Fatal(err)
			}
			g, err := frontend.ParseResponse(ans)
			if err != nil {
				b.Fatal(err)
			}
			encode(b, anthropic.TranslateResponse(g, tr.ClientModel, tr.Names))
		}
	})
	b.Run("chat", func(b *testing.B) {
		body := []byte(`{"model":"gemini-3-flash","messages":[{"role":"user","content":"how long does this take?"}]}`)
		for b.Loop() {
			r, err := openai.ParseChat(body)
			if err != nil {
				b.Fatal(err)
			}
			tr, err := openai.TranslateChat(r, "gemini-3-flash", openai.ChatSessionKey("", r), schemas)
			if err != nil {
				b.Fatal(err)
			}
			g, err := frontend.ParseResponse(ans)
			if err != nil {
				b.Fatal(err)
			}
			encode(b, openai.TranslateChatResponse(g, tr.ClientModel, tr.Names, now))
		}
	})
	b.Run("responses", func(b *testing.B) {
		body := []byte(`{"model":"gemini-3-flash","input":"how long does this take?"}`)
		for b.Loop() {
			r, err := openai.ParseResponses(body)
			if err != nil {
				b.Fatal(err)
			}
			tr, err := openai.TranslateResponses(r, "gemini-3-flash", openai.ResponsesSessionKey("", r), schemas)
			if err != nil {
				b.Fatal(err)
			}
			g, err := frontend.ParseResponse(ans)
			if err != nil {
				b.Fatal(err)
			}
			encode(b, openai.TranslateResponsesResponse(g, tr.ClientModel, tr.Names, now))
		}
	})
}
