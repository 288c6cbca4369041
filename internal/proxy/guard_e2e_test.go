package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/proxy/proxytest"
)

// raw sends one request built by hand (so Host and the body's pace are the
// test's) and returns the status line's code and the body read. A POST
// sends body, or a Code Assist generation when body is empty.
func (e *e2e) raw(method, path, host, body string, hdr ...string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.st.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if method == http.MethodPost {
		if body == "" {
			body = `{"model":"gemini-3-flash","request":{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}}`
		}
		req.Body = io.NopCloser(strings.NewReader(body))
		req.ContentLength = int64(len(body))
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestBrowsersCannotDriveTheProxy (issue 11.4): a request whose Host is not
// the listen address, localhost or an allowed name (a DNS-rebinding page),
// a cross-origin browser request, and a JSON route's body sent as anything
// but application/json (a page's "simple" POST) are refused before any
// account is used; the proxy's own clients get through.
func TestBrowsersCannotDriveTheProxy(t *testing.T) {
	e := startWith(t, func(o *proxytest.Options) {
		o.Proxy.AllowedHosts = []string{"quotatui.lan"}
		o.Proxy.AllowedOrigins = []string{"https://tools.example"}
	})
	port := e.st.URL[strings.LastIndex(e.st.URL, ":")+1:]
	gen := "/v1internal:generateContent"
	json := []string{"Content-Type", "application/json"}
	// The Anthropic and OpenAI routes take the same checks (their SDKs
	// and Claude Code send application/json), refused in their own shape.
	msgs, chat := "/v1/messages", "/v1/chat/completions"
	msgsBody := `{"model":"claude-sonnet-4-6","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`
	chatBody := `{"model":"gemini-3-flash","messages":[{"role":"user","content":"hi"}]}`
	anthropicErr, openaiErr := `{"error":{"message":`, `{"error":{"code":`
	tests := []struct {
		name, method, path, host string
		hdr                      []string
		want                     int
		body, has                string // a POST's body (default: a Code Assist generation), and what the answer must hold
	}{
		{"listen address", "POST", gen, "127.0.0.1:" + port, json, 200, "", ""},
		{"localhost", "POST", gen, "localhost:" + port, json, 200, "", ""},
		{"IPv6 loopback", "POST", gen, "[::1]:" + port, json, 200, "", ""},
		{"allowed name", "POST", gen, "quotatui.lan:" + port, json, 200, "", ""},
		{"JSON with a charset", "POST", gen, "127.0.0.1:" + port, []string{"Content-Type", "application/json; charset=utf-8"}, 200, "", ""},
		{"allowed origin", "POST", gen, "127.0.0.1:" + port, append([]string{"Origin", "https://tools.example"}, json...), 200, "", ""},
		{"rebinding name", "POST", gen, "attacker.example:" + port, json, 403, "", ""},
		{"rebinding name reads the metrics", "GET", "/healthz", "attacker.example:" + port, nil, 403, "", ""},
		{"rebinding name lists the models", "GET", "/v1beta/models", "attacker.example", nil, 403, "", ""},
		{"another address", "POST", gen, "192.168.1.20:" + port, json, 403, "", ""},
		{"cross-origin page", "POST", gen, "127.0.0.1:" + port, append([]string{"Origin", "https://attacker.example"}, json...), 403, "", ""},
		{"opaque origin", "POST", gen, "127.0.0.1:" + port, append([]string{"Origin", "null"}, json...), 403, "", ""},
		{"text/plain body", "POST", gen, "127.0.0.1:" + port, []string{"Content-Type", "text/plain"}, 415, "", ""},
		{"form body", "POST", gen, "127.0.0.1:" + port, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "", ""},
		{"no content type", "POST", gen, "127.0.0.1:" + port, nil, 415, "", ""},

		{"Messages", "POST", msgs, "127.0.0.1:" + port, json, 200, msgsBody, `"type":"message"`},
		{"Messages, rebinding name", "POST", msgs, "attacker.example:" + port, json, 403, msgsBody, anthropicErr},
		{"Messages, cross-origin page", "POST", msgs, "127.0.0.1:" + port, append([]string{"Origin", "https://attacker.example"}, json...), 403, msgsBody, `"type":"permission_error"`},
		{"Messages, text/plain body", "POST", msgs, "127.0.0.1:" + port, []string{"Content-Type", "text/plain"}, 415, msgsBody, `"type":"invalid_request_error"`},
		{"Chat Completions", "POST", chat, "localhost:" + port, json, 200, chatBody, `"object":"chat.completion"`},
		{"Chat Completions, rebinding name", "POST", chat, "attacker.example:" + port, json, 403, chatBody, openaiErr},
		{"Chat Completions, cross-origin page", "POST", chat, "127.0.0.1:" + port, append([]string{"Origin", "null"}, json...), 403, chatBody, openaiErr},
		{"Chat Completions, form body", "POST", chat, "127.0.0.1:" + port, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, chatBody, openaiErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.totalCalls("generateContent")
			code, body := e.raw(tt.method, tt.path, tt.host, tt.body, tt.hdr...)
			if code != tt.want || !strings.Contains(body, tt.has) {
				t.Fatalf("status %d, want %d with %s: %s", code, tt.want, tt.has, body)
			}
			calls := e.totalCalls("generateContent") - before
			if tt.want != 200 && calls != 0 {
				t.Errorf("a refused request reached the upstream %d times", calls)
			}
		})
	}
}

// TestSlowBodies (issue 11.5): on a key-protected proxy, a client without
// the key sending its body a byte at a time gets its 401 at once; a client
// with the key whose body stalls gets 408 after the body timeout. Neither
// holds the proxy.
func TestSlowBodies(t *testing.T) {
	const key = "a-key-of-sixteen-chars"
	e := startWith(t, func(o *proxytest.Options) {
		o.Proxy.APIKey = key
		o.Proxy.BodyTimeout = 300 * time.Millisecond
	})
	addr := strings.TrimPrefix(e.st.URL, "http://")
	send := func(auth string) (string, time.Duration) {
		t.Helper()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /v1internal:generateContent HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n%s\r\n{", addr, auth)
		start := time.Now()
		_ = conn.SetReadDeadline(start.Add(10 * time.Second))
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil {
			t.Fatalf("no answer to a slow body within 10 s: %v", err)
		}
		return strings.TrimSpace(line), time.Since(start)
	}
	if line, _ := send(""); !strings.Contains(line, " 401 ") {
		t.Errorf("without the key: %q, want 401", line)
	}
	line, took := send("Authorization: Bearer " + key + "\r\n")
	if !strings.Contains(line, " 408 ") {
		t.Errorf("with the key: %q, want 408", line)
	}
	if took < 300*time.Millisecond {
		t.Errorf("408 after %s, before the body timeout", took)
	}
}

// TestBufferedBytesAreBounded (issue 11.6): the bodies buffered at once are
// bounded; a request that would go over is answered 503 with Retry-After at
// once, and the budget frees when a request ends.
func TestBufferedBytesAreBounded(t *testing.T) {
	e := startWith(t, func(o *proxytest.Options) {
		o.Proxy.BodyLimit = 1 << 20
		o.Proxy.BufferLimit = 3 << 19 // 1.5 MiB
	})
	body := func(n int) string {
		text := strings.Repeat("a", n-80)
		return `{"model":"gemini-3-flash","request":{"contents":[{"role":"user","parts":[{"text":"` + text + `"}]}]}}`
	}
	big := body(900 << 10)

	// A first request holds its budget while its body arrives.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, e.st.URL+"/v1internal:generateContent", pr)
	req.ContentLength = int64(len(big))
	req.Header.Set("Content-Type", "application/json")
	done := make(chan int, 1)
	go func() {
		resp, err := e.client.Do(req)
		if err != nil {
			done <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	if _, err := io.WriteString(pw, big[:1000]); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.st.Proxy.Stats().BufferedBytes < int64(len(big)) {
		if time.Now().After(deadline) {
			t.Fatalf("the first request holds %d bytes of budget, want %d", e.st.Proxy.Stats().BufferedBytes, len(big))
		}
		time.Sleep(time.Millisecond)
	}
	resp, got := e.send(http.MethodPost, "/v1internal:generateContent", big)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("over the budget: %d Retry-After %q: %s, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), got)
	}
	// A chunked body (no length) is counted as it arrives.
	creq, _ := http.NewRequest(http.MethodPost, e.st.URL+"/v1internal:generateContent", io.MultiReader(strings.NewReader(big)))
	creq.Header.Set("Content-Type", "application/json")
	creq.ContentLength = -1
	cresp, err := e.client.Do(creq)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, cresp.Body)
	cresp.Body.Close()
	if cresp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("chunked over the budget: %d, want 503", cresp.StatusCode)
	}

	if _, err := io.WriteString(pw, big[1000:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if code := <-done; code != 200 {
		t.Fatalf("the first request: %d, want 200", code)
	}
	if resp, got := e.send(http.MethodPost, "/v1internal:generateContent", big); resp.StatusCode != 200 {
		t.Errorf("after the budget freed: %d %s", resp.StatusCode, got)
	}
	if n := e.st.Proxy.Stats().BufferedBytes; n != 0 {
		t.Errorf("BufferedBytes = %d after every request ended, want 0", n)
	}
}

// TestShortAPIKeyRefused (issue 11.12): an API key shorter than 16
// characters is refused.
func TestShortAPIKeyRefused(t *testing.T) {
	opt := proxy.NewOptions()
	opt.APIKey = "x"
	if _, err := proxytest.Start(t.Context(), proxytest.Options{Proxy: opt, Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "16") {
		t.Errorf("a 1-character key: err = %v, want a refusal naming the minimum", err)
	}
}
