package quota

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/store"
)

// exhaustedFallback is how long an exhaustion mark lasts when the upstream
// gave no reset time and none is cached.
const exhaustedFallback = time.Hour

// MarkExhausted records that the upstream said the account's pool for
// family f is spent until until (received at receivedAt). The lock is never
// shorter than until; a later mark extends it. With no until it lasts to
// the cached reset of the family's bottleneck, or an hour. The account is
// not Usable for the family until then, whatever the polled figures say.
func (m *Manager) MarkExhausted(accountID int64, f cloudcode.Family, until, receivedAt time.Time, reason string) {
	a, idx := m.lookup(accountID), familyIndex(f)
	if a == nil || idx < 0 {
		return
	}
	now := m.clock.Now()
	if receivedAt.IsZero() {
		receivedAt = now
	}
	var fire *Event
	a.mu.Lock()
	a.updateLocked(func(s *snapshot) {
		mk := &s.status.Marks[idx]
		if until.IsZero() {
			until = receivedAt.Add(exhaustedFallback)
			if r := s.status.Families[idx].ResetTime; r.After(now) {
				until = r
			}
		}
		active := mk.Kind == ExhaustedMark && mk.Until.After(now)
		if active && mk.Until.After(until) {
			until = mk.Until
		}
		since := receivedAt
		if active && mk.Since.After(since) {
			since = mk.Since
		}
		*mk = Mark{Kind: ExhaustedMark, Until: until, Since: since, Reason: reason}
		m.hub.queueMark(accountID, f, *mk)
		ep := &a.episodes[idx]
		ep.locked = true
		if !ep.exhaustedFired {
			// The sync that confirms it must not warn a second time.
			ep.exhaustedFired = true
			fire = &Event{At: now, Kind: EventExhausted, AccountID: accountID, Account: s.status.Label, Family: f,
				Message: fmt.Sprintf("%s exhausted (upstream 429), locked for %s", f, clock.Short(until.Sub(now)))}
		}
	})
	a.mu.Unlock()
	if fire != nil {
		m.log.Info("quota: exhausted", "account", fire.Account, "family", f.String(), "message", fire.Message)
		m.Publish(*fire)
	}
	m.hub.signal()
}

// MarkCooldown takes the account out of rotation for family f until until,
// after a short-term error (a rate limit, a bare 429). It never shortens an
// exhaustion mark or a longer cooldown.
func (m *Manager) MarkCooldown(accountID int64, f cloudcode.Family, until time.Time, reason string) {
	a, idx := m.lookup(accountID), familyIndex(f)
	if a == nil || idx < 0 {
		return
	}
	now := m.clock.Now()
	a.update(func(s *snapshot) {
		mk := &s.status.Marks[idx]
		if mk.Kind != NoMark && mk.Until.After(now) && !mk.Until.Before(until) {
			return
		}
		if mk.Kind == ExhaustedMark && mk.Until.After(now) {
			return
		}
		*mk = Mark{Kind: CooldownMark, Until: until, Since: now, Reason: reason}
		m.hub.queueMark(accountID, f, *mk)
	})
	m.hub.signal()
}

// RecordSuccess tells the manager that a request on the account for family
// f, started at startedAt, was answered. It clears a mark only if the mark
// is older than the request: a request already in flight when the upstream
// said "exhausted" may still finish with 200, and must not unlock the
// account. (What the request spent is the ledger's: Record.)
func (m *Manager) RecordSuccess(accountID int64, f cloudcode.Family, startedAt time.Time) {
	a, idx := m.lookup(accountID), familyIndex(f)
	if a == nil || idx < 0 {
		return
	}
	if mk := a.snap.Load().status.Marks[idx]; mk.Kind == NoMark || !mk.Since.Before(startedAt) {
		return // the common case: nothing to clear, no copy
	}
	cleared := false
	a.update(func(s *snapshot) {
		if mk := &s.status.Marks[idx]; mk.Kind != NoMark && mk.Since.Before(startedAt) {
			*mk = Mark{}
			cleared = true
			m.hub.queueMark(accountID, f, Mark{})
		}
	})
	if cleared {
		m.hub.signal()
	}
}

// MarkForbidden sets the account's engine state (forbidden,
// validation_required, needs_login, needs_client, client_mismatch, or
// active to clear), in memory and in the store. Forbidden and
// validation_required last until a later sync succeeds. The user's choice
// to disable an account is separate (SetDisabled; StateDisabled here is
// passed on to it) and never cleared by StateActive.
// Setting the state it already has, with the same reason, changes nothing
// and publishes nothing.
func (m *Manager) MarkForbidden(ctx context.Context, accountID int64, state AccountState, reason, validationURL string) error {
	a := m.lookup(accountID)
	if a == nil {
		return fmt.Errorf("mark account %d %s: %w", accountID, state, ErrUnknownAccount)
	}
	if _, err := m.setState(ctx, a, state, reason, validationURL); err != nil {
		return fmt.Errorf("mark account %d %s: %w", accountID, state, err)
	}
	return nil
}

