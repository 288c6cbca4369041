package demo

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNewWorldMixesTiersAndPreDrains(t *testing.T) {
	w := NewWorld(Options{Accounts: 12, Speed: 60})
	defer w.Close()
	if len(w.Accounts) != 12 || len(w.StoreAccounts()) != 12 {
		t.Fatalf("got %d accounts, %d store rows; want 12", len(w.Accounts), len(w.StoreAccounts()))
	}
	tiers := map[cloudcode.Tier]int{}
	for _, id := range w.Tiers {
		tiers[cloudcode.NormalizeTier(id, "")]++
	}
	for _, tier := range []cloudcode.Tier{cloudcode.TierFree, cloudcode.TierPro, cloudcode.TierUltra} {
		if tiers[tier] == 0 {
			t.Errorf("no %s account in the demo world: %v", tier, tiers)
		}
	}
	emails := map[string]bool{}
	for _, a := range w.StoreAccounts() {
		if a.Email == "" || a.RefreshToken == "" || a.Label == "" || emails[a.Email] {
			t.Errorf("bad or duplicate store row %v", a)
		}
		emails[a.Email] = true
	}
	// The weekly bottleneck must be visible at once, on a paid account.
	if got := w.Sim.Remaining(w.Accounts[5].Email, cloudcode.FamilyClaudeGPT, cloudcode.WindowWeekly); got > 0.1 || got == 0 {
		t.Errorf("account 5's Claude weekly bucket starts at %.2f, want it nearly empty", got)
	}
	// Free accounts have no Claude/GPT quota, as with Google.
	for i, tier := range w.Tiers {
		got := w.Sim.Remaining(w.Accounts[i].Email, cloudcode.FamilyClaudeGPT, cloudcode.Window5h)
		if free := cloudcode.NormalizeTier(tier, "") == cloudcode.TierFree; free != (got == 0) {
			t.Errorf("account %d (%s): Claude 5h bucket at %.2f", i, tier, got)
		}
	}
}

func TestWorldTokensOpenTheSimulator(t *testing.T) {
	w := NewWorld(Options{Accounts: 2})
	defer w.Close()
	c := cloudcode.New(cloudcode.Config{BaseURLs: w.Sim.BaseURLs(), HTTPClient: w.Sim.Client()})
	sub, err := c.LoadCodeAssist(context.Background(), w.Sim.AccessToken(w.Accounts[0].Email))
	if err != nil {
		t.Fatal(err)
	}
	if sub.Tier != cloudcode.TierUltra {
		t.Errorf("first demo account is %s, want ULTRA", sub.Tier)
	}
}

// recorder is a stand-in proxy that keeps what the traffic sends.
type recorder struct {
	mu       sync.Mutex
	paths    []string
	sessions map[string]int
	keys     int
	n        int
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	r.paths = append(r.paths, req.URL.Path+"?"+req.URL.RawQuery)
	if s := req.Header.Get("x-session-id"); s != "" {
		r.sessions[s]++
	}
	if req.Header.Get("x-goog-api-key") == "k" {
		r.keys++
	}
	if !json.Valid(body) {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	if r.n%5 == 0 {
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	w.Write([]byte(`{}`))
}

func TestTrafficSendsTheMixAndCounts(t *testing.T) {
	rec := &recorder{sessions: map[string]int{}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	tr := NewTraffic(TrafficOptions{ProxyURL: srv.URL, APIKey: "k", Rate: 400, Conversations: 3, Concurrency: 4, Seed: 1, Client: srv.Client()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for tr.Stats().Sent < 60 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := tr.Stats()
	if st.Sent < 60 {
		t.Fatalf("sent %d requests in 10 s at 400/s", st.Sent)
	}
	// Requests still in flight when ctx ended are cancelled: sent, but
	// neither answered nor errors.
	if answered := st.OK + st.Client429; st.Errors != 0 || answered > st.Sent || answered+4 < st.Sent {
		t.Errorf("stats %+v: every answered request should be OK or 429 against the recorder", st)
	}
	if st.Client429 == 0 {
		t.Errorf("stats %+v: the recorder's 429s were not counted", st)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var gemini, codeAssist, stream int
	for _, p := range rec.paths {
		switch {
		case strings.HasPrefix(p, "/v1beta/models/"):
			gemini++
		case strings.HasPrefix(p, "/v1internal:"):
			codeAssist++
		}
		if strings.Contains(p, "streamGenerateContent") && strings.Contains(p, "alt=sse") {
			stream++
		}
	}
	if gemini == 0 || codeAssist == 0 || stream == 0 {
		t.Errorf("mix: %d Gemini API, %d Code Assist, %d streaming; want all three", gemini, codeAssist, stream)
	}
	if len(rec.sessions) == 0 || len(rec.sessions) > 3 {
		t.Errorf("sticky sessions seen: %v, want 1 to 3", rec.sessions)
	}
	if rec.keys != rec.n {
		t.Errorf("%d of %d requests carried the API key", rec.keys, rec.n)
	}
}
