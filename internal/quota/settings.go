package quota

import (
	"fmt"
	"strings"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/store"
)

// FamilySet is a set of model families for the routing choices: one bit per
// index of cloudcode.Families, plus restricted. The zero value is
// unrestricted (every family, tracked or not).
type FamilySet uint8

// restricted marks a set that limits routing; without it the set allows
// every family. It keeps "only families this build does not know" apart
// from "no limit".
const restricted FamilySet = 1 << 7

// FamiliesOf returns the restricted set of fs.
func FamiliesOf(fs ...cloudcode.Family) FamilySet {
	s := restricted
	for _, f := range fs {
		if i := familyIndex(f); i >= 0 {
			s |= 1 << i
		}
	}
	return s
}

// allowsIndex reports whether the set allows the family at index idx of
// cloudcode.Families (-1: a model of no tracked family, allowed only when
// nothing is restricted).
func (s FamilySet) allowsIndex(idx int) bool {
	if s == 0 {
		return true
	}
	return idx >= 0 && s&(1<<idx) != 0
}

// Allows reports whether the set allows family f.
func (s FamilySet) Allows(f cloudcode.Family) bool { return s.allowsIndex(familyIndex(f)) }

// String lists the set's family names, "all" when unrestricted.
func (s FamilySet) String() string {
	if s == 0 {
		return "all"
	}
	var names []string
	for i, f := range cloudcode.Families {
		if s&(1<<i) != 0 {
			names = append(names, f.String())
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

// Routing is the user's choices about how the proxy may use one account
// (store.Routing as the engine reads it). They are user choices, like
// Disabled: only the user's commands write them; the engine reads them
// from the store on every reload.
type Routing struct {
	// Priority orders accounts under the "priority" policy: higher first.
	Priority int
	// Reserve is the fraction of each family kept back for other use:
	// at or below it the account is Exhausted for the proxy (Check), while
	// the figure shown stays the real one.
	Reserve float64
	// Only is the set of families the proxy may route to the account
	// (zero: every family).
	Only FamilySet
	// ProxyDisabled keeps the account monitored only: synced and shown,
	// never routed to.
	ProxyDisabled bool
}

// routingOf reads the store's routing choices. Names this build does not
// know are left out of the set (which stays restricted).
func routingOf(r store.Routing) Routing {
	out := Routing{Priority: r.Priority, Reserve: r.Reserve, ProxyDisabled: r.ProxyDisabled}
	if len(r.Families) > 0 {
		fs := make([]cloudcode.Family, 0, len(r.Families))
		for _, n := range r.Families {
			fs = append(fs, cloudcode.ParseFamily(n))
		}
		out.Only = FamiliesOf(fs...)
	}
	return out
}

// IsDefault reports whether nothing was chosen.
func (r Routing) IsDefault() bool { return r == Routing{} }

// String describes the choices briefly, e.g. "priority 2 · reserve 20% ·
// families gemini · not routed"; "default" when none was made.
func (r Routing) String() string {
	var parts []string
	if r.Priority != 0 {
		parts = append(parts, fmt.Sprintf("priority %d", r.Priority))
	}
	if r.Reserve > 0 {
		parts = append(parts, "reserve "+percent(r.Reserve))
	}
	if r.Only != 0 {
		parts = append(parts, "families "+r.Only.String())
	}
	if r.ProxyDisabled {
		parts = append(parts, "monitored only")
	}
	if len(parts) == 0 {
		return "default"
	}
	return strings.Join(parts, " · ")
}

// refusal is why the proxy may not route model (in family index idx) to
// the account by the user's choice, or "" when it may.
func (r *Routing) refusal(idx int) string {
	switch {
	case r.ProxyDisabled:
		return ReasonProxyDisabled
	case !r.Only.allowsIndex(idx):
		return ReasonFamilyNotRouted
	}
	return ""
}

// thresholds returns t raised by the account's reserve: the floor at
// which it is Exhausted becomes the reserve, and the low zone keeps its
// width above it. lift is how far the floor moved (0 without a reserve
// above the engine's own).
func (r *Routing) thresholds(t Thresholds) (_ Thresholds, lift float64) {
	if r.Reserve <= t.Reserve {
		return t, 0
	}
	lift = r.Reserve - t.Reserve
	t.Reserve += lift
	t.Low += lift
	return t, lift
}

// percent writes a fraction as a whole percentage ("20%").
func percent(v float64) string {
	return fmt.Sprintf("%.0f%%", v*100)
}
