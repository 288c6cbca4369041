package proxy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
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

	release func()  // frees the low-zone gate; nil when none was taken
	leave   *flight // ends the request in flight on the account (lowzone.go)
	counted bool    // the engine counted the charge when the upstream accepted it
}

// Release frees the low-zone gate of the choice's account, once the
// upstream has the request. It is safe to call more than once.
func (c *Choice) Release() {
	if c.release != nil {
		c.release()
		c.release = nil
	}
}

// Done ends the request in flight on the choice's account (and frees its
// gate if still held), once its attempt is over. It is safe to call more
// than once, and on a zero Choice.
func (c *Choice) Done() {
	c.Release()
	if c.leave != nil {
		c.leave.leave()
		c.leave = nil
	}
}

// TokenManager picks the account for each request: a session keeps its
// account while the quota engine says it can serve the model, and moves
// to the best alternative before the request goes out when it cannot.
type TokenManager struct {
	q        Quota
	tokens   TokenSource
	clk      clock.Clock
	preCheck bool
	stats    *counters
	log      *slog.Logger
	sessions Bindings
	low      *lowZone
	cool     *backoff    // cooldowns of short-lived refusals
	suspects *suspects   // accounts that let a call time out
	logs     *logLimiter // set by New; nil logs every line
}

func newTokenManager(q Quota, tokens TokenSource, clk clock.Clock, idle time.Duration, preCheck bool, st *counters, log *slog.Logger) *TokenManager {
	return &TokenManager{q: q, tokens: tokens, clk: clk, preCheck: preCheck, stats: st, log: log,
		sessions: memBindings{newSessions(idle)}, low: newLowZone(), cool: newBackoff(DefaultCooldownFirst, DefaultCooldownMax), suspects: newSuspects()}
}

// Token returns the account to use for model in session (which may be
// empty for a one-shot call) and a fresh access token for it. It returns
// a *NoAccountError when no account can serve the model.
func (m *TokenManager) Token(ctx context.Context, model, session string) (Choice, error) {
	return m.pick(ctx, model, session, nil)
}

// repick runs one selection again without the accounts that could not get
// an access token, until it succeeds or fails for another reason. When no
// account is left, the NoAccountError says what the token errors were.
func repick(exclude map[int64]bool, once func(map[int64]bool) (Choice, error)) (Choice, error) {
	var causes []string
	for {
		c, err := once(exclude)
		if err == nil {
			return c, nil // before errors.As: its targets cost an allocation each
		}
		var r errRepick
		if !errors.As(err, &r) {
			var na *NoAccountError
			if errors.As(err, &na) {
				na.Causes = append(na.Causes, causes...)
			}
			return c, err
		}
		causes = append(causes, r.cause)
		exclude = r.exclude
	}
}

// sweep drops session bindings idle for longer than the idle time.
func (m *TokenManager) sweep() {
	ctx, cancel := context.WithTimeout(context.Background(), bindingsTimeout)
	defer cancel()
	if err := m.sessions.Sweep(ctx, m.clk.Now()); err != nil {
		m.logLimited(slog.LevelWarn, "bindings", "", "could not sweep idle session bindings", "err", err)
	}
}

func (m *TokenManager) activeSessions() int {
	ctx, cancel := context.WithTimeout(context.Background(), bindingsTimeout)
	defer cancel()
	n, err := m.sessions.Active(ctx, m.clk.Now())
	if err != nil {
		m.logLimited(slog.LevelWarn, "bindings", "", "could not count the active sessions", "err", err)
	}
	return n
}

// pick chooses an account for model, skipping the accounts in exclude
// (the ones that already failed this client request).
func (m *TokenManager) pick(ctx context.Context, model, session string, exclude map[int64]bool) (Choice, error) {
	return repick(exclude, func(ex map[int64]bool) (Choice, error) { return m.pickOnce(ctx, model, session, ex) })
}

