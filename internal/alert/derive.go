package alert

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/quotatui/quotatui/internal/auth"
	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
)

// Engine is what alerts read from the quota engine. *quota.Manager
// satisfies it.
type Engine interface {
	Subscribe() *quota.Feed
	GetAllQuotas() []quota.Status
	Account(accountID int64) (quota.Status, bool)
	Rank(model string) []quota.Candidate
	Forecast(ctx context.Context, accountID int64, f cloudcode.Family) (quota.Forecast, error)
}

// resetTolerance absorbs the drift of a window's reported reset time, so
// one window is not taken for a new one (quota uses the same minute).
const resetTolerance = time.Minute

// watcher turns the engine's events and snapshots into alerts, each once
// per episode. It is driven by one goroutine (Service.Run); its state needs
// no lock.
//
// Where quota already decides an episode, its event is taken as is:
// low_quota, exhausted and recovered (per account and family, the same
// events and the same once-per-episode rule as the dashboard's warnings).
// The rest is derived here from Status snapshots: an account's state
// (needs login, verification, forbidden, OAuth client), a spent pool, and
// run-out forecasts.
type watcher struct {
	eng          Engine
	clock        clock.Clock
	log          *slog.Logger
	emit         func(Event)
	wantForecast bool // some sink wants forecast alerts (each costs a history read)

	accts map[int64]*acctWatch
	pools [len(cloudcode.Families)]bool // the family's pool is spent (an alert went out)
}

// acctWatch is what the watcher remembers about one account.
type acctWatch struct {
	attention Kind // the state alert that fired and still holds; "" when none
	fc        [len(cloudcode.Families)]fcWatch
	// resetPending: quota said the family is back while a 429 lock still
	// held it; the reset alert waits for the lock to end.
	resetPending [len(cloudcode.Families)]bool
}

// fcWatch is one (account, family)'s forecast bookkeeping.
type fcWatch struct {
	seen       time.Time // FetchedAt of the figures last looked at
	value      float64   // their effective remaining
	hasValue   bool
	firedReset time.Time // reset time of the window a forecast alert fired for
}

func newWatcher(eng Engine, clk clock.Clock, log *slog.Logger, wantForecast bool, emit func(Event)) *watcher {
	return &watcher{eng: eng, clock: clk, log: log, emit: emit, wantForecast: wantForecast, accts: map[int64]*acctWatch{}}
}

// fromQuota turns one of the engine's events into an alert, when it is one
// of the kinds quota decides episodes for.
func (w *watcher) fromQuota(e quota.Event) {
	var k Kind
	switch e.Kind {
	case quota.EventLowQuota:
		k = KindLow
	case quota.EventExhausted:
		k = KindExhausted
	case quota.EventRecovered:
		if e.Family == cloudcode.FamilyUnknown {
			return // an account answering again after an error: its state alert re-arms instead
		}
		k = KindReset
	default:
		return
	}
	i := familyIndex(e.Family)
	st, ok := w.eng.Account(e.AccountID)
	if !ok || i < 0 {
		// Removed meanwhile: say what the event says.
		ev := newEvent(k, e.At, fmt.Sprintf("%s: %s %s", e.Account, e.Family, kindWords(k)), e.Message)
		ev.Family = e.Family.String()
		if e.AccountID != 0 {
			ev.Account = &Account{ID: e.AccountID, Label: e.Account}
		}
		w.emit(ev)
		return
	}
	a := w.account(e.AccountID)
	a.resetPending[i] = false
	if k == KindReset && locked(&st, i) {
		// The figures say full again, but the upstream's 429 still locks
		// the family: quota is not back until the lock ends (scan).
		a.resetPending[i] = true
		return
	}
	w.emit(familyEvent(k, &st, i, e.At, e.Message))
}

