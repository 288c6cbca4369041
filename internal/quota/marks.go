package quota

import (
	"context"
	"fmt"
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
		if ep := &a.episodes[idx]; !ep.exhaustedFired {
			// The sync that confirms it must not warn a second time.
			ep.exhaustedFired = true
			fire = &Event{At: now, Kind: EventExhausted, AccountID: accountID, Account: s.status.Label, Family: f,
				Message: fmt.Sprintf("%s exhausted (upstream 429), locked for %s", f, clock.Short(until.Sub(now)))}
		}
	})
	a.mu.Unlock()
	if fire != nil {
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
	})
	m.hub.signal()
}

// RecordSuccess tells the manager that a request on the account for family
// f, started at startedAt, succeeded. It clears a mark only if the mark is
// older than the request: a request already in flight when the upstream
// said "exhausted" may still finish with 200, and must not unlock the
// account.
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
		}
	})
	if cleared {
		m.hub.signal()
	}
}

// MarkForbidden sets the account's state (forbidden, validation_required,
// needs_login, disabled, or active to clear), in memory and in the store.
// Forbidden and validation_required last until a later sync succeeds.
func (m *Manager) MarkForbidden(ctx context.Context, accountID int64, state AccountState, reason, validationURL string) error {
	a := m.lookup(accountID)
	if a == nil {
		return fmt.Errorf("mark account %d %s: %w", accountID, state, ErrUnknownAccount)
	}
	now := m.clock.Now()
	if err := m.st.SetState(ctx, accountID, store.AccountState(state), reason, validationURL, now); err != nil {
		return fmt.Errorf("mark account %d %s: %w", accountID, state, err)
	}
	var label string
	a.update(func(s *snapshot) {
		s.status.State, s.status.StateReason, s.status.ValidationURL = state, reason, validationURL
		label = s.status.Label
	})
	if state != StateActive {
		m.Publish(Event{At: now, Kind: EventAccountDisabled, AccountID: accountID, Account: label,
			Message: fmt.Sprintf("%s: %s", stateReason(state), reason)})
	}
	m.hub.signal()
	return nil
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
