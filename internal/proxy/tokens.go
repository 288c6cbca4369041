package proxy

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
)

// Choice is the account the token manager picked for one upstream call.
type Choice struct {
	AccountID   int64
	Label       string
	Project     string
	AccessToken string
	// Switched is set when the session was bound to another account and
	// moved to this one.
	Switched bool
	// From is the account the session moved away from (0 when none).
	From  int64
	Check quota.Check

	release func() // frees the low-zone gate; nil when none was taken
}

// Release frees what the choice holds (the low-zone gate of its account).
// It is safe to call more than once.
func (c *Choice) Release() {
	if c.release != nil {
		c.release()
		c.release = nil
	}
}

// binding ties a session to an account for one model family.
type binding struct {
	account  int64
	lastUsed time.Time
}

type gateKey struct {
	account int64
	family  cloudcode.Family
}

// TokenManager picks the account for each request: a session keeps its
// account while the quota engine says it can serve the model, and moves
// to the best alternative before the request goes out when it cannot.
type TokenManager struct {
	q        Quota
	tokens   TokenSource
	clk      clock.Clock
	idle     time.Duration
	preCheck bool
	stats    *counters
	log      *slog.Logger

	mu        sync.Mutex
	sessions  map[string]*binding // session + "\x00" + family
	lastSweep time.Time
	// gates allow one request at a time on an (account, family) in the
	// LowQuota zone: with the fresh check before each, concurrent requests
	// cannot together spend more than the account has left.
	gates map[gateKey]chan struct{}
	// usage predicts what an (account, family) has left between the
	// engine's syncs, from the requests sent since its last figure.
	usage map[gateKey]*usage
	low   float64 // the low-zone threshold
}

// usage is what the proxy spent on an (account, family) since the engine's
// figure last changed, and what one request costs, learned from how much
// the figure fell over the requests sent.
type usage struct {
	fraction float64 // the engine's figure when last seen
	sent     int     // requests answered 2xx since
	cost     float64 // fraction per request (moving average); 0 until learned
}

func newTokenManager(q Quota, tokens TokenSource, clk clock.Clock, idle time.Duration, preCheck bool, low float64, st *counters, log *slog.Logger) *TokenManager {
	return &TokenManager{q: q, tokens: tokens, clk: clk, idle: idle, preCheck: preCheck, low: low, stats: st, log: log,
		sessions: map[string]*binding{}, gates: map[gateKey]chan struct{}{}, usage: map[gateKey]*usage{}}
}