// familyEvent is the alert of kind k about the account's family i, with
// the family's figures from st.
func familyEvent(k Kind, st *quota.Status, i int, at time.Time, msg string) Event {
	fq := &st.Families[i]
	ev := newEvent(k, at, fmt.Sprintf("%s: %s %s", st.Label, fq.Family, kindWords(k)), msg)
	ev.Account = accountOf(st)
	ev.Family = fq.Family.String()
	ev.Window = string(fq.Bottleneck)
	ev.ResetAt = fq.ResetTime
	if fq.Effective.Known {
		ev.Remaining = ptr(fq.Effective.Value)
	}
	if k == KindExhausted && locked(st, i) && fq.Decision != quota.Exhausted {
		// Exhausted by the upstream's 429 rather than by the polled
		// figure: the figure is stale, the lock says until when.
		ev.Remaining, ev.Window, ev.ResetAt = nil, "", st.Marks[i].Until
	}
	return ev
}

// locked reports whether the upstream's 429 locks the account's family i.
// Status snapshots carry only the marks still in force.
func locked(st *quota.Status, i int) bool { return st.Marks[i].Kind == quota.ExhaustedMark }

// kindWords is how a title says what happened to a family.
func kindWords(k Kind) string {
	switch k {
	case KindLow:
		return "low"
	case KindExhausted:
		return "exhausted"
	default:
		return "quota back"
	}
}

// account returns the watcher's record of an account, created on first
// use.
func (w *watcher) account(id int64) *acctWatch {
	a := w.accts[id]
	if a == nil {
		a = &acctWatch{}
		w.accts[id] = a
	}
	return a
}

// pendingResets fires the reset alerts that waited for a 429 lock to end,
// once the family can be used again.
func (w *watcher) pendingResets(st *quota.Status, a *acctWatch, now time.Time) {
	for i := range a.resetPending {
		if !a.resetPending[i] || locked(st, i) {
			continue
		}
		a.resetPending[i] = false
		fq := &st.Families[i]
		if fq.Decision != quota.Proceed {
			continue // spent again meanwhile: quota warns for that episode
		}
		w.emit(familyEvent(KindReset, st, i, now,
			fmt.Sprintf("%s back to %s after the upstream's lock ended", fq.Family, fq.Effective.String())))
	}
}

// scan reads every account's snapshot and fires the alerts derived from
// them: account states, forecasts, spent pools.
func (w *watcher) scan(ctx context.Context) {
	now := w.clock.Now()
	sts := w.eng.GetAllQuotas()
	seen := make(map[int64]bool, len(sts))
	for i := range sts {
		st := &sts[i]
		seen[st.AccountID] = true
		a := w.account(st.AccountID)
		w.attention(st, a, now)
		w.pendingResets(st, a, now)
		if w.wantForecast {
			w.forecast(ctx, st, a, now)
		}
	}
	for id := range w.accts {
		if !seen[id] {
			delete(w.accts, id) // removed: a new account with its id starts afresh
		}
	}
	w.poolScan(now)
}

// attentionKind says which state alert an account's snapshot calls for, or
// "" when none.
func attentionKind(st *quota.Status) Kind {
	switch st.State {
	case quota.StateNeedsLogin:
		return KindNeedsLogin
	case quota.StateValidationRequired:
		return KindVerification
	case quota.StateForbidden:
		return KindForbidden
	case quota.StateDisabled:
		return "" // the user's own choice
	case quota.StateActive, "":
		if clientProblem(st.LastError) {
			return KindOAuthClient
		}
		return ""
	}
	// A state this package does not know: the per-account OAuth client
	// state being added to the engine ("needs client", "client mismatch")
	// is recognised by its name.
	if strings.Contains(string(st.State), "client") {
		return KindOAuthClient
	}
	return ""
}

// clientProblem reports whether a sync error says the OAuth client is
// wrong: Google's token endpoint answers invalid_client or
// unauthorized_client when the client is unknown or did not issue the
// refresh token (RFC 6749, section 5.2).
func clientProblem(lastError string) bool {
	return strings.Contains(lastError, "invalid_client") || strings.Contains(lastError, "unauthorized_client")
}

