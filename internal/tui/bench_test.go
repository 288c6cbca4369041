package tui

import (
	"context"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
)

// benchModel is a colour dashboard with n accounts at 120×40, every row on
// screen with history and a forecast.
func benchModel(b *testing.B, n int) Model {
	eng := newFakeEngine()
	eng.statuses = manyStatuses(n)
	hist := func(ctx context.Context, id int64, f cloudcode.Family, since time.Time) ([]Point, error) {
		return fakeHistory(ctx, 1+id%2, f, since)
	}
	m := New(Deps{Engine: eng, Proxy: newFakeProxy(), History: hist, Clock: clock.NewFake(t0), Version: "bench"})
	nm, _ := m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	nm, _ = nm.Update(m.initHist())
	nm, _ = nm.Update(eventsMsg{events: fixtureEvents()})
	m = nm.(Model)
	for _, s := range m.shownAccounts() {
		if m.history[s.AccountID] == nil {
			b.Fatalf("no history for account %d, which is on screen", s.AccountID)
		}
	}
	return m
}

// BenchmarkView200 is one full frame with 200 accounts at 120×40.
func BenchmarkView200(b *testing.B) {
	noVerify(b)
	m := benchModel(b, 200)
	b.ReportAllocs()
	for b.Loop() {
		_ = m.View()
	}
}

// BenchmarkSnapshot200 is taking a new snapshot of 200 accounts: filter,
// sort and cursor, what each Changed signal costs.
func BenchmarkSnapshot200(b *testing.B) {
	m := benchModel(b, 200)
	st := m.accounts
	b.ReportAllocs()
	for b.Loop() {
		m.setAccounts(st)
	}
}
