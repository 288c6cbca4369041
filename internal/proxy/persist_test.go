package proxy_test

import (
	"context"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/proxy/proxytest"
)

// TestCountersSurviveRestarts (issue 12.5): the proxy's counters are saved
// while it runs and when it stops, and a new process over the same
// database starts from them.
func TestCountersSurviveRestarts(t *testing.T) {
	dir := t.TempDir()
	run := func(requests int, wantBefore uint64) uint64 {
		t.Helper()
		e := startWith(t, func(o *proxytest.Options) { o.Dir = dir })
		ctx, cancel := context.WithCancel(context.Background())
		kept := make(chan error, 1)
		go func() { kept <- e.st.Proxy.KeepCounters(ctx, e.st.Store, 20*time.Millisecond) }()
		deadline := time.Now().Add(10 * time.Second)
		for e.st.Proxy.Stats().Requests != wantBefore {
			if time.Now().After(deadline) {
				t.Fatalf("restored %d requests, want %d", e.st.Proxy.Stats().Requests, wantBefore)
			}
			time.Sleep(time.Millisecond)
		}
		for range requests {
			if resp, body := e.generate("gemini-3-flash", "s"); resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
		}
		// Saved periodically, before the stop.
		for {
			c, err := e.st.Store.Counters(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if c["proxy.requests"] == int64(wantBefore)+int64(requests) && c["proxy.status.200"] == int64(wantBefore)+int64(requests) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("store holds %v, want %d requests", c, int(wantBefore)+requests)
			}
			time.Sleep(time.Millisecond)
		}
		e.generate("gemini-3-flash", "last")
		cancel()
		if err := <-kept; err != nil {
			t.Fatal(err)
		}
		st := e.st.Proxy.Stats()
		if err := e.st.Close(); err != nil {
			t.Fatal(err)
		}
		return st.Requests
	}
	first := run(3, 0)      // 4 requests, the last saved at the stop
	second := run(2, first) // starts from 4
	if first != 4 || second != 7 {
		t.Errorf("requests counted: %d then %d, want 4 then 7", first, second)
	}
	e := startWith(t, func(o *proxytest.Options) { o.Dir = dir })
	c, err := e.st.Store.Counters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c["proxy.requests"] != 7 || c["proxy.family.gemini"] != 7 || c["proxy.status.200"] != 7 {
		t.Errorf("stored counters %v, want 7 requests, all gemini and 200", c)
	}
}