// attention fires an account's state alert when the state calls for one
// that has not fired yet; the episode ends when the account is fine again.
func (w *watcher) attention(st *quota.Status, a *acctWatch, now time.Time) {
	k := attentionKind(st)
	if k == a.attention {
		return
	}
	a.attention = k
	if k == "" {
		return
	}
	who := st.Email
	if who == "" {
		who = st.Label
	}
	reason := auth.Redact(strings.TrimSpace(st.StateReason))
	var title, msg string
	switch k {
	case KindNeedsLogin:
		title = st.Label + " needs a new login"
		msg = fmt.Sprintf("Google no longer accepts the sign-in of %s, so quotatui cannot use it: run `quotatui login` with that account.", who)
	case KindVerification:
		title = st.Label + " needs a browser verification"
		msg = fmt.Sprintf("Google wants %s verified in a browser before it answers again; open the link and follow the steps.", who)
	case KindForbidden:
		title = st.Label + " is refused by Google"
		msg = fmt.Sprintf("Google refuses requests for %s; quotatui does not use it until a sync succeeds.", who)
	case KindOAuthClient:
		title = st.Label + ": OAuth client problem"
		msg = fmt.Sprintf("The token of %s cannot be refreshed with the configured OAuth client: configure the client that issued it (oauth.client_id, oauth.client_secret).", who)
		if reason == "" {
			reason = auth.Redact(firstLine(st.LastError))
		}
	}
	if reason != "" {
		msg += " Reason: " + reason
	}
	ev := newEvent(k, now, title, msg)
	ev.Account = accountOf(st)
	if k == KindVerification {
		ev.URL = st.ValidationURL
	}
	w.emit(ev)
}

// forecast fires a forecast alert for each of the account's families that,
// at its current pace, runs out before its window resets: once per window.
// It asks the engine for a forecast (a history read) only for families
// whose figures are new and lower than last time, since a family that is
// not draining cannot be projected to run out sooner than before.
func (w *watcher) forecast(ctx context.Context, st *quota.Status, a *acctWatch, now time.Time) {
	for i := range st.Families {
		fq := &st.Families[i]
		fw := &a.fc[i]
		if fq.FetchedAt.IsZero() || !fq.FetchedAt.After(fw.seen) {
			continue
		}
		prev, had := fw.value, fw.hasValue
		fw.seen, fw.value, fw.hasValue = fq.FetchedAt, fq.Effective.Value, fq.Effective.Known
		switch {
		case !fq.Effective.Known || fq.Effective.Value <= 0 || fq.Decision == quota.Exhausted:
			continue // nothing to project, or the exhausted alert says it
		case fq.Effective.Value >= 1:
			continue // nothing spent in this window: not draining
		case st.State != quota.StateActive && st.State != "":
			continue
		case had && fq.Effective.Value >= prev:
			continue
		case !fw.firedReset.IsZero() && absDur(fq.ResetTime.Sub(fw.firedReset)) <= resetTolerance:
			continue // already told for this window
		}
		fc, err := w.eng.Forecast(ctx, st.AccountID, fq.Family)
		if err != nil {
			w.log.Debug("alerts: forecast", "account", st.AccountID, "family", fq.Family.String(), "err", err)
			continue
		}
		if !fc.Enough || !fc.RunsOutFirst {
			continue
		}
		fw.firedReset = fq.ResetTime
		ev := newEvent(KindForecast, now, fmt.Sprintf("%s: %s runs out before its reset", st.Label, fq.Family),
			fmt.Sprintf("At this pace %s's %s quota is empty in %s, before its %s window resets in %s (%s left, %.0f%% an hour).",
				st.Label, fq.Family, clock.Short(fc.EmptyIn), fq.Bottleneck, clock.Short(fc.ResetIn),
				fq.Effective.String(), fc.BurnPerHour*100))
		ev.Account = accountOf(st)
		ev.Family = fq.Family.String()
		ev.Remaining = ptr(fq.Effective.Value)
		ev.Window = string(fq.Bottleneck)
		ev.ResetAt = fq.ResetTime
		ev.Forecast = &Forecast{EmptyAt: now.Add(fc.EmptyIn).UTC(), BurnPerHour: fc.BurnPerHour}
		w.emit(ev)
	}
}

