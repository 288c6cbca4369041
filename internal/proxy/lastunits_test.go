package proxy

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// waitFor polls cond until it holds, failing the test after a deadline.
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

// TestLastUnitsInFlightLimit (#14.5): when the estimate says an account
// has k requests left, at most k are in flight on it at once; the others
// go to the next account at once, not after the first k answered.
func TestLastUnitsInFlightLimit(t *testing.T) {
	release := make(chan struct{})
	var onFirst, onSecond atomic.Int32
	h := newHarness(t, 2, NewOptions(), func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		if accountOf(r) == 1 {
			onFirst.Add(1)
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		} else {
			onSecond.Add(1)
		}
		return jsonResponse(200, okAnswer), nil
	})
	// Account 1 ranks first with 5 requests left by the estimate (0.5 at
	// 0.1 a request): above the low zone and fewLeft, so no gate.
	h.q.estimate(1, cloudcode.FamilyGemini, 0.8, 0.5, 0.1)
	done := sync.OnceFunc(func() { close(release) })
	t.Cleanup(done) // a failed wait must not leave the requests hanging
	const clients = 8
	var wg sync.WaitGroup
	var ok atomic.Int32
	for range clients {
		wg.Go(func() {
			resp, _ := h.post("/v1internal:generateContent", genBody("gemini-3-flash", "burst"))
			if resp.StatusCode == 200 {
				ok.Add(1)
			}
		})
	}
	// Those left out of account 1 are answered by account 2 while the
	// first five are still in flight.
	waitFor(t, "every request to reach an account", func() bool { return onFirst.Load()+onSecond.Load() == clients })
	if got := onFirst.Load(); got != 5 {
		t.Errorf("%d requests in flight on the account with 5 left, want 5", got)
	}
	done()
	wg.Wait()
	if ok.Load() != clients {
		t.Errorf("%d of %d clients got 200", ok.Load(), clients)
	}
	if n := h.srv.tm.low.inFlight(gateKey{1, cloudcode.FamilyGemini}); n != 0 {
		t.Errorf("%d requests still counted in flight after every answer", n)
	}
}

// TestLastUnitsWaitWhenNoOtherAccount: with no other account to take
// them, the requests beyond the last units wait for room rather than
// fail, and the account never has more than k in flight.
func TestLastUnitsWaitWhenNoOtherAccount(t *testing.T) {
	release := make(chan struct{})
	var arrived atomic.Int32
	h := newHarness(t, 1, NewOptions(), func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		arrived.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return jsonResponse(200, okAnswer), nil
	})
	h.q.estimate(1, cloudcode.FamilyGemini, 0.8, 0.5, 0.1) // 5 left
	done := sync.OnceFunc(func() { close(release) })
	t.Cleanup(done) // a failed wait must not leave the requests hanging
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if resp, body := h.post("/v1internal:generateContent", genBody("gemini-3-flash", "wait")); resp.StatusCode != 200 {
				t.Errorf("status %d: %s", resp.StatusCode, body)
			}
		})
	}
	k := gateKey{1, cloudcode.FamilyGemini}
	// Five reach the upstream and three wait; with no limit all eight
	// would reach it and none wait.
	waitFor(t, "five requests at the upstream and three waiting for room", func() bool {
		return arrived.Load() == 5 && h.srv.tm.low.waiting(k) == 3
	})
	done()
	wg.Wait()
	if got := arrived.Load(); got != 8 {
		t.Errorf("%d requests reached the upstream in all, want 8", got)
	}
}

// TestEstimatedEmptyIsReadAgain (#14.3): an account whose estimate
// reached 0 is read again before it gets another request. A pessimistic
// estimate (the figure read says more is left) keeps the conversation
// there; a right one moves it before any request reaches the account.
func TestEstimatedEmptyIsReadAgain(t *testing.T) {
	h := newHarness(t, 2, NewOptions(), func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		return jsonResponse(200, okAnswer), nil
	})
	send := func() string {
		t.Helper()
		resp, body := h.post("/v1internal:generateContent", genBody("gemini-3-flash", "s"), "x-session-id", "s")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		return resp.Header.Get("X-Quotatui-Account")
	}
	if got := send(); got != "acct1" {
		t.Fatalf("session started on %s, want acct1", got)
	}
	f := cloudcode.FamilyGemini
	// The estimate says spent; the upstream says 0.3 is left.
	h.q.estimate(1, f, 0.4, 0, 0.1)
	h.q.onSync = func(id int64) {
		if id == 1 {
			h.q.synced(1, f, 0.3)
		}
	}
	if got := send(); got != "acct1" {
		t.Errorf("after a pessimistic estimate the session is on %s, want acct1", got)
	}
	if n := h.q.Syncs(1); n != 1 {
		t.Errorf("account 1 read %d times, want 1 (before the request)", n)
	}
	// Now the estimate is right: the read finds it empty, and the
	// session moves before the request.
	h.q.estimate(1, f, 0.1, 0, 0.1)
	h.q.onSync = func(id int64) {
		if id == 1 {
			h.q.synced(1, f, 0)
		}
	}
	before := len(h.up.Calls())
	if got := send(); got != "acct2" {
		t.Errorf("after the account was found empty the session is on %s, want acct2", got)
	}
	if n := h.q.Syncs(1); n != 2 {
		t.Errorf("account 1 read %d times, want 2", n)
	}
	for _, c := range h.up.Calls()[before:] {
		if accountOf(c) == 1 {
			t.Error("a request reached the account found empty")
		}
	}
}

