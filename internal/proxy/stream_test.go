package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

func chunk(i int) string {
	return fmt.Sprintf(`{"response":{"candidates":[{"content":{"role":"model","parts":[{"text":"part%d"}]}}]},"traceId":"t"}`, i)
}

// sseResponse streams events through a pipe; the returned writer feeds it.
func sseResponse() (*http.Response, *io.PipeWriter) {
	pr, pw := io.Pipe()
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: pr}, pw
}

func sseBody(events ...string) *http.Response {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "data: %s\r\n\r\n", e)
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(strings.NewReader(b.String()))}
}

// TestStreamRetryOnlyBeforeFirstByte: a stream that breaks before its
// first event moves to the next account unseen; one that breaks after it
// is never retried (the client already has bytes) and ends so that the
// client can tell: an error event, then no end of body.
func TestStreamRetryOnlyBeforeFirstByte(t *testing.T) {
	tests := []struct {
		name      string
		sendFirst bool
		wantCalls int
		wantText  []string
		wantBreak bool
	}{
		{"broken before the first event", false, 2, []string{"part0", "part1"}, false},
		{"broken after the first event", true, 1, []string{"part0"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, 2, NewOptions(), func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
				if n > 1 {
					return sseBody(chunk(0), chunk(1)), nil
				}
				resp, pw := sseResponse()
				go func() {
					if tt.sendFirst {
						fmt.Fprintf(pw, "data: %s\n\n", chunk(0))
					}
					pw.CloseWithError(io.ErrUnexpectedEOF)
				}()
				return resp, nil
			})
			req, _ := http.NewRequest(http.MethodPost, h.ts.URL+"/v1internal:streamGenerateContent?alt=sse", strings.NewReader(genBody("gemini-3-flash", "hi")))
			req.Header.Set("Content-Type", "application/json")
			resp, err := h.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, readErr := io.ReadAll(resp.Body)
			resp.Body.Close()
			body := string(b)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("status %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			if (readErr != nil) != tt.wantBreak {
				t.Errorf("reading the stream: err %v, want a broken stream %v", readErr, tt.wantBreak)
			}
			if n := len(h.up.Calls()); n != tt.wantCalls {
				t.Errorf("%d upstream calls, want %d", n, tt.wantCalls)
			}
			for _, want := range tt.wantText {
				if !strings.Contains(body, want) {
					t.Errorf("stream %q lacks %s", body, want)
				}
			}
			if strings.Count(body, "data: ") != len(tt.wantText) {
				t.Errorf("stream has %d events, want %d: %q", strings.Count(body, "data: "), len(tt.wantText), body)
			}
			st := h.srv.Stats()
			if wantBroken := map[bool]uint64{true: 1}[tt.wantBreak]; st.UpstreamBreaks != wantBroken || st.RequestsByStatus[502] != wantBroken {
				t.Errorf("UpstreamBreaks %d, by status %v; want %d broken", st.UpstreamBreaks, st.RequestsByStatus, wantBroken)
			}
		})
	}
}