// poolScan fires pool_exhausted when no account can serve a family any
// more because of quota, and pool_reset when one can again. Whether an
// account can serve a family is the engine's own judgement (its ranking's
// Check), so alerts agree with where the proxy routes: an account that is
// only cooling down for a few seconds still counts as able.
func (w *watcher) poolScan(now time.Time) {
	for i, f := range cloudcode.Families {
		// The family's name is a model name of the family with no figure
		// of its own, so the Check is the family's buckets.
		cands := w.eng.Rank(f.String())
		usable, spent := 0, 0
		var earliest time.Time
		for _, c := range cands {
			ck := &c.Check
			switch {
			case ck.Usable, ck.Reason == quota.ReasonCooldown && ck.Decision != quota.Exhausted:
				usable++
			case ck.Decision == quota.Exhausted && quotaReason(ck.Reason):
				spent++
				if ck.ResetTime.After(now) && (earliest.IsZero() || ck.ResetTime.Before(earliest)) {
					earliest = ck.ResetTime
				}
			}
		}
		out := usable == 0 && spent > 0
		switch {
		case out && !w.pools[i]:
			w.emit(poolExhausted(f, len(cands), earliest, now))
		case !out && w.pools[i] && usable > 0:
			ev := newEvent(KindPoolReset, now, fmt.Sprintf("%s: quota is back", f),
				fmt.Sprintf("%d of %d accounts can serve %s again.", usable, len(cands), f.Title()))
			ev.Family = f.String()
			ev.Pool = &Pool{Accounts: len(cands), Usable: usable}
			w.emit(ev)
		}
		// While no account is usable for other reasons (logins), the
		// episode goes on: its end is an account with quota.
		if out || usable > 0 {
			w.pools[i] = out
		}
	}
}

// quotaReason reports whether a Check's reason is about quota rather than
// the account's state.
func quotaReason(r string) bool {
	return r == quota.ReasonExhausted || r == quota.ReasonExhaustedMark || r == quota.ReasonCooldown
}

func poolExhausted(f cloudcode.Family, accounts int, earliest, now time.Time) Event {
	msg := fmt.Sprintf("None of the %d accounts has quota left for %s; requests for it fail with 429", accounts, f.Title())
	if earliest.IsZero() {
		msg += ". No reset time is known yet."
	} else {
		msg += fmt.Sprintf(" until the earliest reset in %s (%s).", clock.Short(earliest.Sub(now)), earliest.UTC().Format("15:04 UTC"))
	}
	ev := newEvent(KindPoolExhausted, now, fmt.Sprintf("%s: every account is out of quota", f), msg)
	ev.Family = f.String()
	ev.ResetAt = earliest
	ev.Pool = &Pool{Accounts: accounts}
	return ev
}

// clientMissing is the alert for an OAuth client that is not configured at
// all while there are accounts whose tokens need one.
func clientMissing(now time.Time) Event {
	return newEvent(KindOAuthClient, now, "quotatui: no OAuth client configured",
		"Access tokens cannot be refreshed, so accounts stop working as their tokens expire: set oauth.client_id and "+
			"oauth.client_secret (or QUOTATUI_OAUTH_CLIENT_ID and QUOTATUI_OAUTH_CLIENT_SECRET); `quotatui config` shows the config file.")
}

func accountOf(st *quota.Status) *Account {
	a := &Account{ID: st.AccountID, Email: st.Email, Label: st.Label}
	if st.Tier != cloudcode.TierUnknown {
		a.Tier = st.Tier.String()
	}
	return a
}

func familyIndex(f cloudcode.Family) int {
	for i, g := range cloudcode.Families {
		if g == f {
			return i
		}
	}
	return -1
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func ptr[T any](v T) *T { return &v }
