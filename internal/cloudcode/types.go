package cloudcode

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Tier is an account's subscription plan, normalised from the raw tier id.
// Larger values rank higher for routing.
type Tier int

// The tiers, in routing order from worst to best.
const (
	TierUnknown Tier = iota
	TierFree
	TierPro
	TierUltra
)

// String returns the tier's upper-case name (ULTRA, PRO, FREE, UNKNOWN).
func (t Tier) String() string {
	switch t {
	case TierFree:
		return "FREE"
	case TierPro:
		return "PRO"
	case TierUltra:
		return "ULTRA"
	default:
		return "UNKNOWN"
	}
}

// ParseTier is the inverse of Tier.String; anything else is TierUnknown.
func ParseTier(s string) Tier {
	switch strings.ToUpper(s) {
	case "FREE":
		return TierFree
	case "PRO":
		return TierPro
	case "ULTRA":
		return TierUltra
	default:
		return TierUnknown
	}
}

// NormalizeTier maps a raw tier id (and its display name, as a fallback) to
// a Tier. Unknown ids map to TierUnknown; callers keep the raw id.
func NormalizeTier(id, name string) Tier {
	id = strings.ToLower(id)
	switch {
	case strings.Contains(id, "ultra"):
		return TierUltra
	case id == "g1-pro-tier", id == "standard-tier", strings.Contains(id, "pro"), strings.Contains(id, "plus"):
		return TierPro
	case id == "free-tier", id == "legacy-tier":
		return TierFree
	}
	n := strings.ToLower(name)
	switch {
	case strings.Contains(n, "ultra"):
		return TierUltra
	case strings.Contains(n, "pro"), strings.Contains(n, "plus"), strings.Contains(n, "standard"):
		return TierPro
	case strings.Contains(n, "free"):
		return TierFree
	}
	return TierUnknown
}

// Family is a shared quota pool: every model of one family draws from the
// same buckets, so a 429 on one model means the family is spent.
type Family uint8

// The model families.
const (
	FamilyUnknown Family = iota
	FamilyGemini
	FamilyClaudeGPT
)

// Families lists the known families in display order.
var Families = [...]Family{FamilyGemini, FamilyClaudeGPT}

// String returns the family's short name: "gemini", "claude-gpt" or "unknown".
func (f Family) String() string {
	switch f {
	case FamilyGemini:
		return "gemini"
	case FamilyClaudeGPT:
		return "claude-gpt"
	default:
		return "unknown"
	}
}

// Title returns the family's display name as the upstream groups it.
func (f Family) Title() string {
	switch f {
	case FamilyGemini:
		return "Gemini Models"
	case FamilyClaudeGPT:
		return "Claude and GPT models"
	default:
		return "Other models"
	}
}

// ParseFamily is the inverse of Family.String.
func ParseFamily(s string) Family {
	switch s {
	case "gemini":
		return FamilyGemini
	case "claude-gpt":
		return FamilyClaudeGPT
	default:
		return FamilyUnknown
	}
}

// ModelFamily maps any model id to the pool it draws from. Ids may carry a
// "models/" prefix. Claude and gpt-oss models share the third-party pool;
// every Gemini model shares the Gemini pool.
func ModelFamily(model string) Family {
	m := strings.ToLower(strings.TrimPrefix(model, "models/"))
	switch {
	case strings.HasPrefix(m, "gemini"):
		return FamilyGemini
	case strings.HasPrefix(m, "claude"), strings.HasPrefix(m, "gpt"):
		return FamilyClaudeGPT
	default:
		return FamilyUnknown
	}
}

// familyOfGroup maps a quota summary group's display name to a Family.
func familyOfGroup(name string) Family {
	n := strings.ToLower(name)
	switch {
	case strings.Contains(n, "gemini"):
		return FamilyGemini
	case strings.Contains(n, "claude"), strings.Contains(n, "gpt"), strings.Contains(n, "3p"):
		return FamilyClaudeGPT
	default:
		return FamilyUnknown
	}
}

// IsInternalModel reports whether id is an internal model (chat_*, tab_*)
// that users cannot call.
func IsInternalModel(id string) bool {
	return strings.HasPrefix(id, "chat_") || strings.HasPrefix(id, "tab_")
}

// Fraction is a remaining-quota fraction in [0, 1] that may be unknown.
// Missing data is never read as 0 % or 100 %.
type Fraction struct {
	Value float64
	Known bool
}

// KnownFraction returns a known Fraction clamped to [0, 1].
func KnownFraction(v float64) Fraction {
	if v < 0 || v != v {
		v = 0
	}
	if v > 1 {
		v = 1
	}
	return Fraction{Value: v, Known: true}
}

// String renders the fraction as a whole percentage, "?" when unknown. It
// rounds down, but never to 0 % while something is left: 0 % means spent.
func (f Fraction) String() string {
	if !f.Known {
		return "?"
	}
	p := int(math.Floor(f.Value * 100))
	if f.Value > 0 && p == 0 {
		p = 1
	}
	return strconv.Itoa(p) + "%"
}

// Min returns the smaller of two fractions, ignoring unknown ones. It is
// unknown only when both are.
func (f Fraction) Min(g Fraction) Fraction {
	switch {
	case !f.Known:
		return g
	case !g.Known:
		return f
	case g.Value < f.Value:
		return g
	default:
		return f
	}
}

// Subscription is what loadCodeAssist says about an account.
type Subscription struct {
	ProjectID          string // may be empty when the upstream sent none
	Tier               Tier
	TierID             string // raw id, from paidTier when present, else currentTier
	TierName           string
	ValidationRequired bool
	ValidationURL      string
}

// ModelQuota is one user-callable model and its 5-hour quota.
type ModelQuota struct {
	ID          string
	DisplayName string
	Family      Family
	Remaining   Fraction
	ResetTime   time.Time // zero when unknown
}

// ModelCatalog is the answer of fetchAvailableModels.
type ModelCatalog struct {
	Models     []ModelQuota      // sorted by ID; internal models dropped
	Deprecated map[string]string // old id -> new id
	// Problems describes the entries that were skipped and the figures
	// read as unknown because they made no sense (NaN, negative, above 1),
	// one line each, so the caller can log them. The rest of the answer is
	// usable.
	Problems []string
}

// Model returns the entry for id and whether it exists.
func (c *ModelCatalog) Model(id string) (ModelQuota, bool) {
	for _, m := range c.Models {
		if m.ID == id {
			return m, true
		}
	}
	return ModelQuota{}, false
}

// Window is a quota bucket's period.
type Window string

// The two windows the upstream reports.
const (
	Window5h     Window = "5h"
	WindowWeekly Window = "weekly"
)

// Bucket is one quota bucket from retrieveUserQuotaSummary.
type Bucket struct {
	Group     string // display name of the group, e.g. "Gemini Models"
	Family    Family
	BucketID  string
	Window    Window
	Remaining Fraction
	ResetTime time.Time // zero when unknown
}

// QuotaSummary is the answer of retrieveUserQuotaSummary.
type QuotaSummary struct {
	Buckets []Bucket
	// Problems describes skipped groups and buckets and figures read as
	// unknown, as in ModelCatalog.Problems.
	Problems []string
}

// Bucket returns the bucket for a family and window, if reported.
func (s *QuotaSummary) Bucket(f Family, w Window) (Bucket, bool) {
	for _, b := range s.Buckets {
		if b.Family == f && b.Window == w {
			return b, true
		}
	}
	return Bucket{}, false
}
