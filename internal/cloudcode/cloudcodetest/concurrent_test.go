package cloudcodetest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// Many accounts driven in parallel: every accepted call costs exactly one
// unit, no account's calls leak into another's buckets or counters, and
// once a bucket is empty every further call is refused.
func TestConcurrentAccounts(t *testing.T) {
	const accounts, workers, calls = 8, 4, 8 // 32 calls per account, capacity 20
	s := newSim(t, cloudcodetest.Options{StreamChunks: 2, StreamInterval: 1})
	ctx := context.Background()
	accts := make([]cloudcodetest.Account, accounts)
	for i := range accts {
		accts[i] = s.srv.AddAccount(cloudcodetest.AccountSpec{Email: fmt.Sprintf("c%d@example.com", i)})
	}
	var mu sync.Mutex
	succeeded := map[string]int{}
	var wg sync.WaitGroup
	for _, a := range accts {
		for w := range workers {
			wg.Go(func() {
				for i := range calls {
					var err error
					switch (w + i) % 3 {
					case 0:
						_, err = s.generate(ctx, a.AccessToken, a.Project, "gemini-3-flash")
					case 1:
						var resp *http.Response
						resp, err = s.client.Do(ctx, cloudcode.Request{RPC: "streamGenerateContent", Query: url.Values{"alt": {"sse"}},
							Body: genBody(a.Project, "gemini-2.5-flash"), AccessToken: a.AccessToken})
						if err == nil {
							_, err = io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
						}
					default:
						_, err = s.generate(ctx, a.AccessToken, a.Project, "gemini-3-pro-high")
					}
					if err == nil {
						mu.Lock()
						succeeded[a.Email]++
						mu.Unlock()
					} else if _, ok := errors.AsType[*cloudcode.QuotaExhaustedError](err); !ok {
						t.Errorf("%s: %v", a.Email, err)
					}
					if _, err := s.client.FetchAvailableModels(ctx, a.AccessToken, a.Project); err != nil {
						t.Errorf("%s: fetch: %v", a.Email, err)
					}
				}
			})
		}
	}
	wg.Wait()
	for _, a := range accts {
		if succeeded[a.Email] != 20 {
			t.Errorf("%s: %d calls succeeded, want the 5h capacity 20", a.Email, succeeded[a.Email])
		}
		if got := s.srv.Remaining(a.Email, cloudcode.FamilyGemini, cloudcode.WindowWeekly); got != 0.8 {
			t.Errorf("%s: weekly %v, want 80/100", a.Email, got)
		}
		n := s.srv.Requests(a.Email, "generateContent") + s.srv.Requests(a.Email, "streamGenerateContent")
		if n != workers*calls || s.srv.Requests(a.Email, "fetchAvailableModels") != workers*calls {
			t.Errorf("%s: counted %d generate calls, want %d", a.Email, n, workers*calls)
		}
	}
	if got := s.srv.TotalRequests("fetchAvailableModels"); got != accounts*workers*calls {
		t.Errorf("TotalRequests = %d, want %d", got, accounts*workers*calls)
	}
}

// BenchmarkGenerateParallel measures the simulator's own cost per
// generateContent round trip, many accounts in parallel.
func BenchmarkGenerateParallel(b *testing.B) {
	srv := cloudcodetest.NewServer(cloudcodetest.Options{Capacity: func(cloudcode.Tier, cloudcode.Family, cloudcode.Window) int { return 1 << 30 }})
	defer srv.Close()
	client := cloudcode.New(cloudcode.Config{BaseURLs: srv.BaseURLs(), HTTPClient: srv.Client()})
	accts := make([]cloudcodetest.Account, 64)
	for i := range accts {
		accts[i] = srv.AddAccount(cloudcodetest.AccountSpec{Email: fmt.Sprintf("b%d@example.com", i), TierID: "g1-ultra-tier"})
	}
	var next sync.Mutex
	n := 0
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		next.Lock()
		a := accts[n%len(accts)]
		n++
		next.Unlock()
		body := genBody(a.Project, "gemini-3-flash")
		for pb.Next() {
			resp, err := client.Do(context.Background(), cloudcode.Request{RPC: "generateContent", Body: body, AccessToken: a.AccessToken})
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

// BenchmarkFanout1000 calls loadCodeAssist (a small answer, so JSON work
// does not hide the waiting) for 1000 accounts at once with 100 ms of
// latency each. If the simulator serialised anything while
// sleeping, a round would take far longer than 100 ms; it reports the
// parallel efficiency (latency / round time).
func BenchmarkFanout1000(b *testing.B) {
	const accounts, latency = 1000, 100 * time.Millisecond
	srv := cloudcodetest.NewServer(cloudcodetest.Options{Latency: latency})
	defer srv.Close()
	client := cloudcode.New(cloudcode.Config{BaseURLs: srv.BaseURLs(), HTTPClient: srv.Client()})
	accts := make([]cloudcodetest.Account, accounts)
	for i := range accts {
		accts[i] = srv.AddAccount(cloudcodetest.AccountSpec{Email: fmt.Sprintf("f%d@example.com", i), TierID: "g1-pro-tier"})
	}
	var total time.Duration
	b.ResetTimer()
	for b.Loop() {
		began := time.Now()
		var wg sync.WaitGroup
		for _, a := range accts {
			wg.Go(func() {
				if _, err := client.LoadCodeAssist(context.Background(), a.AccessToken); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		total += time.Since(began)
	}
	round := total / time.Duration(b.N)
	b.ReportMetric(float64(round)/float64(time.Millisecond), "ms/round")
	b.ReportMetric(100*float64(latency)/float64(round), "%efficiency")
}
