package proxy

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// TestTransportReusesConnections (issue 11.12): 2000 requests at
// concurrency 32 through the upstream transport open about as many
// connections as run at once, not hundreds (the standard transport keeps
// 2 idle connections per host: 388 new connections were seen).
func TestTransportReusesConnections(t *testing.T) {
	var conns atomic.Int64
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{}`)
	}))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	defer ts.Close()
	tr := NewTransport(TransportOptions{})
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	const workers, each = 32, 2000 / 32
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				resp, err := client.Get(ts.URL)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	if n := conns.Load(); n > workers+8 {
		t.Errorf("%d connections for %d requests at concurrency %d, want about %d", n, workers*each, workers, workers)
	}

}
