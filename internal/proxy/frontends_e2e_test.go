package proxy_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// post sends a JSON body to the proxy and returns the answer.
func (e *e2e) post(path, body string, hdr map[string]string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.st.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestFrontendSmoke(t *testing.T) {
	e := startE2E(t, true)
	for _, tc := range []struct{ path, body string }{
		{"/v1/messages", `{"model":"claude-sonnet-4-6","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`},
		{"/v1/messages", `{"model":"claude-opus-4-6","max_tokens":2000,"stream":true,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"hi"}]}`},
		{"/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`},
		{"/v1/chat/completions", `{"model":"gemini-3-flash","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`},
		{"/v1/responses", `{"model":"gemini-3-flash","input":"hi"}`},
		{"/v1/responses", `{"model":"gemini-3-flash","input":"hi","stream":true}`},
		{"/v1/messages/count_tokens", `{"model":"claude-sonnet-4-6","messages":[{"role":"user","content":"hello there"}]}`},
		{"/v1/messages", `{"model":"nope-1","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`},
	} {
		resp, body := e.post(tc.path, tc.body, nil)
		t.Logf("%s %d %s\n%s", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}