// setState records the account's state in the store and in memory, and
// publishes and logs the change. It does nothing (and reports false) when
// the account already has that state and reason. For the states the token
// source sets itself (needs_login, client_mismatch, needs_client) an
// account already in that state keeps its reason: the token source wrote
// the upstream's own words, and a sync that trips on it again adds none.
func (m *Manager) setState(ctx context.Context, a *account, state AccountState, reason, validationURL string) (bool, error) {
	if state == StateDisabled {
		return m.setDisabled(ctx, a, true)
	}
	if !m.stateDiffers(a, state, reason, validationURL) {
		return false, nil
	}
	now := m.clock.Now()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeWriteTimeout)
	// The engine's own column only: the user's "disabled" is not touched.
	err := m.st.SetState(wctx, a.id, store.AccountState(state), reason, validationURL, now)
	cancel()
	if err != nil {
		return false, err
	}
	m.applyState(a, state, reason, validationURL, now)
	return true, nil
}

// changeState is setState for a sync: it changes the state in memory at
// once and returns the store write for the sync's batch, or nil when the
// account already has that state.
func (m *Manager) changeState(a *account, state AccountState, reason, validationURL string, now time.Time) *store.StateUpdate {
	if !m.stateDiffers(a, state, reason, validationURL) {
		return nil
	}
	m.applyState(a, state, reason, validationURL, now)
	return &store.StateUpdate{State: store.AccountState(state), Reason: reason, ValidationURL: validationURL, At: now}
}

// stateDiffers reports whether setting state would change anything (see
// setState for the token source's states).
func (m *Manager) stateDiffers(a *account, state AccountState, reason, validationURL string) bool {
	cur := a.snap.Load().status
	return !(cur.EngineState == state && (cur.StateReason == reason && cur.ValidationURL == validationURL || tokenState(state)))
}

// applyState sets the engine state in memory, and tells the log, the
// subscribers and the store's event queue.
func (m *Manager) applyState(a *account, state AccountState, reason, validationURL string, now time.Time) {
	was := a.snap.Load().status.EngineState
	var label string
	a.update(func(s *snapshot) {
		s.status.EngineState, s.status.StateReason, s.status.ValidationURL = state, reason, validationURL
		s.status.settle()
		label = s.status.Label
	})
	if state != StateActive {
		m.log.Warn("quota: account state changed", "account", label, "state", state, "reason", reason)
		m.Publish(Event{At: now, Kind: EventAccountDisabled, AccountID: a.id, Account: label,
			Message: fmt.Sprintf("%s: %s", stateReason(state), reason)})
	} else {
		m.log.Info("quota: account active again", "account", label, "was", was)
	}
	m.hub.signal()
}

// setDisabled records the user's choice to turn the account off or on
// (for callers acting for the user; the engine's own judgements never
// call it).
func (m *Manager) setDisabled(ctx context.Context, a *account, disabled bool) (bool, error) {
	cur := a.snap.Load().status
	if cur.Disabled == disabled {
		return false, nil
	}
	now := m.clock.Now()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeWriteTimeout)
	err := m.st.SetDisabled(wctx, a.id, disabled, now)
	cancel()
	if err != nil {
		return false, err
	}
	var label string
	a.update(func(s *snapshot) {
		s.status.Disabled = disabled
		s.status.settle()
		label = s.status.Label
	})
	m.log.Info("quota: account turned off or on by the user", "account", label, "disabled", disabled)
	if disabled {
		m.Publish(Event{At: now, Kind: EventAccountDisabled, AccountID: a.id, Account: label, Message: ReasonDisabled + " by the user"})
	}
	m.hub.signal()
	return true, nil
}

// SetDisabled turns an account off (quotatui neither syncs nor routes to
// it) or on again, for the user: the dashboard's or a command's action.
func (m *Manager) SetDisabled(ctx context.Context, accountID int64, disabled bool) error {
	a := m.lookup(accountID)
	if a == nil {
		return fmt.Errorf("disable account %d: %w", accountID, ErrUnknownAccount)
	}
	if _, err := m.setDisabled(ctx, a, disabled); err != nil {
		return fmt.Errorf("disable account %d: %w", accountID, err)
	}
	return nil
}

// tokenState reports whether the token source sets state itself.
func tokenState(s AccountState) bool {
	return s == StateNeedsLogin || s == StateClientMismatch || s == StateNeedsClient
}

