package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/proxy/proxytest"
)

// truth answers from the simulator, the ground truth the proxy cannot see.
type truth struct {
	sim    *cloudcodetest.Server
	emails []string
}

// hasQuota reports whether the account can still serve the family.
func (t truth) hasQuota(email string, f cloudcode.Family) bool {
	return t.sim.Remaining(email, f, cloudcode.Window5h) > 0 && t.sim.Remaining(email, f, cloudcode.WindowWeekly) > 0
}

func (t truth) anyQuota(f cloudcode.Family) bool {
	for _, e := range t.emails {
		if t.hasQuota(e, f) {
			return true
		}
	}
	return false
}

// watcher wraps the proxy's upstream and counts, per account, the 429s the
// proxy provoked and the generate calls sent when the family was spent on
// every account.
type watcher struct {
	next    proxy.Upstream
	truth   truth
	project map[string]string // project -> email

	mu        sync.Mutex
	quota429  map[string]int // email/family -> QUOTA_EXHAUSTED answers
	other429  int            // rate limits and bare 429s
	postSpent map[cloudcode.Family]int
	gens      int
}

func newWatcher() *watcher {
	return &watcher{project: map[string]string{}, quota429: map[string]int{}, postSpent: map[cloudcode.Family]int{}}
}

// Do forwards a call and records what it provoked.
func (w *watcher) Do(ctx context.Context, r cloudcode.Request) (*http.Response, error) {
	if r.RPC != "generateContent" && r.RPC != "streamGenerateContent" {
		return w.next.Do(ctx, r)
	}
	var env struct{ Project, Model string }
	_ = json.Unmarshal(r.Body, &env)
	fam := cloudcode.ModelFamily(env.Model)
	spent := !w.truth.anyQuota(fam)
	resp, err := w.next.Do(ctx, r)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gens++
	if spent {
		w.postSpent[fam]++
	}
	var qe *cloudcode.QuotaExhaustedError
	var rl *cloudcode.RateLimitedError
	switch {
	case errors.As(err, &qe):
		w.quota429[w.project[env.Project]+"/"+fam.String()]++
	case errors.As(err, &rl):
		w.other429++
	}
	return resp, err
}

// result is what one workload run measured.
type result struct {
	requests        int
	ok              int
	client429       int
	bad429          int // 429 while some account still had quota for the family
	otherErrors     int
	upstream429     int // QUOTA_EXHAUSTED answers
	other429        int
	ranOut          int // (account, family) pairs that ran out
	max429PerPair   int
	postSpent       int
	upstreamGens    int
	proactive       uint64
	reactive        uint64
	sessions        int
	sessionsSwitch  int
	took            time.Duration
	drainedAll      bool
	sampleErrorBody string
}

type sessionLog struct {
	mu       sync.Mutex
	accounts map[string]map[string]bool
}

func (l *sessionLog) add(session, account string) {
	if session == "" || account == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.accounts[session] == nil {
		l.accounts[session] = map[string]bool{}
	}
	l.accounts[session][account] = true
}

// drive runs clients against the proxy until every account is spent for
// both families and each client made `after` more requests, or until the
// deadline.
func drive(ctx context.Context, base string, t truth, clients, after int, seed uint64, deadline time.Duration) result {
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	tr := &http.Transport{MaxIdleConnsPerHost: clients * 2}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	var (
		res      result
		mu       sync.Mutex
		sessions = &sessionLog{accounts: map[string]map[string]bool{}}
		allSpent atomic.Bool
		wg       sync.WaitGroup
	)
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(c)))
			session, left := "", 0
			extra := 0
			for ctx.Err() == nil {
				if allSpent.Load() {
					if extra >= after {
						return
					}
					extra++
				}
				fam := cloudcode.FamilyGemini
				if rng.IntN(2) == 1 {
					fam = cloudcode.FamilyClaudeGPT
				}
				model := proxytest.Models[fam][rng.IntN(len(proxytest.Models[fam]))]
				stream := rng.IntN(10) < 3
				gemini := rng.IntN(2) == 0
				oneShot := rng.IntN(10) < 3
				if !oneShot && left == 0 {
					session, left = fmt.Sprintf("c%d-s%d", c, rng.Uint32()), 3+rng.IntN(8)
				}
				sid, text := "", fmt.Sprintf("one-shot %d %d", c, rng.Uint64())
				if !oneShot {
					sid, text = session+"/"+fam.String(), "conversation "+session
					left--
				}
				status, account, body := call(ctx, hc, base, model, text, sid, stream, gemini)
				mu.Lock()
				res.requests++
				switch {
				case status == 200:
					res.ok++
					sessions.add(sid, account)
				case status == 429:
					res.client429++
					if t.anyQuota(fam) {
						res.bad429++
						res.sampleErrorBody = body
					}
				case status == 0 && ctx.Err() != nil:
					res.requests--
				default:
					res.otherErrors++
					res.sampleErrorBody = body
				}
				mu.Unlock()
				if !t.anyQuota(cloudcode.FamilyGemini) && !t.anyQuota(cloudcode.FamilyClaudeGPT) {
					allSpent.Store(true)
				}
				// A little think time, as a tool between two calls.
				select {
				case <-time.After(time.Duration(1+rng.IntN(4)) * time.Millisecond):
				case <-ctx.Done():
				}
			}
		})
	}
	wg.Wait()
	res.took = time.Since(start)
	res.drainedAll = allSpent.Load()
	for _, accts := range sessions.accounts {
		res.sessions++
		if len(accts) > 1 {
			res.sessionsSwitch++
		}
	}
	return res
}

// call sends one client request in the Code Assist or the Gemini API form.
func call(ctx context.Context, hc *http.Client, base, model, text, session string, stream, gemini bool) (int, string, string) {
	inner := fmt.Sprintf(`{"contents":[{"role":"user","parts":[{"text":%q}]}]}`, text)
	var url, body string
	switch {
	case gemini && stream:
		url, body = base+"/v1beta/models/"+model+":streamGenerateContent?alt=sse", inner
	case gemini:
		url, body = base+"/v1beta/models/"+model+":generateContent", inner
	case stream:
		url, body = base+"/v1internal:streamGenerateContent?alt=sse", fmt.Sprintf(`{"model":%q,"project":"x","request":%s}`, model, inner)
	default:
		url, body = base+"/v1internal:generateContent", fmt.Sprintf(`{"model":%q,"project":"x","request":%s}`, model, inner)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, "", err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	if session != "" {
		req.Header.Set("x-session-id", session)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", err.Error()
	}
	if resp.StatusCode == 200 && stream && !bytes.Contains(b, []byte("candidates")) {
		return 599, "", "stream without candidates"
	}
	return resp.StatusCode, resp.Header.Get("X-Quotatui-Account"), string(b)
}
