package proxy

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/quotatui/quotatui/internal/quota"
)

// The usage tap finds the last usageMetadata of an answer or stream
// event, as Google encodes it (proto3 JSON: a zero count is left out),
// wrapped or not, and is not fooled by the name inside a string.
func TestUsageTap(t *testing.T) {
	tests := []struct {
		name   string
		events []string
		want   quota.Tokens
		ok     bool
	}{
		{"code assist answer", []string{`{"response":{"candidates":[{"content":{"parts":[{"text":"hi"}]}}],"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":3,"totalTokenCount":15}},"traceId":"t"}`},
			quota.Tokens{Prompt: 12, Candidates: 3, Total: 15}, true},
		{"gemini api answer, thoughts and cache", []string{`{"candidates":[],"usageMetadata":{"promptTokenCount":2000,"cachedContentTokenCount":1600,"candidatesTokenCount":40,"thoughtsTokenCount":120,"totalTokenCount":2160}}`},
			quota.Tokens{Prompt: 2000, Cached: 1600, Candidates: 40, Thoughts: 120, Total: 2160}, true},
		{"stream: the last event's counts are final", []string{
			`{"response":{"candidates":[{"content":{"parts":[{"text":"a"}]}}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":1,"totalTokenCount":6}}}`,
			`{"response":{"candidates":[{"content":{"parts":[{"text":"b"}]}}]}}`,
			`{"response":{"candidates":[{"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":9,"totalTokenCount":14}}}`},
			quota.Tokens{Prompt: 5, Candidates: 9, Total: 14}, true},
		{"the name inside a string", []string{`{"response":{"candidates":[{"content":{"parts":[{"text":"say \"usageMetadata\":{\"promptTokenCount\":99}"}]}}]}}`},
			quota.Tokens{}, false},
		{"every count zero: an empty object", []string{`{"response":{"usageMetadata":{}}}`}, quota.Tokens{}, true},
		{"no usage at all", []string{`{"response":{"candidates":[]}}`}, quota.Tokens{}, false},
		{"a negative count is not believed", []string{`{"usageMetadata":{"promptTokenCount":-4}}`}, quota.Tokens{}, false},
		{"cut short", []string{`{"usageMetadata":{"promptTokenCount":4`}, quota.Tokens{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var u usageTap
			for _, e := range tt.events {
				u.see([]byte(e))
			}
			got, ok := u.tokens()
			if got != tt.want || ok != tt.ok {
				t.Errorf("tokens() = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// The ledger names a request's client by its User-Agent's first product,
// else by the API it speaks; nothing odd gets into the usage tables.
func TestClientName(t *testing.T) {
	tests := []struct{ path, ua, want string }{
		{"/v1/messages", "claude-cli/2.0.14 (external, cli)", "claude-cli"},
		{"/v1internal:generateContent", "GeminiCLI/0.9.0 (linux; x64)", "GeminiCLI"},
		{"/v1/messages", "", "anthropic"},
		{"/v1/chat/completions", "", "openai"},
		{"/v1internal:generateContent", "", "code-assist"},
		{"/v1beta/models/gemini-3-flash:generateContent", "", "gemini"},
		{"/v1/messages", "bad\x01agent", "anthropic"},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1"+tt.path, nil)
		if tt.ua != "" {
			r.Header.Set("User-Agent", tt.ua)
		}
		if got := clientName(r); got != tt.want {
			t.Errorf("clientName(%s, %q) = %q, want %q", tt.path, tt.ua, got, tt.want)
		}
	}
}

// parseUsageByDecoding is what parseUsage must agree with: the object
// decoded by encoding/json, a negative count not believed.
func parseUsageByDecoding(span []byte) (quota.Tokens, bool) {
	var m struct {
		Prompt     int64 `json:"promptTokenCount"`
		Candidates int64 `json:"candidatesTokenCount"`
		Thoughts   int64 `json:"thoughtsTokenCount"`
		Cached     int64 `json:"cachedContentTokenCount"`
		Total      int64 `json:"totalTokenCount"`
	}
	if json.Unmarshal(span, &m) != nil || m.Prompt < 0 || m.Candidates < 0 || m.Thoughts < 0 || m.Cached < 0 || m.Total < 0 {
		return quota.Tokens{}, false
	}
	return quota.Tokens{Prompt: m.Prompt, Candidates: m.Candidates, Thoughts: m.Thoughts, Cached: m.Cached, Total: m.Total}, true
}

var usageSeeds = []string{
	`{"promptTokenCount":12,"candidatesTokenCount":3,"totalTokenCount":15}`,
	`{}`, `{"promptTokenCount":null}`, `{"promptTokenCount":5,"promptTokenCount":null}`, `{"promptTokenCount":5,"PROMPTTOKENCOUNT":7}`,
	`{"prompt\u0054okenCount":9}`, `{"promptTokenCount":1.5}`, `{"promptTokenCount":1e3}`, `{"promptTokenCount":"12"}`,
	`{"promptTokenCount":-0}`, `{"promptTokenCount":-4}`, `{"promptTokenCount":9223372036854775807}`, `{"promptTokenCount":9223372036854775808}`,
	`{"promptTokenCount":123456789012345678}`, `{"promptTokenCount":1234567890123456789}`, `{"promptTokenCount":007}`, `{"promptTokenCount":+5}`,
	`{"promptTokenCount":4`, `{"other":{"promptTokenCount":3},"totalTokenCount":2}`, `{"thoughtsTokenCount":120,"cachedContentTokenCount":1600, "x":[1,2]}`,
	` { "totalTokenCount" : 14 } `, `{"totalTokenCount":[]}`, `{"promptTokenCount":1,"candidatesTokenCount":2,"thoughtsTokenCount":3,"cachedContentTokenCount":4,"totalTokenCount":5,"a":1,"b":2,"c":3,"d":4}`,
	`{"ſ":1}`, `{"promptTokenCount":true}`,
}

// TestParseUsageAsDecoding checks parseUsage against encoding/json on the
// shapes where reading in place could differ.
func TestParseUsageAsDecoding(t *testing.T) {
	for _, s := range usageSeeds {
		got, ok := parseUsage([]byte(s))
		want, wantOK := parseUsageByDecoding([]byte(s))
		if got != want || ok != wantOK {
			t.Errorf("%s: got %+v, %v; decoding gives %+v, %v", s, got, ok, want, wantOK)
		}
	}
}

func FuzzParseUsage(f *testing.F) {
	for _, s := range usageSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := parseUsage(b)
		want, wantOK := parseUsageByDecoding(b)
		if got != want || ok != wantOK {
			t.Errorf("%q: got %+v, %v; decoding gives %+v, %v", b, got, ok, want, wantOK)
		}
	})
}
