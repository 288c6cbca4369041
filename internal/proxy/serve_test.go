package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// TestServeStopsCleanly: Serve answers until its context ends, lets a
// short request finish, cancels a stream that outlives the grace period,
// and returns with no goroutine left (goleak in TestMain).
func TestServeStopsCleanly(t *testing.T) {
	upstreamDone := make(chan struct{})
	opt := NewOptions()
	opt.ShutdownGrace = 200 * time.Millisecond
	h := newHarness(t, 1, opt, func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		if r.RPC == "generateContent" {
			return jsonResponse(200, okAnswer), nil
		}
		resp, pw := sseResponse()
		go func() {
			fmt.Fprintf(pw, "data: %s\n\n", chunk(0))
			<-ctx.Done()
			close(upstreamDone)
			pw.CloseWithError(ctx.Err())
		}()
		return resp, nil
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- h.srv.Serve(ctx, ln) }()

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	base := "http://" + ln.Addr().String()
	resp, err := client.Post(base+"/v1internal:generateContent", "application/json", strings.NewReader(genBody("gemini-3-flash", "a")))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := h.srv.Stats().Listen; got != ln.Addr().String() {
		t.Errorf("Stats().Listen = %q, want %q", got, ln.Addr())
	}

	stream, err := client.Post(base+"/v1internal:streamGenerateContent?alt=sse", "application/json", strings.NewReader(genBody("gemini-3-flash", "b")))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	if _, err := bufio.NewReader(stream.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve returned %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	select {
	case <-upstreamDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the in-flight stream's upstream request was not cancelled")
	}
	if n := h.srv.Stats().InFlight; n != 0 {
		t.Errorf("InFlight = %d after shutdown, want 0", n)
	}
}
