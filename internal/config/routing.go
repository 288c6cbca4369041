package config

import (
	"slices"
	"strconv"
	"strings"
)

// DefaultRoutingPolicy is the order quotatui always had.
const DefaultRoutingPolicy = "balanced"

// RoutingPolicies returns the values routing.policy accepts.
// internal/quota defines the policies themselves; a test there keeps the
// two lists equal, since config cannot import quota.
func RoutingPolicies() []string {
	return []string{"balanced", "reset-aware", "fill-first", "priority"}
}

// routing checks routing.policy against the known policies.
func (v *validator) routing(policy string) {
	if !slices.Contains(RoutingPolicies(), policy) {
		v.failValue("routing.policy", strconv.Quote(policy), "want one of "+strings.Join(RoutingPolicies(), ", "))
	}
}
