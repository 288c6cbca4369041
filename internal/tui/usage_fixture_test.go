package tui

import (
	"context"
	"time"

	"github.com/quotatui/quotatui/internal/quota"
	"github.com/quotatui/quotatui/internal/store"
)

// fakeUsage is the fixture's ledger: alice (1) served Gemini and Claude
// today and two days ago, dave (4) Gemini yesterday; two conversations.
func fakeUsage(_ context.Context, since time.Time, accountID int64) (quota.UsageReport, error) {
	h := func(id int64, model, client string, ago time.Duration, req, errs, in, out, think, cached int64) store.UsageHour {
		return store.UsageHour{AccountID: id, Family: "gemini", Model: model, Client: client, Hour: t0.Add(-ago).Truncate(time.Hour),
			Charged: req + errs, Requests: req, Errors: errs,
			Tokens: store.Tokens{Prompt: in, Candidates: out, Thoughts: think, Cached: cached, Total: in + out + think}}
	}
	all := []store.UsageHour{
		h(1, "gemini-3-flash", "gemini-cli", 50*time.Hour, 40, 1, 512_400, 40_100, 12_900, 301_000),
		h(1, "gemini-3-flash", "gemini-cli", 2*time.Hour, 12, 0, 96_000, 8_200, 3_100, 60_000),
		h(1, "claude-sonnet-4-6", "claude-cli", time.Hour, 30, 2, 1_200_000, 45_000, 20_000, 900_000),
		h(4, "gemini-3-pro", "opencode", 20*time.Hour, 5, 0, 40_000, 2_000, 0, 0),
	}
	r := quota.UsageReport{Since: since}
	for _, x := range all {
		if (accountID == 0 || x.AccountID == accountID) && !x.Hour.Before(since.Truncate(time.Hour)) {
			r.Hours = append(r.Hours, x)
		}
	}
	if accountID == 0 {
		r.Conversations = []store.Conversation{
			{Session: "9f2c41d0b7e1a3c4d5e6", Client: "claude-cli", AccountID: 1, Model: "claude-sonnet-4-6", Last: t0.Add(-time.Hour),
				Requests: 32, Errors: 2, Tokens: store.Tokens{Total: 1_265_000}},
			{Session: "gemini-cli-7", Client: "gemini-cli", AccountID: 1, Model: "gemini-3-flash", Last: t0.Add(-2 * time.Hour),
				Requests: 12, Tokens: store.Tokens{Total: 107_300}},
		}
	}
	return r, nil
}
