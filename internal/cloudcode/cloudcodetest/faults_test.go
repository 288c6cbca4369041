package cloudcodetest_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// streamCall starts streamGenerateContent?alt=sse for acct.
func (s *sim) streamCall(ctx context.Context, t *testing.T, a cloudcodetest.Account, model string) (*http.Response, error) {
	t.Helper()
	return s.client.Do(ctx, cloudcode.Request{RPC: "streamGenerateContent", Query: map[string][]string{"alt": {"sse"}},
		Body: genBody(a.Project, model), AccessToken: a.AccessToken})
}

// TestCutStreams: a cut stream ends with a transport error, never a clean
// end of body, after the events sent before the cut; a cut non-streaming
// answer is half a JSON document and the same error. The quota is charged.
func TestCutStreams(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{StreamChunks: 6})
	a := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "cut@example.com", TierID: "g1-pro-tier"})
	s.srv.CutStreams(a.Email, 2)
	before := s.srv.Remaining(a.Email, cloudcode.FamilyGemini, cloudcode.Window5h)

	resp, err := s.streamCall(context.Background(), t, a, "gemini-3-flash")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("reading a cut stream: err = %v, want unexpected EOF", err)
	}
	if n := bytes.Count(body, []byte("data: ")); n != 2 {
		t.Errorf("%d events before the cut, want 2: %q", n, body)
	}
	if after := s.srv.Remaining(a.Email, cloudcode.FamilyGemini, cloudcode.Window5h); after >= before {
		t.Errorf("remaining %v -> %v: the cut call was not charged", before, after)
	}

	resp, err = s.client.Do(context.Background(), cloudcode.Request{RPC: "generateContent", Body: genBody(a.Project, "gemini-3-flash"), AccessToken: a.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || len(body) == 0 || bytes.HasSuffix(bytes.TrimSpace(body), []byte("}")) {
		t.Errorf("cut answer: %d bytes, err %v; want half a document and an error", len(body), err)
	}

	s.srv.CutStreams(a.Email, 0)
	if _, err := s.generate(context.Background(), a.AccessToken, a.Project, "gemini-3-flash"); err != nil {
		t.Errorf("after CutStreams(0): %v", err)
	}
}

// TestHangAfterHeaders: the 200 headers arrive, then nothing until the
// client gives up; the handler then ends.
func TestHangAfterHeaders(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	a := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "hang@example.com", TierID: "g1-pro-tier"})
	s.srv.SetHangAfterHeaders(a.Email, true)
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := s.streamCall(ctx, t, a, "gemini-3-flash")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d %q, want 200 SSE headers", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	read := make(chan error, 1)
	go func() {
		_, err := resp.Body.Read(make([]byte, 1))
		read <- err
	}()
	select {
	case err := <-read:
		t.Fatalf("a read returned (%v) before the client gave up", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	if err := <-read; err == nil {
		t.Error("the read after cancelling succeeded")
	}
	resp.Body.Close()
	waitFor(t, "the hung handler to end", func() bool { return s.srv.InFlight() == 0 })
}

// TestStreamFaultRates: the drawn shares of hangs and cuts come out near
// the rates set, and every cut stream ends with a transport error.
func TestStreamFaultRates(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{StreamChunks: 4, StreamInterval: time.Microsecond, Seed: 7, Capacity: func(cloudcode.Tier, cloudcode.Family, cloudcode.Window) int { return 1000 }})
	a := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "rates@example.com", TierID: "g1-pro-tier"})
	s.srv.SetStreamFaults(cloudcodetest.StreamFaults{CutRate: 0.3})
	cut := 0
	const n = 200
	for range n {
		resp, err := s.streamCall(context.Background(), t, a, "gemini-3-flash")
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			cut++
		}
	}
	if cut < n*20/100 || cut > n*40/100 {
		t.Errorf("%d of %d streams cut, want about 30 %%", cut, n)
	}
}

// TestEventBytes: each event carries a chunk of about the size asked for,
// several MiB, in one SSE line.
func TestEventBytes(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{StreamChunks: 2})
	a := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "big@example.com", TierID: "g1-pro-tier"})
	const size = 3 << 20
	s.srv.SetStreamFaults(cloudcodetest.StreamFaults{EventBytes: size})
	resp, err := s.streamCall(context.Background(), t, a, "gemini-3-flash")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	events := 0
	for {
		line, err := br.ReadString('\n')
		if strings.HasPrefix(line, "data: ") {
			events++
			if len(line) < size || len(line) > size+4096 {
				t.Errorf("event of %d bytes, want about %d", len(line), size)
			}
		}
		if err != nil {
			break
		}
	}
	if events != 2 {
		t.Errorf("%d events, want 2", events)
	}
}

// TestBareBurst: the account's next n generate calls answer the bare 429,
// charging nothing; the next one succeeds.
func TestBareBurst(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	a := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "burst@example.com", TierID: "g1-pro-tier"})
	before := s.srv.Remaining(a.Email, cloudcode.FamilyGemini, cloudcode.Window5h)
	s.srv.BareBurst(a.Email, 3)
	for i := range 3 {
		_, err := s.generate(context.Background(), a.AccessToken, a.Project, "gemini-3-flash")
		if rl := asErr[*cloudcode.RateLimitedError](t, err); !rl.Bare {
			t.Errorf("call %d: %v, want a bare 429", i, err)
		}
	}
	if after := s.srv.Remaining(a.Email, cloudcode.FamilyGemini, cloudcode.Window5h); after != before {
		t.Errorf("the bare 429s charged the bucket: %v -> %v", before, after)
	}
	if _, err := s.generate(context.Background(), a.AccessToken, a.Project, "gemini-3-flash"); err != nil {
		t.Errorf("after the burst: %v", err)
	}
}

// TestRequestNames: the client refuses a method or path that is not plain
// before anything is sent.
func TestRequestNames(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	a := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "n@example.com", TierID: "free-tier"})
	for _, r := range []cloudcode.Request{
		{RPC: "generateContent#x"}, {RPC: "generateContent?alt=sse"}, {RPC: "gen\r\nContent"}, {RPC: "load_code"},
		{Path: "operations/../x"}, {Path: "operations/a?b"}, {Path: "/operations/a"}, {Path: "operations//a"},
		{}, {RPC: "loadCodeAssist", Path: "operations/a"},
	} {
		r.AccessToken = a.AccessToken
		if _, err := s.client.Do(context.Background(), r); err == nil {
			t.Errorf("Do(%+v) succeeded", r)
		}
	}
	if n := s.srv.TotalRequests("generateContent") + s.srv.TotalRequests("loadCodeAssist"); n != 0 {
		t.Errorf("%d calls reached the simulator", n)
	}
}
