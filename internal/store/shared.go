package store

import (
	"fmt"
	"strings"
	"time"
)

// This file holds the rules every backend applies the same way (the
// SQLite store here, the PostgreSQL store in internal/store/pg), so a
// second backend checks and merges exactly as the first and the two
// cannot drift apart.

// Backend names, as Kind reports them.
const (
	BackendSQLite   = "sqlite"
	BackendPostgres = "postgres"
)

// Backend returns BackendSQLite: what kind of database this store is, for
// the dashboard's header and the logs.
func (s *Store) Backend() string { return BackendSQLite }

// MergeAccount applies UpsertAccounts' rules to the stored account old
// and the incoming in (see UpsertAccounts).
func MergeAccount(old, in Account, now time.Time) Account { return merge(old, in, now) }

// NewAccount fills the defaults of an account UpsertAccounts inserts:
// state active, added now, its state set when it was added.
func NewAccount(a Account, now time.Time) Account {
	if a.State == "" {
		a.State = StateActive
	}
	if a.AddedAt.IsZero() {
		a.AddedAt = now
	}
	if a.StateAt.IsZero() {
		a.StateAt = a.AddedAt
	}
	return a
}

// RoundTrip truncates an account's times to what a backend keeps (Unix
// milliseconds), so what an upsert returns equals what a later read finds.
func RoundTrip(a Account) Account { return roundTrip(a) }

// CheckUpserts refuses a list UpsertAccounts cannot take (an empty email,
// an unknown state), naming the account by its index.
func CheckUpserts(accts []Account) error {
	for i, a := range accts {
		if strings.TrimSpace(a.Email) == "" {
			return fmt.Errorf("account %d: empty email", i)
		}
		if a.State != "" && !a.State.Valid() {
			return fmt.Errorf("account %d (%s): unknown state %q", i, a.Email, a.State)
		}
	}
	return nil
}

// Check refuses a batch Write would refuse as a whole: an invalid sample,
// an event without a kind, an invalid mark or an unknown state, by index.
func (b Batch) Check() error {
	for i, smp := range b.Samples {
		if err := smp.validate(); err != nil {
			return fmt.Errorf("sample %d: %w", i, err)
		}
	}
	for i, e := range b.Events {
		if e.Kind == "" {
			return fmt.Errorf("event %d: empty kind", i)
		}
	}
	for i, m := range b.Marks {
		if err := m.validate(); err != nil {
			return fmt.Errorf("mark %d: %w", i, err)
		}
	}
	for i, as := range b.Accounts {
		if as.State != nil && !as.State.State.Valid() {
			return fmt.Errorf("account sync %d: unknown state %q", i, as.State.State)
		}
	}
	return nil
}

// Check refuses routing choices out of bounds, saying which and why.
func (r Routing) Check() error { return r.check() }

// SplitFamilies reads a stored families list ("" = every family).
func SplitFamilies(s string) []string { return splitFamilies(s) }

// SameReset reports whether two reset times, as stored (Unix ms, 0 =
// unknown), name the same reset (within ResetTolerance).
func SameReset(a, b int64) bool { return sameReset(a, b) }

// UnixMS is how a backend stores a time: Unix milliseconds, 0 for the
// zero time.
func UnixMS(t time.Time) int64 { return ms(t) }

// FromUnixMS reads a stored time back (0 is the zero time).
func FromUnixMS(v int64) time.Time { return fromMS(v) }

// Skipped counts, within one write, what belonged to accounts that no
// longer exist; Err reports it as a *SkippedError (nil when nothing was
// skipped). A backend other than SQLite fills it in as it writes.
type Skipped struct{ SkippedError }

// Account notes that id does not exist (once per id).
func (s *Skipped) Account(id int64) {
	for _, x := range s.AccountIDs {
		if x == id {
			return
		}
	}
	s.AccountIDs = append(s.AccountIDs, id)
}

// Err is the *SkippedError, or nil.
func (s *Skipped) Err() error {
	c := accountChecker{skipped: s.SkippedError}
	return c.err()
}

// InstanceTTL is how long an instance counts as live after its last
// heartbeat (a shared database's instances table); the monitor beats
// every few seconds.
const InstanceTTL = 20 * time.Second

// Instance is one running quotatui on a shared database, as its
// heartbeat describes it.
type Instance struct {
	Holder    string // quota.Options.Holder: host, pid and a random part
	Host      string
	PID       int
	Started   time.Time
	Heartbeat time.Time
	Poller    bool // it holds the poller lease
}

// Change says what another process changed on a shared database, as its
// notifications tell (a bit set; several coalesce).
type Change uint8

// The changes a shared store announces.
const (
	// ChangeAccounts: an account or a mark changed (AccountsVersion moved).
	ChangeAccounts Change = 1 << iota
	// ChangeSync: new figures or sync outcomes (SyncVersion moved).
	ChangeSync
	// ChangeLost: the store lost its notifications for a while (it
	// reconnected): anything may have changed meanwhile, read it all.
	ChangeLost
)