func (m *TokenManager) pickOnce(ctx context.Context, model, session string, exclude map[int64]bool) (Choice, error) {
	fam := cloudcode.ModelFamily(model)
	var kb [128]byte // the key stays on the stack unless it is longer
	key := appendSessionKey(kb[:0], session, fam)
	now := m.clk.Now()
	from := m.bound(ctx, key, now)

	var busy []quota.Candidate
	if from != 0 && !exclude[from] && !m.suspect(from) {
		// A session waits for its own account's gate: staying keeps the
		// conversation's prompt cache. When the account's last units are
		// all in flight it moves on (or waits for them below, when no
		// other account can serve).
		c, release, ok, err := m.try(ctx, from, model, true, false)
		switch {
		case errors.Is(err, errBusy):
			busy = append(busy, quota.Candidate{AccountID: from, Check: quota.Check{Usable: true}})
		case err != nil:
			return Choice{}, err
		case ok:
			return m.finish(ctx, key, c, release, 0, exclude)
		}
	}
	cands := m.lastSuspects(m.q.Rank(model))
	// First pass: skip accounts busy with their last requests; wait for
	// one of them only when no other account can serve. An account that
	// is spent by the engine's estimate alone is read again when no
	// other account can serve, before the request is refused.
	var spent []quota.Candidate
	for pass := range 3 {
		wait := pass > 0
		list := cands
		switch pass {
		case 1:
			list = busy
		case 2:
			list = spent
		}
		for _, cand := range list {
			if exclude[cand.AccountID] || cand.AccountID == from && pass == 0 {
				continue
			}
			if !cand.Check.Usable && pass != 2 {
				// Rank's figures are cheap and say this one cannot serve
				// now; an estimate may be wrong, so that one is re-read
				// last.
				if cand.Check.Reason == quota.ReasonEstimatedEmpty {
					spent = append(spent, cand)
				}
				continue
			}
			c, release, ok, err := m.try(ctx, cand.AccountID, model, wait, wait)
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
	// Rank again: a re-check above may have found an account empty, and
	// the wait must come from what the accounts are now, not from the
	// figures the loop started with.
	return Choice{}, m.noAccount(fam, m.q.Rank(model), exclude, m.clk.Now())
}

// usableAtAll reports whether the account's state lets it take any call
// (a model outside every family is judged on the state alone: the
// engine's one predicate, quota.Status.Check).
func usableAtAll(st *quota.Status, now time.Time) bool {
	return st.Check("", now).Usable
}

// stateCause says why an account in a state other than active cannot be
// used, for the 503 that names the real cause.
func stateCause(st quota.Status) string {
	var what string
	switch st.State {
	case quota.StateDisabled:
		return "disabled by you"
	case quota.StateNeedsLogin:
		what = "needs a new login"
	case quota.StateValidationRequired:
		what = "needs verification in a browser"
		if st.ValidationURL != "" {
			what += " at " + st.ValidationURL
		}
		return what
	case quota.StateForbidden:
		what = "forbidden by the upstream"
	default:
		what = string(st.State)
	}
	if st.StateReason != "" {
		// The reason code, not the message: it names the account's project.
		code, _, _ := strings.Cut(st.StateReason, ": ")
		what += " (" + code + ")"
	}
	return what
}

// rootCause is an error's text without what names one account: for a
// failed HTTP call, the network error itself, so that accounts failing for
// one reason read as one cause.
func rootCause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// logLimited logs a line about an account at most once per logInterval per
// kind.
func (m *TokenManager) logLimited(level slog.Level, kind, account, msg string, args ...any) {
	if m.logs == nil {
		m.log.Log(context.Background(), level, msg, append(args, "account", account)...)
		return
	}
	logLimitedTo(m.log, m.logs, level, kind, account, msg, args...)
}

// suspect reports whether an account let a call time out and has not
// answered a request since.
func (m *TokenManager) suspect(id int64) bool {
	if !m.suspects.any() {
		return false
	}
	return m.suspects.is(id)
}

// lastSuspects moves the suspect accounts to the end of a ranking, keeping
// the order otherwise.
func (m *TokenManager) lastSuspects(cands []quota.Candidate) []quota.Candidate {
	if !m.suspects.any() {
		return cands
	}
	out := make([]quota.Candidate, 0, len(cands))
	var later []quota.Candidate
	for _, c := range cands {
		if m.suspect(c.AccountID) {
			later = append(later, c)
		} else {
			out = append(out, c)
		}
	}
	return append(out, later...)
}

// fewLeft is how near empty, in requests by the engine's estimate, an
// account is treated as in the low zone: one request at a time, each
// re-checked against the upstream first.
const fewLeft = 3

// try decides whether account can take a request for model now, on the
// engine's figures brought forward to now (quota.Check, its estimate).
// At most as many requests as the estimate says are left are in flight
// on it at once; with waitRoom a request waits for room, else try returns
// errBusy. An account in the LowQuota zone, within fewLeft requests of
// empty, or spent by the estimate takes one request at a time (its gate
// is held until the upstream answered, waiting for it with waitGate) and,
// with the pre-request check, is re-checked against the upstream before
// each: the estimate decides when to look, the fresh figure whether to
// send.
func (m *TokenManager) try(ctx context.Context, account int64, model string, waitGate, waitRoom bool) (Choice, func(), bool, error) {
	for {
		c, release, ok, err := m.tryOnce(ctx, account, model, waitGate, waitRoom)
		if !errors.Is(err, errRoomFreed) {
			return c, release, ok, err
		}
		// Room was made: look again from the engine's figures, which
		// have fallen by the request that ended.
	}
}

func (m *TokenManager) tryOnce(ctx context.Context, account int64, model string, waitGate, waitRoom bool) (Choice, func(), bool, error) {
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
	// The engine's one predicate (quota.Status.Check): an account with no
	// figure and no mark is usable, since there is no evidence it is spent
	// and moving would break the conversation's prompt cache. One spent by
	// the estimate alone is read again first; without the pre-request
	// check nothing is read, so the estimate cannot refuse it: it takes
	// one request at a time and the upstream's 429 says when it is empty.
	spentByEstimate := check.Reason == quota.ReasonEstimatedEmpty
	if !check.Usable && !spentByEstimate {
		return Choice{}, nil, false, nil
	}
	limit := -1 // no limit
	switch {
	case spentByEstimate:
		limit = 1
	case check.Left >= 0:
		limit = max(check.Left, 1)
	}
	in, err := m.low.enter(ctx, k, limit, waitRoom)
	if err != nil {
		return Choice{}, nil, false, err
	}
	var release func()
	if check.Decision == quota.LowQuota || spentByEstimate || check.Left >= 0 && check.Left <= fewLeft {
		// One request at a time near empty: then at most one can be in
		// flight when it runs out, check or no check.
		release, err = m.low.acquire(ctx, k, waitGate)
		if err != nil {
			in.leave()
			return Choice{}, nil, false, err
		}
		if m.preCheck {
			check, err = m.recheck(ctx, account, model)
		} else {
			// The request that held the gate may have marked it.
			check, err = m.q.CheckQuota(ctx, account, model)
		}
		// Spent by the estimate alone is still usable here: without the
		// check nothing reads the account, so the upstream's 429 must say
		// it; with it, the figure just read is above the floor, and what
		// the estimate deducts from it at once are requests that completed
		// while the read ran, which the upstream's figure may count
		// already. Better one upstream 429 (retried on the next account
		// within the request) than a client's 429 while quota is left.
		usable := check.Usable || check.Reason == quota.ReasonEstimatedEmpty
		if (err != nil && m.preCheck) || !usable {
			release()
			in.leave()
			if ctx.Err() != nil {
				return Choice{}, nil, false, ctx.Err()
			}
			return Choice{}, nil, false, nil
		}
	}
	return Choice{AccountID: account, Check: check, leave: in}, release, true, nil
}

// recheck asks the engine for a figure synced now, not the cached one.
func (m *TokenManager) recheck(ctx context.Context, account int64, model string) (quota.Check, error) {
	return m.q.CheckQuotaFresh(ctx, account, model)
}

// finish gets the token, binds the session and counts a proactive switch.
func (m *TokenManager) finish(ctx context.Context, key []byte, c Choice, release func(), from int64, exclude map[int64]bool) (Choice, error) {
	c.release = release
	tok, err := m.tokens.Token(ctx, c.AccountID)
	if err != nil {
		c.Done()
		if ctx.Err() != nil {
			return Choice{}, ctx.Err()
		}
		// The account cannot get a token (the auth layer disables it on
		// invalid_grant; a network error or a database that cannot be
		// written lets no account get one): leave it out and pick again.
		label := fmt.Sprint(c.AccountID)
		if st, ok := m.q.Account(c.AccountID); ok {
			label = cmp.Or(st.Label, st.Email, label)
		}
		m.logLimited(slog.LevelWarn, "token", label, "access token unavailable; trying another account", "err", err)
		ex := map[int64]bool{c.AccountID: true}
		for id := range exclude {
			ex[id] = true
		}
		return Choice{}, errRepick{exclude: ex, cause: "could not get an access token: " + rootCause(err)}
	}
	c.AccessToken = tok
	if st, ok := m.q.Account(c.AccountID); ok {
		c.Project = st.ProjectID
		c.Label = cmp.Or(st.Label, st.Email, c.Label)
	}
	now := m.clk.Now()
	m.q.Touch(c.AccountID, now)
	m.bind(ctx, key, c.AccountID, now)
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
	m.logLimited(slog.LevelInfo, "switch", fromLabel, "session moved to another account", "to", c.Label, "why", why)
}

// errRepick asks pick's caller to try again without the accounts that
// could not get a token; cause says why the last one could not.
type errRepick struct {
	exclude map[int64]bool
	cause   string
}

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
		if st, ok := m.q.Account(c.AccountID); ok && !usableAtAll(&st, now) {
			e.Causes = append(e.Causes, stateCause(st))
			continue // waiting does not help a disabled account
		}
		if exclude[c.AccountID] && c.Check.Usable {
			continue // left out for another reason (no access token)
		}
		waitable++
		// Under a mark the check's ResetTime is when the mark ends (or
		// the bucket's reset, when the figures say spent for longer).
		at, cooling := time.Time{}, false
		switch {
		case c.Check.Reason == quota.ReasonCooldown:
			at, cooling = c.Check.ResetTime, c.Check.Decision != quota.Exhausted
		case c.Check.Decision == quota.Exhausted:
			at = c.Check.ResetTime
		}
		if !at.After(now) {
			continue
		}
		if e.Reset.IsZero() || at.Before(e.Reset) {
			e.Reset, e.Cooling = at, cooling
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
	var kb [128]byte
	key := appendSessionKey(kb[:0], session, cloudcode.FamilyUnknown)
	now := m.clk.Now()
	all := m.q.GetAllQuotas()
	from := m.bound(ctx, key, now)
	var owner int64
	if project != "" {
		for _, s := range all {
			if s.ProjectID == project {
				owner = s.AccountID
				break
			}
		}
	}
	var causes []string
	active := slices.DeleteFunc(all, func(s quota.Status) bool {
		if !usableAtAll(&s, now) {
			causes = append(causes, stateCause(s))
			return true
		}
		return exclude[s.AccountID]
	})
	if len(active) == 0 {
		return Choice{}, &NoAccountError{Accounts: len(all), Unavailable: len(all) > 0, Now: now, Causes: causes}
	}
	// The project's owner first, then the session's account (account
	// ids start at 1, so an unset one matches nothing).
	rank := func(id int64) int {
		switch {
		case m.suspect(id):
			return 3
		case id == owner:
			return 0
		case id == from:
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

// poolSpent returns the NoAccountError for model when no account can serve
// it now, without touching sessions or tokens; nil when one can.
func (m *TokenManager) poolSpent(model string) *NoAccountError {
	cands := m.q.Rank(model)
	for _, c := range cands {
		if c.Check.Usable {
			return nil
		}
	}
	var na *NoAccountError
	errors.As(m.noAccount(cloudcode.ModelFamily(model), cands, nil, m.clk.Now()), &na)
	return na
}