// predict lowers a Proceed to LowQuota when the requests sent since the
// engine's figure, at the learned cost each, bring it into the low zone:
// between two syncs a busy account can drain its whole low zone, and the
// pre-request check must see that coming. fresh says the figure was just
// fetched, so the requests before it are already in it.
func (m *TokenManager) predict(k gateKey, c quota.Check, fresh bool) quota.Check {
	if !c.Remaining.Known {
		return c
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.usage[k]
	if u == nil {
		m.usage[k] = &usage{fraction: c.Remaining.Value}
		return c
	}
	if v := c.Remaining.Value; v != u.fraction || fresh {
		if u.sent > 0 && v < u.fraction {
			obs := (u.fraction - v) / float64(u.sent)
			u.cost = cmp.Or(u.cost, obs)*0.5 + obs*0.5
		}
		u.fraction, u.sent = v, 0
	}
	if c.Decision == quota.Proceed && u.cost > 0 && c.Remaining.Value-u.cost*float64(u.sent) < m.low {
		c.Decision, c.Reason = quota.LowQuota, "low quota (predicted from the requests sent since the last sync)"
	}
	return c
}

// spent counts a request the upstream accepted on an (account, family).
func (m *TokenManager) spent(k gateKey) {
	m.mu.Lock()
	if u := m.usage[k]; u != nil {
		u.sent++
	}
	m.mu.Unlock()
}

// Token returns the account to use for model in session (which may be
// empty for a one-shot call) and a fresh access token for it. It returns
// a *NoAccountError when no account can serve the model.
func (m *TokenManager) Token(ctx context.Context, model, session string) (Choice, error) {
	return m.pick(ctx, model, session, nil)
}

// repick runs one selection again without the accounts that could not get
// an access token, until it succeeds or fails for another reason.
func repick(exclude map[int64]bool, once func(map[int64]bool) (Choice, error)) (Choice, error) {
	for {
		c, err := once(exclude)
		ex, again := isRepick(err)
		if !again {
			return c, err
		}
		exclude = ex
	}
}

// affinityPrefix starts the session keys that keep a client's quota-free
// calls on one account (by the project it names, else by its credential):
// they are not conversations.
const affinityPrefix = "quota-free:"

func sessionKey(session string, f cloudcode.Family) string {
	if session == "" {
		return ""
	}
	return session + "\x00" + f.String()
}

// bound returns the session's live binding (0 when none or expired).
func (m *TokenManager) bound(key string, now time.Time) int64 {
	if key == "" {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.sessions[key]
	if !ok {
		return 0
	}
	if now.Sub(b.lastUsed) > m.idle {
		delete(m.sessions, key)
		return 0
	}
	return b.account
}

func (m *TokenManager) bind(key string, account int64, now time.Time) {
	if key == "" {
		return
	}
	m.mu.Lock()
	m.sessions[key] = &binding{account: account, lastUsed: now}
	if now.Sub(m.lastSweep) > time.Minute {
		m.sweepLocked(now)
	}
	m.mu.Unlock()
}

// sweep drops bindings idle for longer than the idle time.
func (m *TokenManager) sweep() {
	now := m.clk.Now()
	m.mu.Lock()
	m.sweepLocked(now)
	m.mu.Unlock()
}

func (m *TokenManager) sweepLocked(now time.Time) {
	m.lastSweep = now
	for k, b := range m.sessions {
		if now.Sub(b.lastUsed) > m.idle {
			delete(m.sessions, k)
		}
	}
}

func (m *TokenManager) activeSessions() int {
	now := m.clk.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, b := range m.sessions {
		if strings.HasPrefix(k, affinityPrefix) {
			continue // a client's passthrough calls, not a conversation
		}
		if now.Sub(b.lastUsed) <= m.idle {
			n++
		}
	}
	return n
}

// keep reports whether a check allows staying on (or taking) an account.
// Unknown with no mark is kept: there is no evidence the account is spent,
// and moving would break the conversation's prompt cache.
func keep(c quota.Check) bool {
	return c.Usable && c.Decision != quota.Exhausted
}

// pick chooses an account for model, skipping the accounts in exclude
// (the ones that already failed this client request).
func (m *TokenManager) pick(ctx context.Context, model, session string, exclude map[int64]bool) (Choice, error) {
	return repick(exclude, func(ex map[int64]bool) (Choice, error) { return m.pickOnce(ctx, model, session, ex) })
}

func (m *TokenManager) pickOnce(ctx context.Context, model, session string, exclude map[int64]bool) (Choice, error) {
	fam := cloudcode.ModelFamily(model)
	key := sessionKey(session, fam)
	now := m.clk.Now()
	from := m.bound(key, now)

	if from != 0 && !exclude[from] {
		// A session waits for its own account's gate: staying keeps the
		// conversation's prompt cache.
		c, release, ok, err := m.try(ctx, from, model, true)
		if err != nil {
			return Choice{}, err
		}
		if ok {
			return m.finish(ctx, key, c, release, 0, exclude)
		}
	}
	cands := m.q.Rank(model)
	// First pass: skip low-zone accounts busy with another request; wait
	// for one of them only when no other account can serve.
	var busy []quota.Candidate
	for _, wait := range []bool{false, true} {
		list := cands
		if wait {
			list = busy
		}
		for _, cand := range list {
			if exclude[cand.AccountID] || cand.AccountID == from {
				continue
			}
			if !keep(cand.Check) {
				continue // Rank's figures are cheap and say this one cannot serve
			}
			c, release, ok, err := m.try(ctx, cand.AccountID, model, wait)
			if errors.Is(err, errBusy) {
				busy = append(busy, cand)
				continue
			}
			if err != nil {
				return Choice{}, err
			}
			if !ok {
				continue
			}
			c.Label = cmp.Or(c.Label, cand.Label)
			return m.finish(ctx, key, c, release, from, exclude)
		}
	}
	return Choice{}, m.noAccount(fam, cands, exclude, now)
}

// try decides whether account can take a request for model now. An
// account in the LowQuota zone takes one request at a time (its gate is
// held until the upstream answered); with the pre-request check it is also
// re-checked against the upstream before each.
// Without wait it returns errBusy instead of waiting for the gate.
func (m *TokenManager) try(ctx context.Context, account int64, model string, wait bool) (Choice, func(), bool, error) {
	check, err := m.q.CheckQuota(ctx, account, model)
	if err != nil {
		if ctx.Err() != nil {
			return Choice{}, nil, false, ctx.Err()
		}
		// The Check still says what is known (a failed sync of a
		// forbidden account is not Usable): decide on it.
		m.log.Debug("quota check failed", "account", account, "err", err)
	}
	k := gateKey{account, cloudcode.ModelFamily(model)}
	check = m.predict(k, check, false)
	if !keep(check) {
		return Choice{}, nil, false, nil
	}
	var release func()
	if check.Decision == quota.LowQuota {
		// One request at a time on an account in the low zone: then at
		// most one can be in flight when it runs out, check or no check.
		release, err = m.acquire(ctx, k, wait)
		if err != nil {
			return Choice{}, nil, false, err
		}
		if m.preCheck {
			check, err = m.recheck(ctx, account, model)
			if err == nil {
				check = m.predict(k, check, true)
			}
		} else {
			// The request that held the gate may have marked it.
			check, err = m.q.CheckQuota(ctx, account, model)
		}
		if (err != nil && m.preCheck) || !keep(check) {
			release()
			if ctx.Err() != nil {
				return Choice{}, nil, false, ctx.Err()
			}
			return Choice{}, nil, false, nil
		}
	}
	return Choice{AccountID: account, Check: check}, release, true, nil
}

// errBusy says a low-zone account is serving another request.
var errBusy = errors.New("account busy in the low zone")

// acquire takes the low-zone gate of an (account, family), waiting for
// the request that holds it to reach the upstream, or with wait false
// returning errBusy at once.
func (m *TokenManager) acquire(ctx context.Context, k gateKey, wait bool) (func(), error) {
	m.mu.Lock()
	g, ok := m.gates[k]
	if !ok {
		g = make(chan struct{}, 1)
		m.gates[k] = g
	}
	m.mu.Unlock()
	var once sync.Once
	release := func() { once.Do(func() { <-g }) }
	if !wait {
		select {
		case g <- struct{}{}:
			return release, nil
		default:
			return nil, errBusy
		}
	}
	select {
	case g <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// recheck asks the engine for a figure synced now, not the cached one.
func (m *TokenManager) recheck(ctx context.Context, account int64, model string) (quota.Check, error) {
	return m.q.CheckQuotaFresh(ctx, account, model)
}

// finish gets the token, binds the session and counts a proactive switch.
func (m *TokenManager) finish(ctx context.Context, key string, c Choice, release func(), from int64, exclude map[int64]bool) (Choice, error) {
	c.release = release
	tok, err := m.tokens.Token(ctx, c.AccountID)
	if err != nil {
		c.Release()
		if ctx.Err() != nil {
			return Choice{}, ctx.Err()
		}
		// The account cannot get a token (the auth layer disables it on
		// invalid_grant): leave it out and pick again.
		m.log.Warn("access token unavailable; trying another account", "account", c.AccountID, "err", err)
		ex := map[int64]bool{c.AccountID: true}
		for id := range exclude {
			ex[id] = true
		}
		return Choice{}, errRepick{exclude: ex}
	}
	c.AccessToken = tok
	if st, ok := m.q.Account(c.AccountID); ok {
		c.Project = st.ProjectID
		c.Label = cmp.Or(st.Label, st.Email, c.Label)
	}
	now := m.clk.Now()
	m.q.Touch(c.AccountID, now)
	m.bind(key, c.AccountID, now)
	if from != 0 && from != c.AccountID {
		c.Switched, c.From = true, from
		if !exclude[from] {
			// Moved before the request went out: the bound account
			// could no longer serve the model.
			m.stats.proactiveSwitches.Add(1)
			m.publishSwitch(from, c, "proactive: the account ran out before the request")
		}
	}
	return c, nil
}

func (m *TokenManager) publishSwitch(from int64, c Choice, why string) {
	fromLabel := fmt.Sprint(from)
	if st, ok := m.q.Account(from); ok {
		fromLabel = cmp.Or(st.Label, st.Email, fromLabel)
	}
	m.q.Publish(quota.Event{At: m.clk.Now(), Kind: quota.EventSwitch, AccountID: c.AccountID, Account: c.Label,
		Message: fmt.Sprintf("session moved from %s to %s (%s)", fromLabel, c.Label, why)})
}

// errRepick asks pick's caller to try again without the accounts that
// could not get a token.
type errRepick struct{ exclude map[int64]bool }

// Error is never shown: pick handles errRepick itself.
func (errRepick) Error() string { return "repick" }

// noAccount builds the error for a family no account can serve, with the
// earliest time one becomes usable again.
func (m *TokenManager) noAccount(fam cloudcode.Family, cands []quota.Candidate, exclude map[int64]bool, now time.Time) error {
	e := &NoAccountError{Family: fam, Accounts: len(cands), Now: now}
	if len(cands) == 0 {
		e.Accounts = len(m.q.GetAllQuotas())
	}
	waitable := 0
	for _, c := range cands {
		st, ok := m.q.Account(c.AccountID)
		if ok && st.State != "" && st.State != quota.StateActive {
			continue // waiting does not help a disabled account
		}
		if exclude[c.AccountID] && keep(c.Check) {
			continue // left out for another reason (no access token)
		}
		waitable++
		at := time.Time{}
		if c.Check.Decision == quota.Exhausted && c.Check.ResetTime.After(now) {
			at = c.Check.ResetTime
		}
		if ok {
			for i, f := range cloudcode.Families {
				if mk := st.Marks[i]; f == fam && mk.Kind != quota.NoMark && mk.Until.After(at) {
					at = mk.Until
				}
			}
		}
		if !at.IsZero() && (e.Reset.IsZero() || at.Before(e.Reset)) {
			e.Reset = at
		}
	}
	e.Unavailable = len(cands) > 0 && waitable == 0
	return e
}

// pickAny chooses an account for a call that spends no model quota
// (loadCodeAssist, countTokens, ...): the account whose project the
// client named (the one that answered its loadCodeAssist) when it is
// active, else the session's account, else the active account with the
// best tier, least recently used.
func (m *TokenManager) pickAny(ctx context.Context, session, project string, exclude map[int64]bool) (Choice, error) {
	return repick(exclude, func(ex map[int64]bool) (Choice, error) { return m.pickAnyOnce(ctx, session, project, ex) })
}

func (m *TokenManager) pickAnyOnce(ctx context.Context, session, project string, exclude map[int64]bool) (Choice, error) {
	key := sessionKey(session, cloudcode.FamilyUnknown)
	now := m.clk.Now()
	all := m.q.GetAllQuotas()
	from := m.bound(key, now)
	var owner int64
	if project != "" {
		for _, s := range all {
			if s.ProjectID == project {
				owner = s.AccountID
				break
			}
		}
	}
	active := slices.DeleteFunc(all, func(s quota.Status) bool {
		return exclude[s.AccountID] || (s.State != quota.StateActive && s.State != "")
	})
	if len(active) == 0 {
		return Choice{}, &NoAccountError{Accounts: len(all), Unavailable: len(all) > 0, Now: now}
	}
	// The project's owner first, then the session's account (account
	// ids start at 1, so an unset one matches nothing).
	rank := func(id int64) int {
		switch id {
		case owner:
			return 0
		case from:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(active, func(a, b quota.Status) int {
		return cmp.Or(cmp.Compare(rank(a.AccountID), rank(b.AccountID)),
			cmp.Compare(b.Tier, a.Tier), a.LastUsed.Compare(b.LastUsed), cmp.Compare(a.AccountID, b.AccountID))
	})
	c := Choice{AccountID: active[0].AccountID, Label: cmp.Or(active[0].Label, active[0].Email)}
	return m.finish(ctx, key, c, nil, 0, exclude)
}

// SessionFromBody derives a session key from a generation request when
// the client sent no x-session-id: the request's sessionId (session_id
// as Gemini CLI spells it), else a hash of the first user message's text
// and the model family.
func SessionFromBody(request json.RawMessage, model string) string {
	var r struct {
		SessionID string `json:"sessionId"`
		// Gemini CLI's id: without it, every CLI conversation started in
		// one folder on one day hashes alike (its first user message is
		// a generated context block) and would share one binding.
		SessionIDSnake string `json:"session_id"`
		Contents       []struct {
			Role  string `json:"role"`
			Parts []struct {
				Text string `json:"text"`
			} `json:"parts"`
		} `json:"contents"`
	}
	if len(request) == 0 || json.Unmarshal(request, &r) != nil {
		return ""
	}
	if id := cmp.Or(r.SessionID, r.SessionIDSnake); id != "" {
		return id
	}
	for _, c := range r.Contents {
		if c.Role != "" && c.Role != "user" {
			continue
		}
		h := sha256.New()
		h.Write([]byte(cloudcode.ModelFamily(model).String()))
		text := false
		for _, p := range c.Parts {
			if p.Text != "" {
				h.Write([]byte{0})
				h.Write([]byte(p.Text))
				text = true
			}
		}
		if !text {
			return ""
		}
		return "h:" + hex.EncodeToString(h.Sum(nil)[:12])
	}
	return ""
}

// isRepick unwraps errRepick.
func isRepick(err error) (map[int64]bool, bool) {
	var r errRepick
	if errors.As(err, &r) {
		return r.exclude, true
	}
	return nil, false
}

// poolSpent returns the NoAccountError for model when no account can serve
// it now, without touching sessions or tokens; nil when one can.
func (m *TokenManager) poolSpent(model string) *NoAccountError {
	cands := m.q.Rank(model)
	for _, c := range cands {
		if keep(c.Check) {
			return nil
		}
	}
	var na *NoAccountError
	errors.As(m.noAccount(cloudcode.ModelFamily(model), cands, nil, m.clk.Now()), &na)
	return na
}
