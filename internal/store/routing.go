package store

import (
	"context"
	"fmt"
	"strings"
)

// MaxPriority bounds Routing.Priority both ways.
const MaxPriority = 1000

// Routing is the user's routing choices for one account: how the proxy
// may use it. The zero value is the default: no priority, no reserve,
// every family, routed. The store keeps what it is given within its
// bounds; the meaning (which names are families, how a reserve counts)
// belongs to the quota engine.
type Routing struct {
	// Priority orders accounts under the "priority" policy: higher first.
	// Between -MaxPriority and MaxPriority.
	Priority int
	// Reserve is the fraction of each family kept back for other use: the
	// proxy treats the account as exhausted for a family at or below it.
	// In [0, 1).
	Reserve float64
	// Families names the families the proxy may route to the account
	// (cloudcode.Family names); empty means every family.
	Families []string
	// ProxyDisabled keeps the account monitored only: the proxy never
	// routes to it.
	ProxyDisabled bool
}

// check refuses values the columns would not hold, saying which and why.
func (r Routing) check() error {
	if r.Priority < -MaxPriority || r.Priority > MaxPriority {
		return fmt.Errorf("priority %d: want a whole number from %d to %d", r.Priority, -MaxPriority, MaxPriority)
	}
	if !(r.Reserve >= 0 && r.Reserve < 1) { // also refuses NaN
		return fmt.Errorf("reserve %v: want a fraction from 0 up to (not including) 1", r.Reserve)
	}
	for _, f := range r.Families {
		if f == "" || strings.IndexFunc(f, func(c rune) bool { return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') }) >= 0 {
			return fmt.Errorf("family %q: want a family name (lower-case letters, digits and dashes)", f)
		}
	}
	return nil
}

// splitFamilies reads the families column ("" = every family).
func splitFamilies(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// SetRouting replaces an account's routing choices with r, in one update,
// moving the accounts version so running processes reload them. A value
// out of bounds is refused and nothing is written. It touches nothing the
// engine writes.
func (s *Store) SetRouting(ctx context.Context, id int64, r Routing) error {
	if err := r.check(); err != nil {
		return fmt.Errorf("store: set routing of account %d: %w", id, err)
	}
	return s.execOne(ctx, "set routing of account", id,
		`UPDATE accounts SET priority = ?, reserve = ?, families = ?, proxy_disabled = ? WHERE id = ?`,
		r.Priority, r.Reserve, strings.Join(r.Families, ","), r.ProxyDisabled, id)
}
