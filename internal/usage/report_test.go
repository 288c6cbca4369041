package usage

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/store"
)

var t0 = time.Date(2026, 11, 29, 22, 0, 0, 0, time.UTC)

func hour(acct int64, model string, at time.Time, req, errs, total int64) store.UsageHour {
	return store.UsageHour{AccountID: acct, Family: "gemini", Model: model, Hour: at, Requests: req, Errors: errs, Charged: req,
		Tokens: store.Tokens{Prompt: total / 2, Candidates: total / 4, Thoughts: total / 4, Total: total}}
}

// Sum groups by account (named, or #id), model and day (in the given
// zone), the most tokens first, days in order.
func TestSum(t *testing.T) {
	hs := []store.UsageHour{
		hour(1, "gemini-3-flash", t0, 3, 0, 300),
		hour(2, "claude-sonnet-4-6", t0, 1, 1, 5000),
		hour(1, "claude-sonnet-4-6", t0.Add(3*time.Hour), 2, 0, 1000), // the next day in UTC, the same in New York
	}
	name := func(id int64) string { return map[int64]string{1: "ada@example.com"}[id] }
	keys := func(gs []Group) string {
		var ks []string
		for _, g := range gs {
			ks = append(ks, g.Key)
		}
		return strings.Join(ks, " ")
	}
	if got := keys(Sum(hs, ByModel, name, nil)); got != "claude-sonnet-4-6 gemini-3-flash" {
		t.Errorf("by model: %s", got)
	}
	acct := Sum(hs, ByAccount, name, nil)
	if got := keys(acct); got != "#2 ada@example.com" || acct[1].Requests != 5 || acct[1].Tokens.Total != 1300 {
		t.Errorf("by account: %s %+v", got, acct)
	}
	if got := keys(Sum(hs, ByDay, name, nil)); got != "2026-11-29 2026-11-30" {
		t.Errorf("by day in UTC: %s", got)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err == nil {
		if got := Sum(hs, ByDay, name, ny); len(got) != 1 || got[0].Key != "2026-11-29" || got[0].Errors != 1 {
			t.Errorf("by day in New York: %+v", got)
		}
	}
	if tot := Total(hs); tot.Requests != 6 || tot.Errors != 1 || tot.Tokens.Total != 6300 {
		t.Errorf("total %+v", tot)
	}
}

func TestParseFlags(t *testing.T) {
	for in, want := range map[string]time.Duration{"24h": 24 * time.Hour, "90m": 90 * time.Minute, "7d": 7 * 24 * time.Hour, "1.5d": 36 * time.Hour} {
		if got, err := ParseSince(in); err != nil || got != want {
			t.Errorf("ParseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "yesterday", "-1h", "0d", "7w"} {
		if _, err := ParseSince(bad); err == nil {
			t.Errorf("ParseSince(%q) took it", bad)
		}
	}
	if b, err := ParseBy(" Account "); err != nil || b != ByAccount {
		t.Errorf("ParseBy: %v %v", b, err)
	}
	if _, err := ParseBy("hour"); err == nil {
		t.Error("ParseBy(hour) took it")
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1.0k", 12345: "12.3k", 999_949: "999.9k", 999_950: "1.0M", 4_100_000: "4.1M", 2_000_000_000: "2.0G"} {
		if got := Count(n); got != want {
			t.Errorf("Count(%d) = %s, want %s", n, got, want)
		}
	}
}

// The table aligns names left and figures right; JSON carries every
// token type and names accounts.
func TestRender(t *testing.T) {
	r := Report{Since: t0, Until: t0.Add(time.Hour), By: ByModel,
		Groups: Sum([]store.UsageHour{hour(1, "gemini-3-flash", t0, 3, 0, 300), hour(1, "m", t0, 1, 0, 12000)}, ByModel, nil, nil)}
	r.Total = Total([]store.UsageHour{hour(1, "gemini-3-flash", t0, 3, 0, 300), hour(1, "m", t0, 1, 0, 12000)})
	r.Conversations = []store.Conversation{{Session: strings.Repeat("s", 40), Client: "claude-cli", AccountID: 1, Model: "m", Last: t0, Requests: 1,
		Tokens: store.Tokens{Total: 12000}}}
	name := func(int64) string { return "ada@example.com" }
	var b bytes.Buffer
	if err := WriteTable(&b, r, name); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if !strings.HasPrefix(lines[2], "MODEL   ") || !strings.HasPrefix(lines[3], "m       ") || !strings.HasSuffix(lines[3], "12.0k") ||
		!strings.HasPrefix(lines[5], "total  ") || !strings.Contains(b.String(), strings.Repeat("s", 23)+"…") {
		t.Errorf("table:\n%s", b.String())
	}
	b.Reset()
	if err := WriteJSON(&b, r, name); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Groups []struct {
			Key    string
			Tokens map[string]int64
		}
		Conversations []struct{ Account string }
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Groups) != 2 || got.Groups[0].Key != "m" || len(got.Groups[0].Tokens) != 5 || got.Groups[0].Tokens["thoughts"] != 3000 ||
		len(got.Conversations) != 1 || got.Conversations[0].Account != "ada@example.com" {
		t.Errorf("json:\n%s", b.String())
	}
}