// Apply carries out a verdict of Judge about accountID, met on a call for
// family f (cloudcode.FamilyUnknown when the call had none) whose answer
// arrived at receivedAt: it sets the mark, the account state or the
// unreadable quota the verdict names, invalidates a rejected access token,
// and queues a resync when the verdict asks for one. EffectNone and
// EffectRetry change nothing here. The proxy and the monitor both apply
// their verdicts through it, so an account is judged the same whoever
// met the error.
func (m *Manager) Apply(ctx context.Context, accountID int64, f cloudcode.Family, v Verdict, receivedAt time.Time) error {
	a := m.lookup(accountID)
	if a == nil {
		return fmt.Errorf("apply %s to account %d: %w", v.Effect, accountID, ErrUnknownAccount)
	}
	var err error
	switch v.Effect {
	case EffectExhausted:
		m.MarkExhausted(accountID, f, v.Until, receivedAt, v.Reason)
	case EffectCooldown:
		m.MarkCooldown(accountID, f, v.Until, v.Reason)
	case EffectRefreshToken:
		m.tokens.Invalidate(accountID)
	case EffectQuotaUnreadable:
		m.markUnreadable(a, v, m.clock.Now())
	case EffectForbidden, EffectValidationRequired, EffectNeedsLogin, EffectClientMismatch, EffectNeedsClient:
		if v.Verify {
			if v, err = m.confirmRefused(ctx, a, v); err != nil {
				break
			}
		}
		_, err = m.setState(ctx, a, v.Effect.State(), v.Reason, v.ValidationURL)
	}
	if v.Resync {
		m.ResyncSoon(accountID)
	}
	if err != nil {
		return fmt.Errorf("apply %s to account %d: %w", v.Effect, accountID, err)
	}
	return nil
}

// ErrUnconfirmed is Apply's answer to a verdict that needed a fresh quota
// read to prove the account refused (Verdict.Verify) when the read did
// not: the account is left as it was.
var ErrUnconfirmed = errors.New("not confirmed: the account's quota read was not refused")

// confirmRefused reads the account's quota afresh to prove a verdict
// that needs it (Verdict.Verify): when the upstream refuses the read too
// (403), the account, not one request, is what it objects to, and v is
// confirmed; when the read finds the account needs verification, that is
// the verdict (the sync has set it). Otherwise it returns ErrUnconfirmed,
// with the read's own error when it failed for another reason.
func (m *Manager) confirmRefused(ctx context.Context, a *account, v Verdict) (Verdict, error) {
	if !syncable(&a.snap.Load().status) {
		return v, ErrUnconfirmed
	}
	err := m.syncShared(context.WithoutCancel(ctx), a, -1)
	if err == nil {
		return v, ErrUnconfirmed
	}
	switch rv := judgeSync(err, m.clock.Now()); {
	case rv.Effect == EffectValidationRequired:
		return rv, nil
	case rv.Status == http.StatusForbidden:
		return v, nil
	}
	return v, fmt.Errorf("%w (%v)", ErrUnconfirmed, err)
}

// unreadableCause classifies an EffectQuotaUnreadable verdict.
func unreadableCause(v Verdict) string {
	switch {
	case v.Status == http.StatusForbidden:
		return "forbidden"
	case v.Status == http.StatusTooManyRequests:
		return "rate_limited"
	case v.Reason == errNoProject.Error():
		return "no_project"
	}
	return "other"
}

// markUnreadable records that the account's quota cannot be read, and
// why: its figures become unknown (the account stays routable on the
// reactive path, its marks still apply) and, when the upstream asked to
// wait, no read is made before v.Until. An event fires when the reason is
// new.
func (m *Manager) markUnreadable(a *account, v Verdict, now time.Time) {
	var (
		changed bool
		label   string
	)
	a.update(func(s *snapshot) {
		st := &s.status
		changed, label = st.Unreadable != v.Reason, st.Label
		st.Unreadable, st.UnreadableUntil, st.UnreadableCause = v.Reason, v.Until, unreadableCause(v)
		for i, f := range cloudcode.Families {
			st.Families[i] = FamilyQuota{Family: f, FetchedAt: now}
			// Answer from what is known until the back-off ends rather than
			// asking a refusing upstream on every request.
			s.expires[i] = now.Add(min(failureBackoff, m.opt.CacheTTL))
			if v.Until.After(s.expires[i]) {
				s.expires[i] = v.Until
			}
		}
	})
	if changed {
		m.Publish(Event{At: now, Kind: EventAccountError, AccountID: a.id, Account: label,
			Message: "quota unreadable: " + v.Reason})
	}
	m.hub.signal()
}

// Touch records that the account was used at at, for least-recently-used
// ordering. Earlier times than the one recorded are ignored.
func (m *Manager) Touch(accountID int64, at time.Time) {
	a := m.lookup(accountID)
	if a == nil {
		return
	}
	n := at.UnixNano()
	for {
		old := a.lastUsed.Load()
		if old >= n || a.lastUsed.CompareAndSwap(old, n) {
			return
		}
	}
}
