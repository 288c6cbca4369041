package tui

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/proxy/proxytest"
	"github.com/quotatui/quotatui/internal/usage"
)

// An estimated figure shows as ≈ in the table and in the detail, which
// says what it stands on; a synced one does not.
func TestEstimateShown(t *testing.T) {
	f := newFixture(t, 120, 40, true)
	if row := rowOfLabel(f.view(), "dave"); !strings.Contains(row, "≈55% 5h") || strings.Count(row, "≈") != 1 {
		t.Errorf("dave's row %q: want Gemini ≈55%% and Claude without the mark", row)
	}
	if row := rowOfLabel(f.view(), "alice"); strings.Contains(row, "≈") {
		t.Errorf("alice's synced figures marked estimated: %q", row)
	}
	f.press("/", "d", "a", "v", "e", "enter", "enter")
	v := f.view()
	for _, want := range []string{"≈55%  resets", "≈ estimated: 60% at the last sync, less 4 requests since; the next sync confirms it"} {
		if !strings.Contains(v, want) {
			t.Errorf("dave's detail lacks %q:\n%s", want, v)
		}
	}
}

// rowOfLabel is the table line of the account labelled label.
func rowOfLabel(view, label string) string {
	for _, l := range strings.Split(view, "\n") {
		if strings.HasPrefix(strings.TrimLeft(l, "▸ "), label+" ") {
			return l
		}
	}
	return ""
}

// u opens the pool's usage (account 0) and esc closes it; the detail
// reads its account's; an open view reads again after usageRefresh on
// the tick, never twice at a time; a failed read says so.
func TestUsageViewKeys(t *testing.T) {
	f := newFixture(t, 120, 40, true)
	msgs := runCmd(f.press("u"))
	if f.m.page() != pageUsage || len(msgs) != 1 {
		t.Fatalf("u: page %v, messages %v", f.m.page(), msgs)
	}
	if um, ok := msgs[0].(usageMsg); !ok || um.accountID != 0 {
		t.Fatalf("u read %+v, want the pool's usage", msgs[0])
	}
	if f.m.startUsage(false) != nil {
		t.Error("a second read started while one runs")
	}
	f.send(msgs[0])
	if v := f.view(); !strings.Contains(v, "TOP CONVERSATIONS") || !strings.Contains(v, "claude-cli   30    2    1.3M") {
		t.Errorf("usage view:\n%s", v)
	}
	// The tick reads again once usageRefresh has passed, not before.
	if cmd := f.send(statsMsg{now: t0.Add(time.Second)}); hasUsageRead(cmd) {
		t.Error("read again after a second")
	}
	if cmd := f.send(statsMsg{now: t0.Add(usageRefresh)}); !hasUsageRead(cmd) {
		t.Error("not read again after usageRefresh")
	}
	f.press("esc")
	if f.m.page() != pageMain {
		t.Errorf("esc left page %v", f.m.page())
	}

	f.press("/", "a", "l", "i", "c", "e", "enter")
	var got []usageMsg
	for _, msg := range runCmd(f.press("enter")) {
		if um, ok := msg.(usageMsg); ok {
			got = append(got, um)
			f.send(um)
		}
	}
	if len(got) != 1 || got[0].accountID != 1 {
		t.Fatalf("the detail read %+v, want alice's usage", got)
	}
	if v := f.view(); !strings.Contains(v, "USAGE (through this proxy)") || !strings.Contains(v, "today   12 req · 0 err · in 96.0k") ||
		strings.Contains(v, "in 40.0k") {
		t.Errorf("alice's detail usage (without dave's 40.0k prompt tokens):\n%s", v)
	}

	f.send(usageMsg{accountID: 1, err: context.DeadlineExceeded})
	if v := f.view(); !strings.Contains(v, "usage: context deadline exceeded") {
		t.Errorf("a failed read is not shown:\n%s", v)
	}
}

func hasUsageRead(cmd tea.Cmd) bool {
	for _, msg := range runCmd(cmd) {
		if _, ok := msg.(usageMsg); ok {
			return true
		}
	}
	return false
}

// Without a usage source the key says so instead of waiting forever.
func TestUsageViewWithoutSource(t *testing.T) {
	f := &fixture{eng: newFakeEngine(), prx: newFakeProxy()}
	f.m = New(Deps{Engine: f.eng, Proxy: f.prx, NoColor: true})
	f.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	if cmd := f.press("u"); cmd != nil {
		t.Errorf("u without a source returned a command")
	}
	if v := f.view(); !strings.Contains(v, "no usage here") {
		t.Errorf("usage view without a source:\n%s", v)
	}
}

// TestUsageWithRealStack drives the dashboard over the real engine and
// proxy against the simulator: a whole answer and a stream through the
// proxy make the account's Gemini figure an estimate (≈) at once, and the
// usage view shows the answers' final tokens by type.
func TestUsageWithRealStack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := proxytest.Start(ctx, proxytest.Options{Accounts: []cloudcodetest.AccountSpec{{Email: "pro@example.com", TierID: "g1-pro-tier"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	feed := st.Quota.Subscribe()
	defer feed.Close()
	scr := &screen{}
	deps := Deps{Engine: st.Quota, Feed: feed, Proxy: st.Proxy, NoColor: true, Tick: 20 * time.Millisecond, Usage: st.Quota.Usage}
	tm := teatest.NewTestModel(t, New(deps).WithContext(ctx), teatest.WithInitialTermSize(120, 40),
		teatest.WithProgramOptions(tea.WithFilter(scr.filter)))
	scr.waitFor(t, "pro@example.com", "✓ OK")

	var want usage.Figures
	for _, rq := range []struct{ path, body string }{
		{"/v1internal:generateContent", `{"model":"gemini-3-flash","request":{"contents":[{"role":"user","parts":[{"text":"Write a haiku."}]}]}}`},
		{"/v1internal:streamGenerateContent?alt=sse", `{"model":"gemini-3-flash","request":{"contents":[{"role":"user","parts":[{"text":"Explain buckets."}]}],"generationConfig":{"thinkingConfig":{"includeThoughts":true,"thinkingBudget":256}}}}`},
	} {
		resp, err := http.Post(st.URL+rq.path, "application/json", strings.NewReader(rq.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", rq.path, resp.StatusCode, b)
		}
		want.Add(finalTokens(t, string(b)))
	}
	// The estimate moves the bar before any sync.
	scr.waitFor(t, "≈")
	tm.Send(keyPress("u"))
	// MODEL REQ ERR IN OUT THINK CACHED TOTAL
	tok := want.Tokens
	row := strings.Join([]string{"gemini-3-flash", "2", "0", usage.Count(tok.Prompt), usage.Count(tok.Candidates),
		usage.Count(tok.Thoughts), usage.Count(tok.Cached), usage.Count(tok.Total)}, " ")
	scr.waitForFunc(t, "the model's line "+row, func(v string) bool {
		for _, l := range strings.Split(v, "\n") {
			if strings.Join(strings.Fields(l), " ") == row {
				return true
			}
		}
		return false
	})
	tm.Send(keyPress("q"))
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
	cancel()
}

// finalTokens is an answer's final usage as one request's figures.
func finalTokens(t *testing.T, body string) usage.Figures {
	t.Helper()
	u, err := proxytest.FinalUsage(body)
	if err != nil {
		t.Fatal(err)
	}
	return usage.Figures{Requests: 1, Tokens: u}
}

// waitForFunc polls the frame until ok holds for it, or fails after a
// deadline naming what.
func (s *screen) waitForFunc(t *testing.T, what string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v := s.get()
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("frame never showed %s; last frame:\n%s", what, v)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
