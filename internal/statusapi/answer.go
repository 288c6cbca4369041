// Package statusapi lets a running quotatui (the dashboard or serve) answer
// "how is the pool doing?" for `quotatui status` without a call upstream:
// the answer's schema and how it is built from the quota engine, a unix
// socket per process in the state directory that serves it, the client
// that finds and asks those sockets, and the renderings `status` prints
// (JSON, the table, one line for a status bar).
//
// It does not import internal/tui, which nothing may import: the words
// that name an account's severity are passed in (Judge), and the words are
// the contract between the instance and the client.
package statusapi

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
)

// Schema names the answer's format; a change that breaks a reader gets a
// new version.
const Schema = "quotatui.status/v1"

// Answer is what a running instance says about its pool, and what
// `quotatui status` builds itself when it syncs.
type Answer struct {
	Schema string `json:"schema"`
	// At is when the answer was made, on the instance's clock: reset
	// countdowns are measured from it.
	At time.Time `json:"at"`
	// Instance is the process that answered; nil when `status` synced
	// itself.
	Instance *Instance `json:"instance,omitempty"`
	// Summary counts the accounts by their words (Summarize).
	Summary Summary `json:"summary"`
	// Accounts are exactly what `quotatui status --json` prints.
	Accounts []Account `json:"accounts"`
	// Problems are quotatui's own (its database), one sentence each.
	Problems []string `json:"problems,omitempty"`
}

// Instance says which process answered.
type Instance struct {
	Command string    `json:"command"` // "serve" or "dashboard"
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Version string    `json:"version"`
	Started time.Time `json:"started"`
	// Poller is set when this process holds the database's poller lease:
	// it reads the upstream itself; the others adopt its figures.
	Poller bool   `json:"poller"`
	DB     string `json:"db"`
}

// Account is one account as `quotatui status --json` prints it.
type Account struct {
	ID            int64  `json:"id"`
	Email         string `json:"email"`
	Label         string `json:"label"`
	Tier          string `json:"tier"`
	TierID        string `json:"tier_id,omitempty"`
	Project       string `json:"project,omitempty"`
	State         string `json:"state"`  // the engine's or the user's state: active, disabled, needs_login, ...
	Status        string `json:"status"` // the dashboard's word for the account (see the Word constants)
	StateReason   string `json:"state_reason,omitempty"`
	ValidationURL string `json:"validation_url,omitempty"`
	LastSync      Time   `json:"last_sync,omitzero"`
	LastError     string `json:"last_error,omitempty"`
	// QuotaUnreadable says why the quota cannot be read ("" when it can);
	// the account stays routable meanwhile.
	QuotaUnreadable      string            `json:"quota_unreadable,omitempty"`
	QuotaUnreadableCause string            `json:"quota_unreadable_cause,omitempty"`
	QuotaUnreadableUntil Time              `json:"quota_unreadable_until,omitzero"`
	Families             map[string]Family `json:"families"`
}

// Family is one model family of an account.
type Family struct {
	Effective  *float64 `json:"effective"` // null when unknown
	FiveHour   *float64 `json:"five_hour"`
	Weekly     *float64 `json:"weekly"`
	Bottleneck string   `json:"bottleneck,omitempty"`
	ResetTime  Time     `json:"reset_time,omitzero"`
	Decision   string   `json:"decision"`
	// Status is the dashboard's word for the family: OK, LOW, COOLING,
	// EXHAUSTED or UNKNOWN.
	Status    string `json:"status"`
	Mark      string `json:"mark,omitempty"`
	MarkUntil Time   `json:"mark_until,omitzero"`
	// SyncedAt is when the figures were read from the upstream (by this
	// process or by the poller it took them from).
	SyncedAt Time `json:"synced_at,omitzero"`
	// Estimated is set when the figures above are the engine's estimate:
	// the synced figure (Synced) less the learned cost of the requests the
	// proxies served since (RequestsSinceSync), or a bucket past its reset
	// taken as refilled. The next sync replaces them.
	Estimated         bool     `json:"estimated,omitempty"`
	Synced            *float64 `json:"synced,omitempty"`
	RequestsSinceSync int64    `json:"requests_since_sync,omitempty"`
}

// Shown is the family's effective figure as status and the dashboard
// print it: "42%", "≈42%" while estimated, "?" when unknown.
func (f Family) Shown() string {
	s := fraction(f.Effective).String()
	if f.Estimated && f.Effective != nil {
		return EstimateMark + s
	}
	return s
}

// EstimateMark marks a figure that is an estimate since the last sync
// (quota.FamilyQuota.Estimated), here and in the dashboard.
const EstimateMark = "≈"

// Time is a time that JSON shows as RFC 3339 in UTC to the second, as
// `status --json` always has, and leaves out when zero (omitzero).
type Time struct{ time.Time }

// MarshalJSON writes the time as an RFC 3339 string in UTC. It must be
// MarshalJSON: time.Time's own, promoted through the embedding, wins over
// a MarshalText (nanoseconds and the local offset).
func (t Time) MarshalJSON() ([]byte, error) {
	return appendTime(make([]byte, 0, len(time.RFC3339)+2), t.Time), nil
}

