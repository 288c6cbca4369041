package frontend

import (
	"fmt"
	"sort"
	"strings"
)

// DefaultAliases maps the model names Claude Code, the Anthropic SDK and
// OpenAI-compatible tools send to Antigravity ids. A key ending in "*"
// matches every name with that prefix; the longest match wins. Users
// extend or override it with [models.aliases].
func DefaultAliases() map[string]string {
	return map[string]string{
		"opus":                       "claude-opus-4-6-thinking",
		"claude-opus-4*":             "claude-opus-4-6-thinking",
		"claude-opus-4-6":            "claude-opus-4-6-thinking",
		"claude-3-opus*":             "claude-opus-4-6-thinking",
		"sonnet":                     "claude-sonnet-4-6",
		"claude-sonnet-4*":           "claude-sonnet-4-6",
		"claude-sonnet-4-5-thinking": "claude-sonnet-4-6-thinking",
		"claude-sonnet-4-6-thinking": "claude-sonnet-4-6-thinking",
		"claude-3-5-sonnet*":         "claude-sonnet-4-6",
		"claude-3-7-sonnet*":         "claude-sonnet-4-6",
		"haiku":                      "claude-sonnet-4-6",
		"claude-haiku*":              "claude-sonnet-4-6",
		"claude-3-haiku*":            "claude-sonnet-4-6",
		"claude-3-5-haiku*":          "claude-sonnet-4-6",
		"gpt-4*":                     "gemini-3-flash",
		"gpt-5*":                     "gemini-3-flash",
		"gpt-3.5*":                   "gemini-3-flash",
		"o1*":                        "gemini-3-pro-high",
		"o3*":                        "gemini-3-pro-high",
		"o4*":                        "gemini-3-flash",
	}
}

// Aliases resolves client model names to upstream ids.
type Aliases struct {
	exact  map[string]string
	prefix []aliasPrefix // longest first
}

type aliasPrefix struct{ prefix, target string }

// NewAliases builds a resolver from a table (keys are matched without
// regard to case; a trailing "*" makes a prefix). It refuses empty keys or
// targets and a "*" anywhere but at the end.
func NewAliases(table map[string]string) (*Aliases, error) {
	a := &Aliases{exact: map[string]string{}}
	keys := make([]string, 0, len(table))
	for k := range table {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := strings.TrimSpace(table[k])
		key := strings.ToLower(strings.TrimSpace(k))
		if key == "" || key == "*" || v == "" {
			return nil, fmt.Errorf("model alias %q = %q: both the name and the target must be set", k, table[k])
		}
		if i := strings.Index(key, "*"); i >= 0 && i != len(key)-1 {
			return nil, fmt.Errorf("model alias %q: \"*\" may only end a name", k)
		}
		if p, ok := strings.CutSuffix(key, "*"); ok {
			a.prefix = append(a.prefix, aliasPrefix{p, v})
			continue
		}
		a.exact[key] = v
	}
	sort.SliceStable(a.prefix, func(i, j int) bool { return len(a.prefix[i].prefix) > len(a.prefix[j].prefix) })
	return a, nil
}

// Resolve returns the upstream id for a client's model name. A name the
// pool serves as it is wins over any alias; then an exact alias; then the
// longest prefix alias; else the name itself. ok is false when known is
// not nil and reports the result unknown: the caller answers 404.
func (a *Aliases) Resolve(name string, known func(string) bool) (string, bool) {
	name = strings.TrimPrefix(strings.TrimSpace(name), "models/")
	if known != nil && known(name) {
		return name, true
	}
	target := name
	key := strings.ToLower(name)
	if t, ok := a.exact[key]; ok {
		target = t
	} else {
		for _, p := range a.prefix {
			if strings.HasPrefix(key, p.prefix) {
				target = p.target
				break
			}
		}
	}
	if known != nil && !known(target) {
		return target, false
	}
	return target, true
}
