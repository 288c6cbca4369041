package main

// Two real `quotatui serve` processes on one PostgreSQL database and the
// simulator (issue 19): they share marks, one polls, a killed poller hands
// polling on, and a conversation keeps its account across them.

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/store/pg/pgtest"
)

// generateIn sends one Gemini request of conversation session through
// serve s and returns the account that served it (by the simulator's
// counters; "" when none did) and the status. A failed request is
// logged.
func (w *mpWorld) generateIn(s *mpServe, session string, emails ...string) (string, int) {
	w.t.Helper()
	before := map[string]int{}
	for _, e := range emails {
		before[e] = w.srv.Requests(e, "generateContent")
	}
	body := `{"model":"gemini-3-flash","project":"x","request":{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}}`
	req, err := http.NewRequest(http.MethodPost, s.url+"/v1internal:generateContent", strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-session-id", session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		w.t.Logf("request: %d %s", resp.StatusCode, b)
	}
	served := ""
	for _, e := range emails {
		if w.srv.Requests(e, "generateContent") > before[e] {
			served = e
		}
	}
	return served, resp.StatusCode
}

// metric returns the value of one series of serve s's /metrics ("" when
// the series is absent); series is the name with its labels as written.
func metric(t testing.TB, s *mpServe, series string) string {
	t.Helper()
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(string(b))
	if m == nil {
		return ""
	}
	return m[1]
}