// TestStreamFlushesEachEvent: the client reads an event before the
// upstream sends the next one, so nothing buffers the whole response.
func TestStreamFlushesEachEvent(t *testing.T) {
	next := make(chan struct{})
	h := newHarness(t, 1, NewOptions(), func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		resp, pw := sseResponse()
		go func() {
			defer pw.Close()
			for i := range 3 {
				if i > 0 {
					select {
					case <-next:
					case <-ctx.Done():
						return
					}
				}
				fmt.Fprintf(pw, "data: %s\n\n", chunk(i))
			}
		}()
		return resp, nil
	})
	req, _ := http.NewRequest(http.MethodPost, h.ts.URL+"/v1beta/models/gemini-3-flash:streamGenerateContent?alt=sse", strings.NewReader(`{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		// Gemini API events are unwrapped: no "response" member.
		var ev map[string]json.RawMessage
		if err := json.Unmarshal([]byte(strings.TrimPrefix(strings.TrimSpace(line), "data: ")), &ev); err != nil || ev["candidates"] == nil || ev["response"] != nil {
			t.Fatalf("event %d = %q, want an unwrapped GenerateContentResponse", i, line)
		}
		if _, err := br.ReadString('\n'); err != nil { // the blank separator
			t.Fatal(err)
		}
		if i < 2 {
			next <- struct{}{} // only now may the upstream send the next one
		}
	}
}

// TestClientDisconnectCancelsUpstream: when the client goes away mid-stream
// the upstream request's context ends.
func TestClientDisconnectCancelsUpstream(t *testing.T) {
	upstreamDone := make(chan struct{})
	h := newHarness(t, 1, NewOptions(), func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		resp, pw := sseResponse()
		go func() {
			fmt.Fprintf(pw, "data: %s\n\n", chunk(0))
			<-ctx.Done() // a long generation, until cancelled
			close(upstreamDone)
			pw.CloseWithError(ctx.Err())
		}()
		return resp, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.ts.URL+"/v1internal:streamGenerateContent?alt=sse", strings.NewReader(genBody("gemini-3-flash", "hi")))
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	select {
	case <-upstreamDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream request was not cancelled after the client left")
	}
}

// TestGeminiAPI wraps requests in the v1internal envelope and unwraps
// answers, for every Gemini method and both stream forms.
func TestGeminiAPI(t *testing.T) {
	h := newHarness(t, 1, NewOptions(), func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		switch r.RPC {
		case "countTokens":
			return jsonResponse(200, `{"totalTokens":7}`), nil
		case "streamGenerateContent":
			return sseBody(chunk(0), chunk(1)), nil
		}
		return jsonResponse(200, okAnswer), nil
	})
	client := `{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"temperature":0.2}}`

	resp, body := h.post("/v1beta/models/gemini-3-flash:generateContent", client, "x-goog-api-key", "ignored")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, `{"candidates"`) {
		t.Fatalf("generateContent: %d %s, want the unwrapped response", resp.StatusCode, body)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(h.up.Calls()[0].Body, &env); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"project": `"proj-1"`, "model": `"gemini-3-flash"`, "userAgent": `"antigravity"`, "requestType": `"agent"`, "request": client} {
		if string(env[k]) != want {
			t.Errorf("envelope %s = %s, want %s", k, env[k], want)
		}
	}
	if id := string(env["requestId"]); !strings.HasPrefix(id, fmt.Sprintf(`"agent/%d/`, t0.UnixMilli())) {
		t.Errorf("requestId = %s", id)
	}

	resp, body = h.post("/v1beta/models/gemini-3-flash:streamGenerateContent?alt=sse", client)
	if resp.StatusCode != 200 || strings.Count(body, "data: {\"candidates\"") != 2 {
		t.Errorf("SSE stream: %d %q, want two unwrapped events", resp.StatusCode, body)
	}
	if q := h.up.Calls()[1].Query.Get("alt"); q != "sse" {
		t.Errorf("upstream stream alt = %q, want sse", q)
	}

	resp, body = h.post("/v1beta/models/gemini-3-flash:streamGenerateContent", client)
	var arr []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &arr); err != nil || len(arr) != 2 || arr[1]["candidates"] == nil {
		t.Errorf("JSON array stream: %d %q (%v), want an array of two responses", resp.StatusCode, body, err)
	}

	resp, body = h.post("/v1beta/models/gemini-3-flash:countTokens", `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`)
	if resp.StatusCode != 200 || strings.TrimSpace(body) != `{"totalTokens":7}` {
		t.Errorf("countTokens: %d %s", resp.StatusCode, body)
	}
	ct := h.up.Calls()[3]
	if !strings.Contains(string(ct.Body), `"model":"models/gemini-3-flash"`) || !strings.HasPrefix(string(ct.Body), `{"request":`) {
		t.Errorf("countTokens upstream body = %s", ct.Body)
	}
}

// TestCodeAssistArrayStream: a Code Assist stream without alt=sse is asked
// of the upstream as SSE and rebuilt as the JSON array the client wants,
// and one whose first event is not JSON moves to another account.
func TestCodeAssistArrayStream(t *testing.T) {
	h := newHarness(t, 2, NewOptions(), func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		if r.Query.Get("alt") != "sse" {
			t.Errorf("upstream asked without alt=sse: %v", r.Query)
		}
		if n == 1 {
			return sseBody("<html>oops</html>"), nil
		}
		return sseBody(chunk(0), chunk(1)), nil
	})
	resp, body := h.post("/v1internal:streamGenerateContent", genBody("gemini-3-flash", "hi"))
	var arr []map[string]json.RawMessage
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &arr) != nil || len(arr) != 2 || arr[0]["response"] == nil {
		t.Fatalf("status %d body %q, want the two-element array of wrapped chunks from the second account", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Quotatui-Account"); got != "acct2" {
		t.Errorf("served by %q, want acct2", got)
	}
}
