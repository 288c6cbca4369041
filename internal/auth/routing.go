package auth

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/store"
)

// The settings `accounts set` takes, in the order they are documented.
const (
	SettingPriority         = "priority"
	SettingReserve          = "reserve"
	SettingFamilies         = "families"
	SettingDisabledForProxy = "disabled_for_proxy"
)

// RoutingError is a bad `accounts set` argument: which one, and what is
// allowed. Nothing is written when one is returned.
type RoutingError struct {
	Setting string // as the user wrote it ("" when none was given)
	Problem string
}

// Error reads like `reserve=1.5: want a fraction from 0 ...`.
func (e *RoutingError) Error() string {
	if e.Setting == "" {
		return e.Problem
	}
	return e.Setting + ": " + e.Problem
}

// familyNames lists the family names `families=` accepts.
func familyNames() []string {
	out := make([]string, len(cloudcode.Families))
	for i, f := range cloudcode.Families {
		out[i] = f.String()
	}
	return out
}

// ParseRouting applies settings ("key=value", as `quotatui accounts set`
// takes them) to cur and returns the result. Every setting is checked
// before any is applied; the first bad one is a *RoutingError naming it
// and the allowed values.
func ParseRouting(cur store.Routing, settings []string) (store.Routing, error) {
	if len(settings) == 0 {
		return cur, &RoutingError{Problem: "name at least one setting: priority=N, reserve=F, families=LIST, disabled_for_proxy=BOOL"}
	}
	out := cur
	seen := map[string]bool{}
	for _, s := range settings {
		k, v, ok := strings.Cut(s, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !ok {
			return cur, &RoutingError{Setting: strconv.Quote(s), Problem: "want key=value, e.g. priority=2"}
		}
		if seen[k] {
			return cur, &RoutingError{Setting: s, Problem: k + " is given twice"}
		}
		seen[k] = true
		bad := func(problem string) error { return &RoutingError{Setting: k + "=" + v, Problem: problem} }
		switch k {
		case SettingPriority:
			n, err := strconv.Atoi(v)
			if err != nil || n < -store.MaxPriority || n > store.MaxPriority {
				return cur, bad(fmt.Sprintf("want a whole number from %d to %d (higher is used first under routing.policy = priority; default 0)",
					-store.MaxPriority, store.MaxPriority))
			}
			out.Priority = n
		case SettingReserve:
			f, err := parseFraction(v)
			if err != nil {
				return cur, bad("want a fraction from 0 up to (not including) 1, such as 0.2 or 20% (the part of each family the proxy leaves unused; default 0)")
			}
			out.Reserve = f
		case SettingFamilies:
			fams, err := parseFamilies(v)
			if err != nil {
				return cur, bad(err.Error())
			}
			out.Families = fams
		case SettingDisabledForProxy:
			b, err := strconv.ParseBool(strings.ToLower(v))
			switch strings.ToLower(v) {
			case "yes", "on":
				b, err = true, nil
			case "no", "off":
				b, err = false, nil
			}
			if err != nil {
				return cur, bad("want true or false (true: monitored only, the proxy never uses the account)")
			}
			out.ProxyDisabled = b
		default:
			return cur, &RoutingError{Setting: strconv.Quote(k), Problem: "unknown setting " + strconv.Quote(k) + ": want priority, reserve, families or disabled_for_proxy"}
		}
	}
	return out, nil
}

// parseFraction reads "0.2" or "20%" as a fraction in [0, 1).
func parseFraction(v string) (float64, error) {
	scale := 1.0
	if s, ok := strings.CutSuffix(v, "%"); ok {
		v, scale = strings.TrimSpace(s), 100
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, err
	}
	f /= scale
	if math.IsNaN(f) || f < 0 || f >= 1 {
		return 0, fmt.Errorf("out of range")
	}
	return f, nil
}

// parseFamilies reads a comma-separated list of family names, "all" or
// "" for no limit. The result is in cloudcode.Families order, nil when it
// names every family.
func parseFamilies(v string) ([]string, error) {
	if v == "" || strings.EqualFold(v, "all") {
		return nil, nil
	}
	want := map[cloudcode.Family]bool{}
	for _, n := range strings.Split(v, ",") {
		n = strings.ToLower(strings.TrimSpace(n))
		f := cloudcode.ParseFamily(n)
		if f == cloudcode.FamilyUnknown {
			return nil, fmt.Errorf("unknown family %q: want %s (comma-separated) or all", n, strings.Join(familyNames(), ", "))
		}
		want[f] = true
	}
	if len(want) == len(cloudcode.Families) {
		return nil, nil
	}
	var out []string
	for _, f := range cloudcode.Families {
		if want[f] {
			out = append(out, f.String())
		}
	}
	return out, nil
}

// SetRouting applies settings (see ParseRouting) to the account ref names,
// in one write: a bad setting writes nothing. A running quotatui picks the
// change up within a couple of seconds (the accounts change counter).
func SetRouting(ctx context.Context, st Store, ref string, settings []string) (store.Account, error) {
	a, err := FindAccount(ctx, st, ref)
	if err != nil {
		return store.Account{}, err
	}
	r, err := ParseRouting(a.Routing, settings)
	if err != nil {
		return store.Account{}, err
	}
	if err := st.SetRouting(ctx, a.ID, r); err != nil {
		return store.Account{}, fmt.Errorf("set routing of %s: %w", a, err)
	}
	return st.Account(ctx, a.ID)
}

// RoutingText describes an account's routing choices for a table:
// "priority 2, reserve 20%, families gemini, monitored only", or
// "default" when none was made.
func RoutingText(r store.Routing) string {
	var parts []string
	if r.Priority != 0 {
		parts = append(parts, fmt.Sprintf("priority %d", r.Priority))
	}
	if r.Reserve > 0 {
		parts = append(parts, fmt.Sprintf("reserve %.0f%%", r.Reserve*100))
	}
	if len(r.Families) > 0 {
		parts = append(parts, "families "+strings.Join(r.Families, ","))
	}
	if r.ProxyDisabled {
		parts = append(parts, "monitored only")
	}
	if len(parts) == 0 {
		return "default"
	}
	return strings.Join(parts, ", ")
}
