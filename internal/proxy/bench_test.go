package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// BenchmarkHandlerGenerate measures the proxy's own work per non-streaming
// request (routing, body rewrite, answer validation) over fakes, without
// the network.
func BenchmarkHandlerGenerate(b *testing.B) {
	for _, session := range []string{"", "conv-1"} {
		name := map[string]string{"": "one-shot", "conv-1": "session"}[session]
		b.Run(name, func(b *testing.B) {
			q := newFakeQuota(nil, 4)
			up := &fakeUpstream{fn: func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
				return jsonResponse(200, okAnswer), nil
			}}
			srv, err := New(q, &fakeTokens{}, up, NewOptions())
			if err != nil {
				b.Fatal(err)
			}
			q.clk = srv.clk
			body := genBody("gemini-3-flash", "hello")
			b.ReportAllocs()
			for b.Loop() {
				up.calls = up.calls[:0]
				req := httptest.NewRequest(http.MethodPost, "/v1internal:generateContent", strings.NewReader(body))
				if session != "" {
					req.Header.Set("x-session-id", session)
				}
				w := httptest.NewRecorder()
				srv.Handler().ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
