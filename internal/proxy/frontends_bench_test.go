package proxy_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/proxy/proxytest"
)

// BenchmarkRoutes times one non-streaming request per route through the
// whole stack on loopback (proxy and simulator in-process): the
// translated routes against the Gemini API and the passthrough, same
// upstream model. The difference between routes is the translation's
// share of a request.
func BenchmarkRoutes(b *testing.B) {
	ctx := context.Background()
	st, err := proxytest.Start(ctx, proxytest.Options{Accounts: []cloudcodetest.AccountSpec{{Email: "a@example.com", TierID: "g1-ultra-tier"}},
		Sim: cloudcodetest.Options{StreamInterval: time.Microsecond,
			Capacity: func(cloudcode.Tier, cloudcode.Family, cloudcode.Window) int { return 1 << 30 }},
		Proxy: proxy.NewOptions()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.SyncAll(ctx); err != nil {
		b.Fatal(err)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for _, r := range []struct{ name, path, body string }{
		{"passthrough", "/v1internal:generateContent", `{"model":"gemini-3-flash","project":"x","request":{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}}`},
		{"gemini", "/v1beta/models/gemini-3-flash:generateContent", `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`},
		{"messages", "/v1/messages", `{"model":"gemini-3-flash","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`},
		{"messages-stream", "/v1/messages", `{"model":"gemini-3-flash","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`},
		{"chat", "/v1/chat/completions", `{"model":"gemini-3-flash","messages":[{"role":"user","content":"hi"}]}`},
		{"responses", "/v1/responses", `{"model":"gemini-3-flash","input":"hi"}`},
	} {
		b.Run(r.name, func(b *testing.B) {
			for b.Loop() {
				resp, err := hc.Post(st.URL+r.path, "application/json", strings.NewReader(r.body))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("%s: %d", r.path, resp.StatusCode)
				}
			}
		})
	}
}
