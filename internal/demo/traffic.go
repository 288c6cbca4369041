package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// TrafficOptions shape the generated load.
type TrafficOptions struct {
	ProxyURL      string  // e.g. http://127.0.0.1:8045
	APIKey        string  // the proxy's local API key, if any
	Rate          float64 // requests per real second; default 3
	Conversations int     // sticky sessions; default 6
	Concurrency   int     // requests in flight at most; default 4
	Seed          uint64
	Client        *http.Client
}

// TrafficStats counts what the generator saw.
type TrafficStats struct {
	Sent      uint64
	OK        uint64
	Client429 uint64
	Errors    uint64
}

// Traffic sends a mix of requests through the proxy: sticky conversations
// and one-shot calls, Gemini and Claude models, streaming and not, through
// both the Gemini API and the Code Assist routes.
type Traffic struct {
	opt  TrafficOptions
	sent atomic.Uint64
	ok   atomic.Uint64
	r429 atomic.Uint64
	errs atomic.Uint64
}

// NewTraffic returns a generator; Run starts it.
func NewTraffic(opt TrafficOptions) *Traffic {
	if opt.Rate <= 0 {
		opt.Rate = 3
	}
	if opt.Conversations <= 0 {
		opt.Conversations = 6
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = 4
	}
	if opt.Client == nil {
		opt.Client = &http.Client{Timeout: 30 * time.Second}
	}
	return &Traffic{opt: opt}
}

// Stats returns the counters so far.
func (t *Traffic) Stats() TrafficStats {
	return TrafficStats{Sent: t.sent.Load(), OK: t.ok.Load(), Client429: t.r429.Load(), Errors: t.errs.Load()}
}

var demoModels = []string{"gemini-3-flash", "claude-sonnet-4-6-thinking", "gemini-3-pro-high", "claude-opus-4-6-thinking", "gpt-oss-120b-medium"}

type conversation struct {
	id    string
	model string
	turn  int
}

// Run sends requests until ctx ends, then waits for those in flight.
func (t *Traffic) Run(ctx context.Context) error {
	rng := rand.New(rand.NewPCG(t.opt.Seed, 7))
	convs := make([]*conversation, t.opt.Conversations)
	for i := range convs {
		convs[i] = &conversation{id: fmt.Sprintf("demo-conv-%d", i+1), model: demoModels[i%len(demoModels)]}
	}
	interval := time.Duration(float64(time.Second) / t.opt.Rate)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	slots := make(chan struct{}, t.opt.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		select {
		case slots <- struct{}{}:
		default:
			continue // the proxy is slower than the rate: skip rather than pile up
		}
		var req *http.Request
		var err error
		if rng.IntN(4) == 0 { // one-shot call
			req, err = t.request(ctx, "", demoModels[rng.IntN(len(demoModels))], rng.IntN(2) == 0, rng.IntN(2) == 0, rng.Uint64())
		} else {
			c := convs[rng.IntN(len(convs))]
			c.turn++
			req, err = t.request(ctx, c.id, c.model, c.turn%2 == 0, c.turn%3 == 0, uint64(c.turn))
		}
		if err != nil {
			<-slots
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			t.do(req)
		}()
	}
}

func (t *Traffic) request(ctx context.Context, session, model string, stream, codeAssist bool, n uint64) (*http.Request, error) {
	text := fmt.Sprintf("demo request %d: explain quota windows", n)
	if session != "" {
		text = "conversation " + session + ": let's refactor the parser"
	}
	inner := map[string]any{"contents": []any{map[string]any{"role": "user", "parts": []any{map[string]any{"text": text}}}}}
	var url string
	var body any
	if codeAssist {
		method := "generateContent"
		if stream {
			method = "streamGenerateContent?alt=sse"
		}
		url = t.opt.ProxyURL + "/v1internal:" + method
		body = map[string]any{"model": model, "project": "client-project", "request": inner}
	} else {
		method := ":generateContent"
		if stream {
			method = ":streamGenerateContent?alt=sse"
		}
		url = t.opt.ProxyURL + "/v1beta/models/" + model + method
		body = inner
	}
	buf, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("demo traffic: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(buf))
	if err != nil {
		return nil, fmt.Errorf("demo traffic: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if session != "" {
		req.Header.Set("x-session-id", session)
	}
	if t.opt.APIKey != "" {
		req.Header.Set("x-goog-api-key", t.opt.APIKey)
	}
	return req, nil
}

func (t *Traffic) do(req *http.Request) {
	t.sent.Add(1)
	resp, err := t.opt.Client.Do(req)
	if err != nil {
		if req.Context().Err() == nil {
			t.errs.Add(1)
		}
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
		t.ok.Add(1)
	case resp.StatusCode == http.StatusTooManyRequests:
		t.r429.Add(1)
	default:
		t.errs.Add(1)
	}
}
