// Package alert tells the user what happened to their quota without the
// dashboard being looked at: an account running low or out, quota coming
// back, an account that needs a login or a browser verification, a whole
// pool spent, a forecast that says a family runs out before its reset.
//
// A Service derives these events from what the quota engine publishes (its
// event feed and its Status snapshots), once per episode, and hands each to
// every configured sink whose filter wants it: a desktop notification, a
// webhook, a command. Each sink has its own bounded queue and worker, so a
// sink that hangs or fails is retried with backoff and never blocks the
// engine, the proxy or another sink.
package alert

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Kind names what an alert is about. The names are part of the webhook
// schema and of the configuration's event filters: never rename one.
type Kind string

// The alert kinds.
const (
	// KindLow: an account's family entered the LOW zone.
	KindLow Kind = "low"
	// KindExhausted: an account's family is spent (polled at the reserve,
	// or the upstream answered 429).
	KindExhausted Kind = "exhausted"
	// KindReset: an account's family that was LOW or EXHAUSTED has quota
	// again (its window reset).
	KindReset Kind = "reset"
	// KindPoolExhausted: no account can serve a family any more; ResetAt
	// is the earliest time one can again.
	KindPoolExhausted Kind = "pool_exhausted"
	// KindPoolReset: after KindPoolExhausted, an account can serve the
	// family again.
	KindPoolReset Kind = "pool_reset"
	// KindForecast: at its current pace an account's family runs out
	// before its window resets.
	KindForecast Kind = "forecast"
	// KindNeedsLogin: the account's refresh token was rejected.
	KindNeedsLogin Kind = "needs_login"
	// KindVerification: Google wants the user to verify the account in a
	// browser; URL says where.
	KindVerification Kind = "verification_required"
	// KindForbidden: the upstream refuses the account.
	KindForbidden Kind = "forbidden"
	// KindOAuthClient: tokens cannot be refreshed because the OAuth
	// client is missing or is not the one that issued them.
	KindOAuthClient Kind = "oauth_client"
	// KindTest is the sample `quotatui alerts test` sends. No filter
	// selects it.
	KindTest Kind = "test"
)

// kinds lists the kinds a filter may select, in a fixed order (a Filter's
// bit i is kinds[i]).
var kinds = [...]Kind{
	KindLow, KindExhausted, KindReset,
	KindPoolExhausted, KindPoolReset, KindForecast,
	KindNeedsLogin, KindVerification, KindForbidden, KindOAuthClient,
}

// Kinds returns every kind a filter may select.
func Kinds() []Kind { return slices.Clone(kinds[:]) }

// Severity says how urgent an alert is; sinks map it to a notification's
// urgency or priority.
type Severity string

// The severities.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Severity returns the kind's severity: critical when requests are failing
// or about to, warning when the user should act, info for good news.
func (k Kind) Severity() Severity {
	switch k {
	case KindExhausted, KindPoolExhausted:
		return SeverityCritical
	case KindReset, KindPoolReset, KindTest:
		return SeverityInfo
	default:
		return SeverityWarning
	}
}

// Schema is the value of Event.Schema. It changes only when a field changes
// meaning or goes away; new fields may be added within a version.
const Schema = "quotatui.alert/v1"

// Event is one alert, and also the JSON body of the webhook's "json" format
// and of the command's stdin. Fields that do not apply are left out.
type Event struct {
	Schema   string    `json:"schema"`
	Kind     Kind      `json:"kind"`
	Severity Severity  `json:"severity"`
	At       time.Time `json:"at"`
	// Title is one short line ("ada: gemini exhausted"); Message says the
	// rest in a sentence or two.
	Title   string   `json:"title"`
	Message string   `json:"message"`
	Account *Account `json:"account,omitempty"` // the account, for account events
	Family  string   `json:"family,omitempty"`  // "gemini" or "claude-gpt"
	// Remaining is the family's effective remaining fraction (0..1), left
	// out when unknown. Window names the bucket that sets it ("5h" or
	// "weekly") and ResetAt when that bucket resets (for pool events, the
	// earliest time an account can serve the family again).
	Remaining *float64  `json:"remaining,omitempty"`
	Window    string    `json:"window,omitempty"`
	ResetAt   time.Time `json:"reset_at,omitzero"`
	Pool      *Pool     `json:"pool,omitempty"`     // pool events
	Forecast  *Forecast `json:"forecast,omitempty"` // forecast events
	URL       string    `json:"url,omitempty"`      // where to act (the verification page)
	Sample    bool      `json:"sample,omitempty"`   // true for `quotatui alerts test`
}

// Account names the account an event is about.
type Account struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Label string `json:"label"`          // what the dashboard shows: the label, else the email
	Tier  string `json:"tier,omitempty"` // FREE, PRO, ULTRA
}

// Pool describes a family's pool at a pool event.
type Pool struct {
	Accounts int `json:"accounts"` // accounts in the pool
	Usable   int `json:"usable"`   // accounts that can serve the family now
}

// Forecast is the projection behind a forecast event.
type Forecast struct {
	EmptyAt     time.Time `json:"empty_at"`      // when the family runs out at this pace
	BurnPerHour float64   `json:"burn_per_hour"` // fraction of the bucket spent per hour
}

// newEvent returns an event of kind k with the schema, severity and time
// filled in.
func newEvent(k Kind, at time.Time, title, message string) Event {
	return Event{Schema: Schema, Kind: k, Severity: k.Severity(), At: at.UTC(), Title: title, Message: message}
}

// Sample returns the event `quotatui alerts test` sends: a test event that
// carries every field a real account event has, so a receiver can be
// checked against the whole schema.
func Sample(now time.Time) Event {
	e := newEvent(KindTest, now, "quotatui: test alert",
		"This is a test alert from `quotatui alerts test`: this sink works. Real alerts look like this one, with kind low, exhausted, reset, …")
	rem := 0.08
	e.Account = &Account{ID: 1, Email: "someone@example.com", Label: "someone", Tier: "PRO"}
	e.Family = "gemini"
	e.Remaining = &rem
	e.Window = "5h"
	e.ResetAt = now.Add(2 * time.Hour).UTC().Truncate(time.Second)
	e.Sample = true
	return e
}

// Filter selects alert kinds for one sink. The zero Filter selects none.
type Filter uint32

// AllKinds selects every kind.
const AllKinds = Filter(1<<len(kinds) - 1)

// ParseFilter reads a sink's event list as the configuration writes it:
// kind names, or "all".
func ParseFilter(names []string) (Filter, error) {
	var f Filter
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "all" {
			f = AllKinds
			continue
		}
		i := slices.Index(kinds[:], Kind(n))
		if i < 0 {
			return 0, fmt.Errorf("unknown alert kind %q; want \"all\" or any of %s", n, kindList())
		}
		f |= 1 << i
	}
	if f == 0 {
		return 0, fmt.Errorf("no alert kind selected; want \"all\" or any of %s", kindList())
	}
	return f, nil
}

// Match reports whether f selects k.
func (f Filter) Match(k Kind) bool {
	i := slices.Index(kinds[:], k)
	return i >= 0 && f&(1<<i) != 0
}

// String lists the selected kinds ("all" for every one).
func (f Filter) String() string {
	if f == AllKinds {
		return "all"
	}
	var names []string
	for i, k := range kinds {
		if f&(1<<i) != 0 {
			names = append(names, string(k))
		}
	}
	return strings.Join(names, ",")
}

func kindList() string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}