// appendTime writes t as Time.MarshalJSON does: RFC 3339 in UTC, quoted.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339)
	return append(b, '"')
}

// UnmarshalJSON reads an RFC 3339 string.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil // as time.Time does
	}
	// An RFC 3339 time has nothing JSON escapes: the string is its bytes.
	s, quoted := strings.CutPrefix(string(b), `"`)
	s, ended := strings.CutSuffix(s, `"`)
	if !quoted || !ended {
		return fmt.Errorf("time: not a JSON string: %.40s", b)
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("time: %w", err)
	}
	t.Time = v
	return nil
}

// The words of Account.Status and Family.Status: the dashboard's, which
// cmd/quotatui checks against internal/tui's severities.
const (
	WordOK         = "OK"
	WordUnknown    = "UNKNOWN"
	WordLow        = "LOW"
	WordCooling    = "COOLING"
	WordExhausted  = "EXHAUSTED"
	WordSyncError  = "SYNC ERROR"
	WordDisabled   = "DISABLED"
	WordForbidden  = "FORBIDDEN"
	WordNeedsLogin = "NEEDS LOGIN"
)

// glyphs are the dashboard's one-cell symbols of the words, for the line.
var glyphs = map[string]string{
	WordOK: "✓", WordUnknown: "?", WordLow: "!", WordCooling: "◷", WordExhausted: "✗",
	WordSyncError: "×", WordDisabled: "–", WordForbidden: "⊘", WordNeedsLogin: "⚿",
}

// Glyph returns the dashboard's symbol for a word, "" for an unknown word.
func Glyph(word string) string { return glyphs[word] }

// Judge names severities with the dashboard's words; cmd/quotatui passes
// internal/tui's, so `status` and the dashboard never disagree.
type Judge struct {
	Account func(*quota.Status) string
	Family  func(*quota.FamilyQuota, quota.Mark) string
}

// Engine is what an answer is built from; *quota.Manager implements it.
// None of these does I/O.
type Engine interface {
	GetAllQuotas() []quota.Status
	IsPoller() bool
	Health() quota.Health
}

// Build makes the answer from the engine's snapshot; inst, when not nil,
// is copied and told whether it is the poller.
func Build(eng Engine, judge Judge, inst *Instance, now time.Time) *Answer {
	a := &Answer{Schema: Schema, At: now, Accounts: Accounts(eng.GetAllQuotas(), judge), Problems: eng.Health().Problems}
	a.Summary = Summarize(a.Accounts)
	if inst != nil {
		in := *inst
		in.Poller = eng.IsPoller()
		a.Instance = &in
	}
	return a
}

// Accounts converts the engine's snapshots for JSON, in their order.
func Accounts(all []quota.Status, judge Judge) []Account {
	out := make([]Account, 0, len(all))
	for i := range all {
		st := &all[i]
		a := Account{
			ID: st.AccountID, Email: st.Email, Label: st.Label, Tier: st.Tier.String(), TierID: st.TierID,
			Project: st.ProjectID, State: string(st.State), Status: judge.Account(st), StateReason: st.StateReason,
			ValidationURL: st.ValidationURL, LastSync: Time{st.LastSync}, LastError: st.LastError,
			QuotaUnreadable: st.Unreadable, QuotaUnreadableCause: st.UnreadableCause, QuotaUnreadableUntil: Time{st.UnreadableUntil},
			Families: make(map[string]Family, len(st.Families)),
		}
		for j := range st.Families {
			fq, mk := &st.Families[j], st.Marks[j]
			f := Family{
				Effective: fractionPtr(fq.Effective), FiveHour: fractionPtr(fq.FiveHour.Remaining), Weekly: fractionPtr(fq.Weekly.Remaining),
				Bottleneck: string(fq.Bottleneck), ResetTime: Time{fq.ResetTime}, Decision: fq.Decision.String(),
				Status: judge.Family(fq, mk), SyncedAt: Time{fq.FetchedAt},
			}
			if fq.Estimated {
				f.Estimated, f.Synced, f.RequestsSinceSync = true, fractionPtr(fq.Synced), fq.Requests
			}
			// The engine's snapshots hold only the marks still in force.
			switch mk.Kind {
			case quota.CooldownMark:
				f.Mark, f.MarkUntil = "cooldown", Time{mk.Until}
			case quota.ExhaustedMark:
				f.Mark, f.MarkUntil = "exhausted", Time{mk.Until}
			}
			a.Families[cloudcode.Families[j].String()] = f
		}
		out = append(out, a)
	}
	return out
}

func fractionPtr(f cloudcode.Fraction) *float64 {
	if !f.Known {
		return nil
	}
	v := f.Value
	return &v
}

// fraction is the inverse of fractionPtr.
func fraction(p *float64) cloudcode.Fraction {
	if p == nil {
		return cloudcode.Fraction{}
	}
	return cloudcode.KnownFraction(*p)
}

// NewInstance describes this process as command (serve, dashboard).
func NewInstance(command, version, db string, started time.Time) *Instance {
	host, _ := os.Hostname()
	return &Instance{Command: command, PID: os.Getpid(), Host: host, Version: version, Started: started, DB: db}
}
