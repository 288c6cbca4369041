package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
)

var t0 = time.Date(2026, 11, 27, 16, 50, 0, 0, time.UTC)

// fakeAccount is one account of fakeQuota. remaining maps a family to its
// effective fraction; a missing family is unknown.
type fakeAccount struct {
	id        int64
	label     string
	project   string
	tier      cloudcode.Tier
	state     quota.AccountState
	remaining map[cloudcode.Family]float64
	reset     time.Time
	marks     map[cloudcode.Family]quota.Mark
	lastUsed  time.Time
	// cost is what one request costs of the 5-hour figure (the engine's
	// learned cost: Check.Left comes from it); synced, when set, is the
	// figure the last sync read, the remaining one then an estimate.
	cost   map[cloudcode.Family]float64
	synced map[cloudcode.Family]float64
}

// fakeQuota is a small quota engine: decisions from fixed fractions,
// marks kept per (account, family), and a log of every call the proxy made.
type fakeQuota struct {
	clk clock.Clock

	mu       sync.Mutex
	accts    []*fakeAccount
	log      []string
	starts   []time.Time   // RecordSuccess startedAt values
	spends   []quota.Spend // the ledger's records
	events   []quota.Event
	syncs    map[int64]int
	onSync   func(id int64) // runs inside SyncAccount, under no lock
	noSyncer bool
	tokens   *fakeTokens  // invalidated by Apply, as the engine's are
	health   quota.Health // what Health reports
}

func newFakeQuota(clk clock.Clock, n int) *fakeQuota {
	q := &fakeQuota{clk: clk, syncs: map[int64]int{}}
	for i := 1; i <= n; i++ {
		q.accts = append(q.accts, &fakeAccount{
			id: int64(i), label: fmt.Sprintf("acct%d", i), project: fmt.Sprintf("proj-%d", i), tier: cloudcode.TierPro,
			state:     quota.StateActive,
			remaining: map[cloudcode.Family]float64{cloudcode.FamilyGemini: 0.8, cloudcode.FamilyClaudeGPT: 0.8},
			reset:     t0.Add(2*time.Hour + 10*time.Minute), marks: map[cloudcode.Family]quota.Mark{},
			cost: map[cloudcode.Family]float64{}, synced: map[cloudcode.Family]float64{},
		})
	}
	return q
}

func (q *fakeQuota) acct(id int64) *fakeAccount {
	for _, a := range q.accts {
		if a.id == id {
			return a
		}
	}
	return nil
}

func (q *fakeQuota) set(id int64, f cloudcode.Family, rem float64) {
	q.mu.Lock()
	q.acct(id).remaining[f] = rem
	q.mu.Unlock()
}

// estimate makes the account's figure for f an estimate: synced as the
// last sync read it, rem now, at cost per request.
func (q *fakeQuota) estimate(id int64, f cloudcode.Family, synced, rem, cost float64) {
	q.mu.Lock()
	a := q.acct(id)
	a.synced[f], a.remaining[f], a.cost[f] = synced, rem, cost
	q.mu.Unlock()
}

// synced replaces the account's figure for f by one a sync read.
func (q *fakeQuota) synced(id int64, f cloudcode.Family, rem float64) {
	q.mu.Lock()
	a := q.acct(id)
	delete(a.synced, f)
	a.remaining[f] = rem
	q.mu.Unlock()
}

func (q *fakeQuota) record(format string, args ...any) {
	q.log = append(q.log, fmt.Sprintf(format, args...))
}

// Log returns the calls recorded so far.
func (q *fakeQuota) Log() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.log)
}

// checkLocked answers with the engine's own predicate on the account's
// status: no second copy of "is this account usable?".
func (q *fakeQuota) checkLocked(a *fakeAccount, model string) quota.Check {
	st := q.statusLocked(a)
	return st.Check(model, q.clk.Now())
}

func (q *fakeQuota) CheckQuota(ctx context.Context, id int64, model string) (quota.Check, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	a := q.acct(id)
	if a == nil {
		return quota.Check{}, fmt.Errorf("no account %d", id)
	}
	return q.checkLocked(a, model), nil
}

// CheckQuotaFresh syncs (counted, with the onSync hook) and then checks,
// as the engine does.
func (q *fakeQuota) CheckQuotaFresh(ctx context.Context, id int64, model string) (quota.Check, error) {
	if err := q.SyncAccount(ctx, id); err != nil {
		return quota.Check{}, err
	}
	return q.CheckQuota(ctx, id, model)
}

func (q *fakeQuota) SyncAccount(ctx context.Context, id int64) error {
	q.mu.Lock()
	q.syncs[id]++
	fn := q.onSync
	q.mu.Unlock()
	if fn != nil {
		fn(id)
	}
	return nil
}

