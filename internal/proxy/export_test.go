package proxy

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// PostBurst sends n concurrent POSTs of body(i) to url and fails the test
// unless every one is answered 200. The end-to-end tests share it.
func PostBurst(t *testing.T, client *http.Client, url string, n int, body func(i int) string) {
	t.Helper()
	var wg sync.WaitGroup
	codes := make(chan int, n)
	for i := range n {
		wg.Go(func() {
			resp, err := client.Post(url, "application/json", strings.NewReader(body(i)))
			if err != nil {
				codes <- 0
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		})
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Fatalf("a client got %d, want 200", c)
		}
	}
}

// waiting returns how many requests wait for room on k.
func (z *lowZone) waiting(k gateKey) int {
	z.mu.Lock()
	defer z.mu.Unlock()
	if f := z.flying[k]; f != nil {
		return f.waiters
	}
	return 0
}
