package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// AccountState is what the engine learned about an account: whether the
// upstream and Google's OAuth let it be used. The user's own choice to
// turn an account off is a separate column (Account.Disabled), which the
// engine never writes.
type AccountState string

// The account states. Only StateActive accounts are used for requests.
const (
	StateActive             AccountState = "active"
	StateForbidden          AccountState = "forbidden"           // 403 from the upstream, until a sync succeeds
	StateValidationRequired AccountState = "validation_required" // the user must verify the account at ValidationURL
	StateNeedsLogin         AccountState = "needs_login"         // the refresh token is dead (invalid_grant)
	StateNeedsClient        AccountState = "needs_client"        // the account's OAuth client is not configured
	StateClientMismatch     AccountState = "client_mismatch"     // Google says the token belongs to another OAuth client
)

// Valid reports whether s is one of the known states.
func (s AccountState) Valid() bool {
	switch s {
	case StateActive, StateForbidden, StateValidationRequired, StateNeedsLogin,
		StateNeedsClient, StateClientMismatch:
		return true
	}
	return false
}

// Account is one Google account as stored. Times are zero when unknown.
type Account struct {
	ID           int64
	Email, Label string

	RefreshToken, AccessToken string
	AccessExpiry              time.Time

	ProjectID, TierID, TierName, Tier string // Tier is cloudcode.Tier.String() or ""
	TierCheckedAt                     time.Time

	State       AccountState
	StateReason string
	StateAt     time.Time // when State was last set (for validation_required: when it was flagged)

	ValidationURL string
	AddedAt       time.Time

	// Disabled is the user's choice to turn the account off (quotatui
	// neither syncs nor routes to it); DisabledAt is when. Only the user's
	// commands write it (SetDisabled); the engine's states are in State.
	Disabled   bool
	DisabledAt time.Time

	// What the poller learned at its last sync (see AccountSync): when,
	// the error ("" after a success), and why the quota is unreadable
	// ("" when it is readable). Written in a Batch, read by the other
	// processes on the database.
	SyncedAt        time.Time
	SyncError       string
	Unreadable      string
	UnreadableCause string
	UnreadableUntil time.Time

	// OAuthClientID is the OAuth client the refresh token belongs to (it
	// refreshes with no other); "" means the configured default client.
	// It travels with the refresh token: an upsert that brings a new
	// refresh token sets it too.
	OAuthClientID string

	// Routing is the user's choices about how the proxy may use the
	// account. Only the user's commands write it (SetRouting).
	Routing Routing
}

// String names the account by label or email; it never shows tokens, so
// an Account can be logged or put in an error safely.
func (a Account) String() string {
	if a.Label != "" {
		return fmt.Sprintf("account %d (%s)", a.ID, a.Label)
	}
	return fmt.Sprintf("account %d (%s)", a.ID, a.Email)
}

// GoString is like String, so %#v cannot print tokens either.
func (a Account) GoString() string { return a.String() }

const accountColumns = `id, email, label, refresh_token, access_token, access_expiry,
	project_id, tier, tier_id, tier_name, tier_checked_at,
	state, state_reason, state_at, validation_url, added_at, oauth_client_id, disabled, disabled_at,
	synced_at, sync_error, unreadable, unreadable_cause, unreadable_until,
	priority, reserve, families, proxy_disabled`

type rowScanner interface{ Scan(dest ...any) error }

func scanAccount(r rowScanner) (Account, error) {
	var a Account
	var expiry, checked, stateAt, added, disabledAt, syncedAt, unreadableUntil int64
	var state, families string
	err := r.Scan(&a.ID, &a.Email, &a.Label, &a.RefreshToken, &a.AccessToken, &expiry,
		&a.ProjectID, &a.Tier, &a.TierID, &a.TierName, &checked,
		&state, &a.StateReason, &stateAt, &a.ValidationURL, &added, &a.OAuthClientID, &a.Disabled, &disabledAt,
		&syncedAt, &a.SyncError, &a.Unreadable, &a.UnreadableCause, &unreadableUntil,
		&a.Routing.Priority, &a.Routing.Reserve, &families, &a.Routing.ProxyDisabled)
	if err != nil {
		return Account{}, err
	}
	a.Routing.Families = splitFamilies(families)
	a.AccessExpiry, a.TierCheckedAt, a.StateAt, a.AddedAt = fromMS(expiry), fromMS(checked), fromMS(stateAt), fromMS(added)
	a.DisabledAt, a.SyncedAt, a.UnreadableUntil = fromMS(disabledAt), fromMS(syncedAt), fromMS(unreadableUntil)
	a.State = AccountState(state)
	return a, nil
}

