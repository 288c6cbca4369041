package statusapi

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
)

// Requests the proxy served since the last sync bring the figures down at
// once: the running instance's answer marks them estimated (with the
// synced figure and the requests since), the table and the line show ≈,
// and the next sync replaces the estimate.
func TestAnswerShowsTheEstimate(t *testing.T) {
	p := newPool(t, 1)
	dir := shortDir(t)
	serve(t, dir, p.db, p.q, "serve")
	id := p.q.GetAllQuotas()[0].AccountID
	for range 3 {
		p.q.Record(quota.Spend{AccountID: id, Family: cloudcode.FamilyGemini, Model: "gemini-3-flash", Charged: true})
	}
	ans, err := ask(dir, p.db)
	if err != nil {
		t.Fatal(err)
	}
	g := ans.Accounts[0].Families["gemini"]
	if !g.Estimated || g.Synced == nil || g.Effective == nil || *g.Effective >= *g.Synced || g.RequestsSinceSync != 3 {
		t.Fatalf("gemini after 3 requests: %+v (effective %v, synced %v), want an estimate below the synced figure over 3 requests",
			g, deref(g.Effective), deref(g.Synced))
	}
	if c := ans.Accounts[0].Families["claude-gpt"]; c.Estimated {
		t.Errorf("claude-gpt served nothing but is estimated: %+v", c)
	}
	var b bytes.Buffer
	if err := WriteTable(&b, ans.Accounts, ans.At); err != nil {
		t.Fatal(err)
	}
	if want := g.Shown(); !strings.HasPrefix(want, "≈") || !strings.Contains(b.String(), want) {
		t.Errorf("table without the estimate %q:\n%s", want, b.String())
	}
	if l := LineOf(ans); !l.Families[0].Estimated || !strings.HasPrefix(l.Families[0].Text, "≈") {
		t.Errorf("line family %+v: want the estimate marked", l.Families[0])
	}

	// The upstream saw the requests (here: its figures fell further than
	// the prior guessed); the sync's figure replaces the estimate.
	email := ans.Accounts[0].Email
	p.sim.SetRemaining(email, cloudcode.FamilyGemini, cloudcode.Window5h, 0.6)
	p.sim.SetRemaining(email, cloudcode.FamilyGemini, cloudcode.WindowWeekly, 0.9)
	if r := p.q.SyncAll(context.Background()); len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	ans, err = ask(dir, p.db)
	if err != nil {
		t.Fatal(err)
	}
	if g := ans.Accounts[0].Families["gemini"]; g.Estimated || g.Synced != nil || g.Shown() != "60%" {
		t.Errorf("after the next sync: %+v, want the synced figure, not an estimate", g)
	}
	if l := LineOf(ans); l.Families[0].Estimated || strings.HasPrefix(l.Families[0].Text, "≈") {
		t.Errorf("line after the sync: %+v", l.Families[0])
	}
}

// Shown marks only a known estimated figure.
func TestShown(t *testing.T) {
	v := 0.42
	for _, tt := range []struct {
		f    Family
		want string
	}{
		{Family{Effective: &v}, "42%"},
		{Family{Effective: &v, Estimated: true}, "≈42%"},
		{Family{Estimated: true}, "?"},
	} {
		if got := tt.f.Shown(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.f, got, tt.want)
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
