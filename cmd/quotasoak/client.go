package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/proxy/proxytest"
)

// kind is what one client request came to, judged against the simulator's
// buckets at the moment the answer arrived.
type kind uint8

const (
	okAnswer   kind = iota
	broken          // 200, then the stream broke (a fault the simulator injected after the first byte)
	spent429        // 429 while no account had quota left for the family: expected
	capacity        // 503 MODEL_CAPACITY_EXHAUSTED on every attempt: Google's capacity, injected
	gaveUp          // 502 after the proxy's allowed attempts all met injected failures (cuts, 5xx)
	servable        // any other error while some account still had quota: a defect
	otherError      // any other error while no account had quota
	clientGone      // the harness's own deadline ended the request
	numKinds
)

func (k kind) String() string {
	return [...]string{"ok", "broken stream", "429 (pool spent)", "503 capacity", "502 after every allowed attempt failed", "SERVABLE ERROR", "other error", "cancelled"}[k]
}

// truth answers from the simulator, the ground truth the proxy cannot see.
type truth struct {
	sim    *cloudcodetest.Server
	emails []string
}

// anyQuota reports whether some account can still serve the family.
func (t truth) anyQuota(f cloudcode.Family) bool {
	for _, e := range t.emails {
		if t.sim.Remaining(e, f, cloudcode.Window5h) > 0 && t.sim.Remaining(e, f, cloudcode.WindowWeekly) > 0 {
			return true
		}
	}
	return false
}

// request is one client call.
type request struct {
	family  cloudcode.Family
	model   string
	session string
	text    string
	stream  bool
	gemini  bool // the Gemini API form, else Code Assist
}

// randomRequest draws a request the way a mix of tools sends them: half
// Gemini and half Claude/GPT, 30 % streaming, half in each API form, 70 %
// in conversations of 3–10 requests.
type requester struct {
	rng     *rand.Rand
	id      int
	session string
	left    int
}

func (q *requester) next() request {
	fam := cloudcode.FamilyGemini
	if q.rng.IntN(2) == 1 {
		fam = cloudcode.FamilyClaudeGPT
	}
	r := request{family: fam, model: proxytest.Models[fam][q.rng.IntN(len(proxytest.Models[fam]))],
		stream: q.rng.IntN(10) < 3, gemini: q.rng.IntN(2) == 0}
	if q.rng.IntN(10) < 3 {
		r.text = fmt.Sprintf("one-shot %d %d", q.id, q.rng.Uint64())
		return r
	}
	if q.left == 0 {
		q.session, q.left = fmt.Sprintf("c%d-s%d", q.id, q.rng.Uint32()), 3+q.rng.IntN(8)
	}
	q.left--
	r.session, r.text = q.session+"/"+fam.String(), "conversation "+q.session
	return r
}

// send makes one request to the proxy and reads the answer to its end.
func send(ctx context.Context, hc *http.Client, base string, r request) (status int, body []byte, readErr error) {
	inner := fmt.Sprintf(`{"contents":[{"role":"user","parts":[{"text":%q}]}]}`, r.text)
	var url, payload string
	switch {
	case r.gemini && r.stream:
		url, payload = base+"/v1beta/models/"+r.model+":streamGenerateContent?alt=sse", inner
	case r.gemini:
		url, payload = base+"/v1beta/models/"+r.model+":generateContent", inner
	case r.stream:
		url, payload = base+"/v1internal:streamGenerateContent?alt=sse", fmt.Sprintf(`{"model":%q,"project":"x","request":%s}`, r.model, inner)
	default:
		url, payload = base+"/v1internal:generateContent", fmt.Sprintf(`{"model":%q,"project":"x","request":%s}`, r.model, inner)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(payload))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if r.session != "" {
		req.Header.Set("x-session-id", r.session)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// judge classifies an answer.
func judge(ctx context.Context, t truth, r request, status int, body []byte, readErr error) kind {
	switch {
	case ctx.Err() != nil && (status == 0 || readErr != nil):
		return clientGone
	case status == http.StatusOK && readErr == nil && !bytes.Contains(body, []byte(`"error"`)):
		return okAnswer
	case status == http.StatusOK:
		return broken
	case status == http.StatusServiceUnavailable && bytes.Contains(body, []byte("MODEL_CAPACITY_EXHAUSTED")):
		return capacity
	case status == http.StatusBadGateway && bytes.Contains(body, []byte(fmt.Sprintf("tried %d account(s)", proxy.DefaultRetryAttempts))):
		// proxy.retry_attempts upstream failures in a row, each a fault the
		// simulator drew at random: the bound on work per request did its job.
		return gaveUp
	case !t.anyQuota(r.family):
		if status == http.StatusTooManyRequests {
			return spent429
		}
		return otherError
	}
	return servable
}

// since returns milliseconds since t, for reports.
func since(t time.Time) float64 { return float64(time.Since(t)) / float64(time.Millisecond) }