// Accounts returns every account ordered by id.
func (s *Store) Accounts(ctx context.Context) ([]Account, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("store: accounts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	return out, nil
}

// Account returns the account with id, or an error wrapping ErrNotFound.
func (s *Store) Account(ctx context.Context, id int64) (Account, error) {
	a, err := scanAccount(s.read.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, fmt.Errorf("store: account %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Account{}, fmt.Errorf("store: account %d: %w", id, err)
	}
	return a, nil
}

// AccountByEmail returns the account with email (compared without regard
// to ASCII case), or an error wrapping ErrNotFound.
func (s *Store) AccountByEmail(ctx context.Context, email string) (Account, error) {
	email = strings.TrimSpace(email)
	a, err := scanAccount(s.read.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE email = ?`, email))
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, fmt.Errorf("store: account %q: %w", email, ErrNotFound)
	}
	if err != nil {
		return Account{}, fmt.Errorf("store: account %q: %w", email, err)
	}
	return a, nil
}

// UpsertAccounts stores accts in one transaction, merging each into the
// existing account with the same email (ignoring ASCII case):
//   - non-empty tokens, project and tier fields overwrite the stored ones
//     (an access expiry or tier check time overwrites when non-zero);
//   - a new refresh token brings its OAuthClientID ("" = the default
//     client), since a token refreshes only with the client that issued it;
//   - an empty label keeps the stored label;
//   - a non-empty State overwrites the state, its reason, time and
//     validation URL; otherwise a new refresh token turns needs_login,
//     needs_client and client_mismatch back into active;
//   - ID and AddedAt of an existing account never change.
//
// New accounts default to StateActive and AddedAt now. It returns the
// stored rows in the order of accts. An account with an empty email or an
// unknown state fails the whole call, naming its index.
func (s *Store) UpsertAccounts(ctx context.Context, accts []Account) (_ []Account, err error) {
	defer func() { err = s.noted(err) }()
	if err := CheckUpserts(accts); err != nil {
		return nil, fmt.Errorf("store: upsert accounts: %w", err)
	}
	now := s.now()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: upsert accounts: %w", err)
	}
	defer tx.Rollback()
	sel, err := tx.PrepareContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE email = ?`)
	if err != nil {
		return nil, fmt.Errorf("store: upsert accounts: %w", err)
	}
	defer sel.Close()
	out := make([]Account, 0, len(accts))
	for i, in := range accts {
		in.Email = strings.TrimSpace(in.Email)
		old, err := scanAccount(sel.QueryRowContext(ctx, in.Email))
		var stored Account
		switch {
		case errors.Is(err, sql.ErrNoRows):
			stored, err = insertAccount(ctx, tx, in, now)
		case err == nil:
			stored, err = updateAccount(ctx, tx, merge(old, in, now))
		}
		if err != nil {
			return nil, fmt.Errorf("store: upsert accounts: account %d (%s): %w", i, in.Email, err)
		}
		out = append(out, stored)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: upsert accounts: commit: %w", err)
	}
	return out, nil
}

// merge applies the UpsertAccounts rules to the stored account old.
func merge(old, in Account, now time.Time) Account {
	m := old
	setIf := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	setIf(&m.Label, in.Label)
	if in.RefreshToken != "" {
		// A refresh token refreshes only with its own client.
		m.RefreshToken, m.OAuthClientID = in.RefreshToken, in.OAuthClientID
	}
	setIf(&m.AccessToken, in.AccessToken)
	setIf(&m.ProjectID, in.ProjectID)
	setIf(&m.TierID, in.TierID)
	setIf(&m.TierName, in.TierName)
	setIf(&m.Tier, in.Tier)
	if !in.AccessExpiry.IsZero() {
		m.AccessExpiry = in.AccessExpiry
	}
	if !in.TierCheckedAt.IsZero() {
		m.TierCheckedAt = in.TierCheckedAt
	}
	switch {
	case in.State != "":
		m.State, m.StateReason, m.ValidationURL = in.State, in.StateReason, in.ValidationURL
		m.StateAt = in.StateAt
		if m.StateAt.IsZero() {
			m.StateAt = now
		}
	case in.RefreshToken != "" && (old.State == StateNeedsLogin || old.State == StateNeedsClient || old.State == StateClientMismatch):
		// A fresh login or import cures a dead token or a client problem:
		// the next refresh tells whether it really did.
		m.State, m.StateReason, m.ValidationURL, m.StateAt = StateActive, "", "", now
	}
	return m
}

func insertAccount(ctx context.Context, tx *sql.Tx, a Account, now time.Time) (Account, error) {
	a = NewAccount(a, now)
	res, err := tx.ExecContext(ctx, `INSERT INTO accounts (email, label, refresh_token, access_token, access_expiry,
		project_id, tier, tier_id, tier_name, tier_checked_at, state, state_reason, state_at, validation_url, added_at,
		oauth_client_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.Email, a.Label, a.RefreshToken, a.AccessToken, ms(a.AccessExpiry),
		a.ProjectID, a.Tier, a.TierID, a.TierName, ms(a.TierCheckedAt),
		string(a.State), a.StateReason, ms(a.StateAt), a.ValidationURL, ms(a.AddedAt), a.OAuthClientID)
	if err != nil {
		return Account{}, fmt.Errorf("insert: %w", err)
	}
	if a.ID, err = res.LastInsertId(); err != nil {
		return Account{}, fmt.Errorf("insert: %w", err)
	}
	return roundTrip(a), nil
}

func updateAccount(ctx context.Context, tx *sql.Tx, a Account) (Account, error) {
	_, err := tx.ExecContext(ctx, `UPDATE accounts SET label = ?, refresh_token = ?, access_token = ?, access_expiry = ?,
		project_id = ?, tier = ?, tier_id = ?, tier_name = ?, tier_checked_at = ?,
		state = ?, state_reason = ?, state_at = ?, validation_url = ?, oauth_client_id = ? WHERE id = ?`,
		a.Label, a.RefreshToken, a.AccessToken, ms(a.AccessExpiry),
		a.ProjectID, a.Tier, a.TierID, a.TierName, ms(a.TierCheckedAt),
		string(a.State), a.StateReason, ms(a.StateAt), a.ValidationURL, a.OAuthClientID, a.ID)
	if err != nil {
		return Account{}, fmt.Errorf("update: %w", err)
	}
	return roundTrip(a), nil
}

// roundTrip truncates a's times to what the database keeps, so the rows
// UpsertAccounts returns equal what Account reads back later.
func roundTrip(a Account) Account {
	a.AccessExpiry = fromMS(ms(a.AccessExpiry))
	a.TierCheckedAt = fromMS(ms(a.TierCheckedAt))
	a.StateAt = fromMS(ms(a.StateAt))
	a.AddedAt = fromMS(ms(a.AddedAt))
	a.DisabledAt = fromMS(ms(a.DisabledAt))
	a.SyncedAt = fromMS(ms(a.SyncedAt))
	a.UnreadableUntil = fromMS(ms(a.UnreadableUntil))
	return a
}

// execOne runs a single-account update and maps "no row" to ErrNotFound.
func (s *Store) execOne(ctx context.Context, what string, id int64, query string, args ...any) (err error) {
	defer func() { err = s.noted(err) }()
	res, err := s.write.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("store: %s %d: %w", what, id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: %s %d: %w", what, id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: %s %d: %w", what, id, ErrNotFound)
	}
	return nil
}

// UpdateTokens stores a refreshed access token and its expiry. A
// non-empty refresh replaces the stored refresh token (and, like a new
// login, turns needs_login back into active); "" keeps the old one.
func (s *Store) UpdateTokens(ctx context.Context, id int64, access string, expiry time.Time, refresh string) error {
	if refresh == "" {
		return s.execOne(ctx, "update tokens of account", id,
			`UPDATE accounts SET access_token = ?, access_expiry = ? WHERE id = ?`, access, ms(expiry), id)
	}
	return s.execOne(ctx, "update tokens of account", id,
		`UPDATE accounts SET access_token = ?, access_expiry = ?, refresh_token = ?,
			state_reason = CASE WHEN state = 'needs_login' THEN '' ELSE state_reason END,
			state_at = CASE WHEN state = 'needs_login' THEN ? ELSE state_at END,
			state = CASE WHEN state = 'needs_login' THEN 'active' ELSE state END
		WHERE id = ?`, access, ms(expiry), refresh, ms(s.now()), id)
}

// SetState records an account's state with its reason, the validation
// URL (for validation_required; "" otherwise) and the time it was set.
func (s *Store) SetState(ctx context.Context, id int64, state AccountState, reason, validationURL string, at time.Time) error {
	if !state.Valid() {
		return fmt.Errorf("store: set state of account %d: unknown state %q", id, state)
	}
	return s.execOne(ctx, "set state of account", id,
		`UPDATE accounts SET state = ?, state_reason = ?, validation_url = ?, state_at = ? WHERE id = ?`,
		string(state), reason, validationURL, ms(at), id)
}

// SetDisabled records the user's choice to turn an account off (or on
// again), at at. It touches nothing the engine writes.
func (s *Store) SetDisabled(ctx context.Context, id int64, disabled bool, at time.Time) error {
	return s.execOne(ctx, "set disabled of account", id,
		`UPDATE accounts SET disabled = ?, disabled_at = ? WHERE id = ?`, disabled, ms(at), id)
}

// AccountsVersion returns a counter that moves whenever any process
// changes an account (added, removed, disabled, labelled, its state, client
// or tokens; not a refreshed access token) or a mark. A process polls it
// to notice another's changes cheaply: one row read.
func (s *Store) AccountsVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.read.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'accounts_version'`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: accounts version: %w", err)
	}
	return v, nil
}

// SetTier records the project and subscription tier found by
// loadCodeAssist, and when they were checked (for the tier cache's TTL).
// An empty projectID keeps the stored project: the upstream may omit it.
func (s *Store) SetTier(ctx context.Context, id int64, projectID, tierID, tierName, tier string, checkedAt time.Time) error {
	return s.execOne(ctx, "set tier of account", id,
		`UPDATE accounts SET project_id = CASE WHEN ? = '' THEN project_id ELSE ? END,
			tier_id = ?, tier_name = ?, tier = ?, tier_checked_at = ? WHERE id = ?`,
		projectID, projectID, tierID, tierName, tier, ms(checkedAt), id)
}

// ClearTierCache forgets when every account's tier was checked, so the
// next lookup asks the upstream again. The tiers themselves are kept for
// display until then.
func (s *Store) ClearTierCache(ctx context.Context) (err error) {
	defer func() { err = s.noted(err) }()
	if _, err := s.write.ExecContext(ctx, `UPDATE accounts SET tier_checked_at = 0`); err != nil {
		return fmt.Errorf("store: clear tier cache: %w", err)
	}
	return nil
}

// SetLabel sets an account's display label ("" shows the email).
func (s *Store) SetLabel(ctx context.Context, id int64, label string) error {
	return s.execOne(ctx, "set label of account", id, `UPDATE accounts SET label = ? WHERE id = ?`, label, id)
}

// DeleteAccount removes an account with its quota history and events
// (by foreign-key cascade).
func (s *Store) DeleteAccount(ctx context.Context, id int64) error {
	return s.execOne(ctx, "delete account", id, `DELETE FROM accounts WHERE id = ?`, id)
}
