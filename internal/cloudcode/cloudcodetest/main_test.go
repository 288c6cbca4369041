package cloudcodetest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// start is the fake clock's starting time in every test.
var start = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// sim is a simulator with a fake clock and a real client pointed at it.
type sim struct {
	srv    *cloudcodetest.Server
	clk    *clock.Fake
	client *cloudcode.Client
}

// newSim starts a simulator; opts.Clock is replaced by a fake clock.
func newSim(t *testing.T, opts cloudcodetest.Options) *sim {
	t.Helper()
	clk := clock.NewFake(start)
	opts.Clock = clk
	srv := cloudcodetest.NewServer(opts)
	t.Cleanup(srv.Close)
	client := cloudcode.New(cloudcode.Config{BaseURLs: srv.BaseURLs(), HTTPClient: srv.Client(), Clock: clk})
	return &sim{srv: srv, clk: clk, client: client}
}

// smallCapacity makes buckets small enough to drain by calling: 3 units
// in 5h, 6 in a week, for every tier and family.
func smallCapacity(_ cloudcode.Tier, _ cloudcode.Family, w cloudcode.Window) int {
	if w == cloudcode.WindowWeekly {
		return 6
	}
	return 3
}

// genBody is a wrapped generation request for acct and model.
func genBody(project, model string) []byte {
	b, _ := json.Marshal(map[string]any{
		"project": project, "model": model, "userAgent": "antigravity", "requestType": "agent",
		"request": map[string]any{"contents": []any{map[string]any{"role": "user", "parts": []any{map[string]any{"text": "hello there, simulator"}}}}},
	})
	return b
}

// generate sends generateContent through the client's Do and returns the
// unwrapped response body.
func (s *sim) generate(ctx context.Context, token, project, model string) ([]byte, error) {
	resp, err := s.client.Do(ctx, cloudcode.Request{RPC: "generateContent", Body: genBody(project, model), AccessToken: token})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return cloudcode.UnwrapResponse(body), nil
}

// raw makes one plain HTTP call to the daily host and returns status and body.
func (s *sim) raw(t *testing.T, method, rpc, token string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.srv.BaseURLs()[0]+":"+rpc, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// asErr asserts err is (or wraps) an E and returns it.
func asErr[E error](t *testing.T, err error) E {
	t.Helper()
	var target E
	if !errors.As(err, &target) {
		t.Fatalf("error = %v (%T), want %T", err, err, target)
	}
	return target
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