// TestEstimatedEmptyWithoutCheck: with the pre-request check off nothing
// reads an account again, so the estimate alone does not refuse it: it
// serves, one request at a time, until the upstream says it is empty.
func TestEstimatedEmptyWithoutCheck(t *testing.T) {
	opt := NewOptions()
	opt.PreRequestCheck = false
	h := newHarness(t, 1, opt, func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		return jsonResponse(200, okAnswer), nil
	})
	h.q.estimate(1, cloudcode.FamilyGemini, 0.4, 0, 0.1)
	if resp, body := h.post("/v1internal:generateContent", genBody("gemini-3-flash", "x")); resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if n := h.q.Syncs(1); n != 0 {
		t.Errorf("account read %d times with the check off, want 0", n)
	}
}

// TestFreshReadTrustedOverTheEstimate: a re-read that finds units left is
// trusted even when the estimate, brought forward from it at once, says
// spent: the requests it deducts completed while the read was running,
// and the upstream's figure may count them already. Refusing there handed
// clients a 429 while the account had quota (quotabench: 1 in 262).
func TestFreshReadTrustedOverTheEstimate(t *testing.T) {
	h := newHarness(t, 1, NewOptions(), func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		return jsonResponse(200, okAnswer), nil
	})
	f := cloudcode.FamilyGemini
	h.q.estimate(1, f, 0.3, 0, 0.1) // spent by the estimate
	// The read finds 0.1 left; a request that completed during the read
	// brings the estimate to 0 again.
	h.q.onSync = func(int64) { h.q.estimate(1, f, 0.1, 0, 0.1) }
	resp, body := h.post("/v1internal:generateContent", genBody("gemini-3-flash", "x"))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d after a read that found units left: %s", resp.StatusCode, body)
	}
	if n := h.q.Syncs(1); n != 1 {
		t.Errorf("%d reads, want 1", n)
	}
}

// TestWaiterLooksAgain: a request that waited for room on an account
// looks at the engine's figures again once room is made, since the
// estimate has fallen meanwhile: here into the last few requests, so it
// is re-read before it is sent. Reusing the limit and figures it waited
// on sent requests blindly to an account about to be empty (two upstream
// 429s on one account in quotabench's drain).
func TestWaiterLooksAgain(t *testing.T) {
	release := make(chan struct{}, 1)
	var arrived atomic.Int32
	h := newHarness(t, 1, NewOptions(), func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		arrived.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return jsonResponse(200, okAnswer), nil
	})
	f := cloudcode.FamilyGemini
	h.q.estimate(1, f, 0.8, 0.5, 0.1) // 5 left
	done := sync.OnceFunc(func() { close(release) })
	t.Cleanup(done)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if resp, body := h.post("/v1internal:generateContent", genBody("gemini-3-flash", "x")); resp.StatusCode != 200 {
				t.Errorf("status %d: %s", resp.StatusCode, body)
			}
		})
	}
	k := gateKey{1, f}
	waitFor(t, "five in flight and one waiting", func() bool { return arrived.Load() == 5 && h.srv.tm.low.waiting(k) == 1 })
	// By now the estimate says 3 left: the waiter may go once fewer than
	// 3 are in flight, through the gate and a fresh read.
	h.q.estimate(1, f, 0.8, 0.3, 0.1)
	h.q.onSync = func(int64) { h.q.synced(1, f, 0.3) }
	for range 3 {
		release <- struct{}{}
	}
	waitFor(t, "the waiter to be sent", func() bool { return arrived.Load() == 6 })
	if n := h.q.Syncs(1); n != 1 {
		t.Errorf("the waiter was sent after %d reads of the account, want 1 (it is within the last few requests)", n)
	}
	done()
	wg.Wait()
}