// waitUntil polls ok every 20 ms until it holds, failing after d.
func waitUntil(t testing.TB, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s, still waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Two serves on one PostgreSQL database: one polls for both; quotatui
// status is answered by them; a conversation keeps its account whichever
// serve its requests reach; an account A meets a 429 on is avoided by B
// with no 429 of its own; a SIGKILLed poller hands polling to the other
// within one sync interval; with none left, status syncs by itself.
func TestTwoServesShareOnePostgresDatabase(t *testing.T) {
	const x, y = "x@example.com", "y@example.com"
	w := newMPWorldOn(t, pgtest.URL(t),
		cloudcodetest.AccountSpec{Email: x, TierID: "g1-pro-tier"},
		cloudcodetest.AccountSpec{Email: y, TierID: "g1-pro-tier"})
	w.srv.SetRemaining(y, cloudcode.FamilyGemini, cloudcode.WindowWeekly, 0.8) // x ranks first
	const interval = 30 * time.Second                                          // the shortest quota.sync_interval
	// Started together, as on two machines. Without the pre-request check
	// an instance learns an account is spent from a 429 (A) or from
	// another instance's mark (B) only.
	a := w.startServe("--quota-sync-interval", interval.String(), "--proxy-pre-request-check=false")
	b := w.startServe("--quota-sync-interval", interval.String(), "--proxy-pre-request-check=false")
	a.waitListening(t)
	b.waitListening(t)
	serves := []*mpServe{a, b}
	weekly := func(s *mpServe, email string) string {
		return metric(t, s, fmt.Sprintf(`quotatui_remaining_fraction{account=%q,family="gemini",window="weekly"}`, email))
	}

	// One poller: one round of quota reads serves both instances. Whether
	// a second instance polls is settled when it starts (StartMonitor's
	// first beat), long before the reads are counted below.
	waitUntil(t, 15*time.Second, "the first round in both", func() bool { return weekly(a, y) == "0.8" && weekly(b, y) == "0.8" })
	pollers := 0
	for _, s := range serves {
		if strings.Contains(s.stderr.String(), "this process polls the upstream") {
			pollers++
		}
	}
	if pollers != 1 {
		t.Fatalf("%d serves say they poll, want 1", pollers)
	}
	// learning is how many accounts served requests since: the instance
	// that served one reads its quota once early to learn what a request
	// costs (quota's learnSoon), which is no second poller's round (that
	// would read both accounts).
	oneRound := func(when string, learning int) {
		t.Helper()
		for _, rpc := range []string{"fetchAvailableModels", "retrieveUserQuotaSummary"} {
			if n := w.srv.TotalRequests(rpc); n < 2 || n > 2+learning {
				t.Errorf("%s: %d %s calls from two serves on one database, want 2 (one round of 2 accounts) and at most %d early reads to learn the cost", when, n, rpc, learning)
			}
		}
	}
	oneRound("after the first round", 0)
	// quotatui status on the shared database is answered by a running
	// serve, with the poller's figures (no call to the upstream).
	if out := w.run([]string{"status"}); !strings.Contains(out, "from the running serve") || !strings.Contains(out, y) {
		t.Errorf("quotatui status on the shared database:\n%s", out)
	}

	// A conversation keeps its account whichever instance its requests
	// reach, even once a new conversation would go elsewhere.
	all := []string{x, y}
	for _, conv := range []string{"conv-1", "conv-2"} {
		if got, code := w.generateIn(a, conv, all...); got != x || code != http.StatusOK {
			t.Fatalf("%s's first request: %q (%d), want %s", conv, got, code, x)
		}
	}
	// Both conversations went to x: one early read may learn the cost.
	oneRound("a few requests later", 1)
	w.srv.SetRemaining(x, cloudcode.FamilyGemini, cloudcode.WindowWeekly, 0.5) // now y ranks first
	w.run([]string{"status", "--sync"})                                        // a third process syncs; both serves adopt its figures
	waitUntil(t, 10*time.Second, "the new figures in both", func() bool { return weekly(a, x) == "0.5" && weekly(b, x) == "0.5" })
	if got, _ := w.generateIn(b, "fresh", all...); got != y {
		t.Fatalf("a new conversation went to %q, want %s (else the next check proves nothing)", got, y)
	}
	for i, s := range []*mpServe{b, a, b, a, b} {
		if got, code := w.generateIn(s, "conv-1", all...); got != x || code != http.StatusOK {
			t.Fatalf("conv-1's request %d (instance %s): %q (%d), want it to stay on %s", i+2, map[*mpServe]string{a: "A", b: "B"}[s], got, code, x)
		}
	}

	// x runs dry: A meets the 429 and moves on; B learns it from A and
	// moves conv-2 off x before sending anything there.
	w.srv.Drain(x, cloudcode.FamilyGemini)
	xBefore := w.srv.Requests(x, "generateContent")
	if got, code := w.generateIn(a, "conv-1", all...); got != y || code != http.StatusOK {
		t.Fatalf("on A after the drain: %q (%d), want %s", got, code, y)
	}
	if n := metric(t, a, "quotatui_proxy_upstream_429_total"); n != "1" {
		t.Errorf("A met %s upstream 429s, want 1 (x saw %d calls)", n, w.srv.Requests(x, "generateContent")-xBefore)
	}
	usable := fmt.Sprintf(`quotatui_account_usable{account=%q,family="gemini"}`, x)
	waitUntil(t, 5*time.Second, "B to know x is spent", func() bool { return metric(t, b, usable) == "0" })
	xCalls := w.srv.Requests(x, "generateContent")
	if got, code := w.generateIn(b, "conv-2", all...); got != y || code != http.StatusOK {
		t.Fatalf("conv-2 on B: %q (%d), want %s", got, code, y)
	}
	if n := w.srv.Requests(x, "generateContent") - xCalls; n != 0 {
		t.Errorf("B sent %d requests to the spent account", n)
	}
	if n := metric(t, b, "quotatui_proxy_upstream_429_total"); n != "0" {
		t.Errorf("B met %s upstream 429s of its own, want 0", n)
	}

	// The poller is killed: the other polls within one sync interval.
	poller, other := a, b
	if !strings.Contains(a.stderr.String(), "this process polls the upstream") {
		poller, other = b, a
	}
	reads := w.srv.TotalRequests("retrieveUserQuotaSummary")
	killed := time.Now()
	if err := poller.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-poller.done
	waitUntil(t, interval, "the other serve to poll", func() bool {
		return strings.Contains(other.stderr.String(), "this process polls the upstream") &&
			w.srv.TotalRequests("retrieveUserQuotaSummary") >= reads+2
	})
	t.Logf("polling handed on %s after the poller was killed", time.Since(killed).Round(time.Millisecond))
	waitUntil(t, 10*time.Second, "the new poller's round", func() bool {
		n, _ := strconv.Atoi(metric(t, other, "quotatui_syncs_total"))
		return n >= 1
	})

	// With no instance left, quotatui status syncs the shared database
	// itself (it takes the poller's lock for the round), and says x is
	// spent.
	other.stop(t)
	reads = w.srv.TotalRequests("retrieveUserQuotaSummary")
	out, code := w.runExit([]string{"status", "--json"})
	if code != exitExhausted || !strings.Contains(out, x) || !strings.Contains(out, y) {
		t.Errorf("quotatui status with nothing running: exit %d, want %d (x spent)\n%s", code, exitExhausted, out)
	}
	if n := w.srv.TotalRequests("retrieveUserQuotaSummary") - reads; n != 2 {
		t.Errorf("quotatui status with nothing running made %d quota reads, want 2 (its own round)", n)
	}
}
