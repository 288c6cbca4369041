package quota_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/proxy/proxytest"
	"github.com/quotatui/quotatui/internal/quota"
	"github.com/quotatui/quotatui/internal/store"
)

// routed is the whole stack under a policy, for the routing choices' end
// to end tests.
type routed struct {
	t  *testing.T
	st *proxytest.Stack
	hc *http.Client
}

func startRouted(t *testing.T, p quota.Policy, emails ...string) *routed {
	t.Helper()
	var specs []cloudcodetest.AccountSpec
	for _, e := range emails {
		specs = append(specs, cloudcodetest.AccountSpec{Email: e, TierID: "g1-pro-tier"})
	}
	ctx := context.Background()
	st, err := proxytest.Start(ctx, proxytest.Options{Accounts: specs, Clock: clock.NewFake(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)),
		Proxy: proxy.NewOptions(), Quota: quota.Options{Policy: p}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		if err := st.Close(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	if err := st.SyncAll(ctx); err != nil {
		t.Fatal(err)
	}
	return &routed{t: t, st: st, hc: &http.Client{Transport: tr}}
}

// ask sends one generation in a conversation and returns the account that
// answered it.
func (r *routed) ask(model, session string) string {
	r.t.Helper()
	body := fmt.Sprintf(`{"model":%q,"project":"x","request":{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}}`, model)
	req, _ := http.NewRequest(http.MethodPost, r.st.URL+"/v1internal:generateContent", strings.NewReader(body))
	req.Header.Set("x-session-id", session)
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.hc.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		r.t.Fatalf("%s in %s: %d %s", model, session, resp.StatusCode, b)
	}
	return resp.Header.Get("X-Quotatui-Account")
}

// set writes an account's routing choices as `accounts set` does and lets
// the engine reload them, as its monitor does when the counter moves.
func (r *routed) set(email string, rt store.Routing) {
	r.t.Helper()
	ctx := context.Background()
	if err := r.st.Store.SetRouting(ctx, r.st.IDs[email], rt); err != nil {
		r.t.Fatal(err)
	}
	if err := r.st.Quota.Reload(ctx); err != nil {
		r.t.Fatal(err)
	}
}

// A policy decides where a new conversation goes; one already going keeps
// its account whatever the ranking says now.
func TestPolicyOnlyPlacesNewConversations(t *testing.T) {
	const a, b = "a@example.com", "b@example.com"
	r := startRouted(t, quota.PolicyPriority, a, b)
	r.set(a, store.Routing{Priority: 1})
	if got := r.ask("claude-sonnet-4-6", "s1"); got != a {
		t.Fatalf("s1 went to %s, want a (priority 1)", got)
	}
	r.set(b, store.Routing{Priority: 5})
	if got := r.ask("claude-sonnet-4-6", "s1"); got != a {
		t.Errorf("s1 moved to %s when b got a higher priority: a conversation keeps its account", got)
	}
	if got := r.ask("claude-sonnet-4-6", "s2"); got != b {
		t.Errorf("a new conversation went to %s, want b (priority 5)", got)
	}
}

// The user's restrictions are part of "usable": a conversation leaves an
// account that may no longer serve it, before its next request.
func TestRoutingChoicesMoveConversations(t *testing.T) {
	const a, b = "a@example.com", "b@example.com"
	tests := []struct {
		name string
		set  store.Routing
		prep func(r *routed)
	}{
		{"families", store.Routing{Families: []string{"gemini"}}, nil},
		{"disabled_for_proxy", store.Routing{ProxyDisabled: true}, nil},
		{"reserve", store.Routing{Reserve: 0.5}, func(r *routed) {
			r.st.Sim.SetRemaining(a, cloudcode.FamilyClaudeGPT, cloudcode.Window5h, 0.45)
			if err := r.st.Quota.SyncAccount(context.Background(), r.st.IDs[a]); err != nil {
				r.t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startRouted(t, quota.PolicyBalanced, a, b)
			first, other := r.ask("claude-sonnet-4-6", "s1"), b
			if first != a {
				t.Fatalf("s1 started on %s; equal accounts rank by id, want a", first)
			}
			r.set(first, tt.set)
			if tt.prep != nil {
				tt.prep(r)
			}
			before := r.st.Sim.Requests(first, "generateContent")
			if got := r.ask("claude-sonnet-4-6", "s1"); got != other {
				t.Errorf("after %s on %s, s1 is still on %s", tt.name, first, got)
			}
			if n := r.st.Sim.Requests(first, "generateContent") - before; n != 0 {
				t.Errorf("%s got %d more generate calls after %s", first, n, tt.name)
			}
		})
	}
}