func (q *fakeQuota) Syncs(id int64) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.syncs[id]
}

func (q *fakeQuota) Best(model string) (quota.Candidate, bool) {
	for _, c := range q.Rank(model) {
		if c.Check.Usable {
			return c, true
		}
	}
	return quota.Candidate{}, false
}

func (q *fakeQuota) Rank(model string) []quota.Candidate {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []quota.Candidate
	for _, a := range q.accts {
		out = append(out, quota.Candidate{AccountID: a.id, Label: a.label, Tier: a.tier, Check: q.checkLocked(a, model), LastUsed: a.lastUsed})
	}
	slices.SortStableFunc(out, func(a, b quota.Candidate) int {
		switch {
		case a.Check.Usable == b.Check.Usable:
			return 0
		case a.Check.Usable:
			return -1
		default:
			return 1
		}
	})
	return out
}

// statusLocked is the account as the engine would report it: each family
// with a figure has it as its 5-hour bucket (the effective figure), its
// marks and its state, at the fake clock's time with the default
// thresholds.
func (q *fakeQuota) statusLocked(a *fakeAccount) quota.Status {
	st := quota.Status{AccountID: a.id, Label: a.label, Tier: a.tier, ProjectID: a.project, State: a.state, EngineState: a.state,
		LastUsed: a.lastUsed, At: q.clk.Now(), Thresholds: quota.DefaultThresholds}
	if a.state == quota.StateDisabled {
		st.EngineState, st.Disabled = quota.StateActive, true
	}
	for i, f := range cloudcode.Families {
		fq := &st.Families[i]
		fq.Family = f
		fq.Models = []cloudcode.ModelQuota{{ID: map[cloudcode.Family]string{cloudcode.FamilyGemini: "gemini-3-flash", cloudcode.FamilyClaudeGPT: "claude-sonnet-4-6"}[f], DisplayName: "Model " + f.String(), Family: f}}
		if r, ok := a.remaining[f]; ok {
			fq.FiveHour = quota.BucketQuota{Remaining: cloudcode.KnownFraction(r), ResetTime: a.reset}
			fq.Effective, fq.Bottleneck, fq.ResetTime = fq.FiveHour.Remaining, cloudcode.Window5h, a.reset
			fq.Decision = quota.MakeDecision(fq.Effective, quota.DefaultThresholds)
			fq.Cost5h = a.cost[f]
			if v, ok := a.synced[f]; ok {
				fq.Estimated, fq.Synced = true, cloudcode.KnownFraction(v)
			}
		}
		if mk, ok := a.marks[f]; ok {
			st.Marks[i] = mk
		}
	}
	return st
}

func (q *fakeQuota) Account(id int64) (quota.Status, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	a := q.acct(id)
	if a == nil {
		return quota.Status{}, false
	}
	return q.statusLocked(a), true
}

func (q *fakeQuota) GetAllQuotas() []quota.Status {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []quota.Status
	for _, a := range q.accts {
		out = append(out, q.statusLocked(a))
	}
	return out
}

func (q *fakeQuota) ModelListed(id string) (known, listed bool) {
	return listedIn(q.GetAllQuotas(), id)
}

// listedIn is quota.Manager.ModelListed over the fakes' statuses.
func listedIn(all []quota.Status, id string) (known, listed bool) {
	for i := range all {
		k, any := all[i].ListsModel(id)
		if k {
			return true, true
		}
		listed = listed || any
	}
	return false, listed
}

// Apply records the verdict's effect the way the engine carries it out:
// the mark (in the log as "exhausted", "cooldown"), the state ("state"),
// the token invalidation and the resync. A verdict that needs a fresh
// quota read to be proven (Verify) makes one; the fake's reads never
// fail, so it is never proven here (the real engine's verification runs in
// TestGenerationForbidden).
func (q *fakeQuota) Apply(ctx context.Context, id int64, f cloudcode.Family, v quota.Verdict, receivedAt time.Time) error {
	if v.Verify {
		q.SyncAccount(ctx, id)
		return fmt.Errorf("apply to account %d: %w", id, quota.ErrUnconfirmed)
	}
	q.mu.Lock()
	a := q.acct(id)
	switch v.Effect {
	case quota.EffectExhausted:
		q.record("exhausted %d %s until %s", id, f, v.Until.Format(time.RFC3339))
		a.marks[f] = quota.Mark{Kind: quota.ExhaustedMark, Until: v.Until, Since: receivedAt, Reason: v.Reason}
	case quota.EffectCooldown:
		q.record("cooldown %d %s for %s", id, f, v.Until.Sub(q.clk.Now()))
		a.marks[f] = quota.Mark{Kind: quota.CooldownMark, Until: v.Until, Since: q.clk.Now(), Reason: v.Reason}
	case quota.EffectForbidden, quota.EffectValidationRequired, quota.EffectNeedsLogin, quota.EffectClientMismatch, quota.EffectNeedsClient:
		q.record("state %d %s %s", id, v.Effect.State(), v.ValidationURL)
		a.state = v.Effect.State()
	}
	if v.Resync {
		q.record("resync %d", id)
	}
	tokens := q.tokens
	q.mu.Unlock()
	if v.Effect == quota.EffectRefreshToken && tokens != nil {
		tokens.Invalidate(id)
	}
	return nil
}

func (q *fakeQuota) Health() quota.Health {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.health
}

func (q *fakeQuota) RecordSuccess(id int64, f cloudcode.Family, startedAt time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.record("success %d %s", id, f)
	q.starts = append(q.starts, startedAt)
}

// Record keeps what the proxy entered in the ledger.
func (q *fakeQuota) Record(sp quota.Spend) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.spends = append(q.spends, sp)
}

// Spends returns what the proxy recorded so far.
func (q *fakeQuota) Spends() []quota.Spend {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.spends)
}

func (q *fakeQuota) Touch(id int64, at time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.acct(id).lastUsed = at
}

func (q *fakeQuota) ResyncSoon(id int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.record("resync %d", id)
}

func (q *fakeQuota) Publish(e quota.Event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.events = append(q.events, e)
}

func (q *fakeQuota) Events() []quota.Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.events)
}

// fakeTokens hands out "tok-<id>-<generation>"; Invalidate bumps the
// generation, as a refresh would.
type fakeTokens struct {
	mu   sync.Mutex
	gen  map[int64]int
	inv  []int64
	fail bool // every Token fails, as for accounts that need a login
}

func (t *fakeTokens) Token(ctx context.Context, id int64) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fail {
		return "", fmt.Errorf("account %d needs a new login", id)
	}
	return fmt.Sprintf("tok-%d-%d", id, t.gen[id]), nil
}

func (t *fakeTokens) Invalidate(id int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gen == nil {
		t.gen = map[int64]int{}
	}
	t.gen[id]++
	t.inv = append(t.inv, id)
}

// fakeUpstream answers each call with fn and records the requests.
type fakeUpstream struct {
	mu    sync.Mutex
	calls []cloudcode.Request
	fn    func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error)
}

func (u *fakeUpstream) Do(ctx context.Context, r cloudcode.Request) (*http.Response, error) {
	u.mu.Lock()
	u.calls = append(u.calls, r)
	n := len(u.calls)
	u.mu.Unlock()
	return u.fn(ctx, n, r)
}

func (u *fakeUpstream) Calls() []cloudcode.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.calls)
}

// accountOf returns the account id a request's token belongs to.
func accountOf(r cloudcode.Request) int64 {
	var id, gen int64
	fmt.Sscanf(r.AccessToken, "tok-%d-%d", &id, &gen)
	return id
}

func jsonResponse(status int, body string) *http.Response {
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body))}
}

const okAnswer = `{"response":{"candidates":[{"content":{"role":"model","parts":[{"text":"hello"}]}}]},"traceId":"t1"}`

// harness is a proxy over the fakes, served by httptest.
type harness struct {
	t      *testing.T
	clk    *clock.Fake
	q      *fakeQuota
	tokens *fakeTokens
	up     *fakeUpstream
	srv    *Server
	ts     *httptest.Server
}

func newHarness(t *testing.T, accounts int, opt Options, fn func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error)) *harness {
	t.Helper()
	clk := clock.NewFake(t0)
	h := &harness{t: t, clk: clk, q: newFakeQuota(clk, accounts), tokens: &fakeTokens{}, up: &fakeUpstream{fn: fn}}
	h.q.tokens = h.tokens
	opt.Clock = clk
	srv, err := New(h.q, h.tokens, h.up, opt)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	h.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(h.ts.Close)
	return h
}

// post sends a JSON body to path and returns the response with its body read.
func (h *harness) post(path, body string, hdr ...string) (*http.Response, string) {
	h.t.Helper()
	return h.do(http.MethodPost, path, body, append([]string{"Content-Type", "application/json"}, hdr...)...)
}

// do sends a request with the headers given as name, value pairs (a POST
// is JSON unless they say otherwise) and returns the response with its
// body read.
func (h *harness) do(method, path, body string, hdr ...string) (*http.Response, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.ts.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp, string(b)
}

func genBody(model, text string) string {
	return fmt.Sprintf(`{"model":%q,"project":"client-project","request":{"contents":[{"role":"user","parts":[{"text":%q}]}]}}`, model, text)
}
