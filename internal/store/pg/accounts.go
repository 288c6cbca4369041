package pg

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quotatui/quotatui/internal/store"
)

// The methods below are the SQLite store's (see package store for each
// rule), one statement or one transaction each.

const accountColumns = `id, email, label, refresh_token, access_token, access_expiry,
	project_id, tier, tier_id, tier_name, tier_checked_at,
	state, state_reason, state_at, validation_url, added_at, oauth_client_id, disabled, disabled_at,
	synced_at, sync_error, unreadable, unreadable_cause, unreadable_until,
	priority, reserve, families, proxy_disabled`

func scanAccount(r pgx.Row) (store.Account, error) {
	var a store.Account
	var expiry, checked, stateAt, added, disabledAt, syncedAt, unreadableUntil int64
	var state, families string
	err := r.Scan(&a.ID, &a.Email, &a.Label, &a.RefreshToken, &a.AccessToken, &expiry,
		&a.ProjectID, &a.Tier, &a.TierID, &a.TierName, &checked,
		&state, &a.StateReason, &stateAt, &a.ValidationURL, &added, &a.OAuthClientID, &a.Disabled, &disabledAt,
		&syncedAt, &a.SyncError, &a.Unreadable, &a.UnreadableCause, &unreadableUntil,
		&a.Routing.Priority, &a.Routing.Reserve, &families, &a.Routing.ProxyDisabled)
	if err != nil {
		return store.Account{}, err
	}
	a.Routing.Families = store.SplitFamilies(families)
	a.AccessExpiry, a.TierCheckedAt, a.StateAt, a.AddedAt = fromMS(expiry), fromMS(checked), fromMS(stateAt), fromMS(added)
	a.DisabledAt, a.SyncedAt, a.UnreadableUntil = fromMS(disabledAt), fromMS(syncedAt), fromMS(unreadableUntil)
	a.State = store.AccountState(state)
	return a, nil
}

// Accounts returns every account ordered by id.
func (s *Store) Accounts(ctx context.Context) ([]store.Account, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+accountColumns+` FROM accounts ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Account, error) { return scanAccount(r) })
	if err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	return out, nil
}

// Account returns the account with id, or an error wrapping
// store.ErrNotFound.
func (s *Store) Account(ctx context.Context, id int64) (store.Account, error) {
	a, err := scanAccount(s.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
	if isNoRows(err) {
		return store.Account{}, fmt.Errorf("store: account %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Account{}, fmt.Errorf("store: account %d: %w", id, err)
	}
	return a, nil
}

// AccountByEmail returns the account with email (compared without regard
// to case), or an error wrapping store.ErrNotFound.
func (s *Store) AccountByEmail(ctx context.Context, email string) (store.Account, error) {
	email = strings.TrimSpace(email)
	a, err := scanAccount(s.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE lower(email) = lower($1)`, email))
	if isNoRows(err) {
		return store.Account{}, fmt.Errorf("store: account %q: %w", email, store.ErrNotFound)
	}
	if err != nil {
		return store.Account{}, fmt.Errorf("store: account %q: %w", email, err)
	}
	return a, nil
}

// UpsertAccounts stores accts in one transaction, merging each into the
// account with the same email by store.MergeAccount's rules. The rows are
// locked as they are read, so two instances importing at once merge one
// after the other.
func (s *Store) UpsertAccounts(ctx context.Context, accts []store.Account) (_ []store.Account, err error) {
	defer func() { err = s.noted(err) }()
	if err := store.CheckUpserts(accts); err != nil {
		return nil, fmt.Errorf("store: upsert accounts: %w", err)
	}
	now := s.now()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: upsert accounts: %w", err)
	}
	defer tx.Rollback(ctx)
	out := make([]store.Account, 0, len(accts))
	for i, in := range accts {
		in.Email = strings.TrimSpace(in.Email)
		old, err := scanAccount(tx.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE lower(email) = lower($1) FOR UPDATE`, in.Email))
		var stored store.Account
		switch {
		case isNoRows(err):
			stored, err = insertAccount(ctx, tx, store.NewAccount(in, now))
		case err == nil:
			stored, err = updateAccount(ctx, tx, store.MergeAccount(old, in, now))
		}
		if err != nil {
			return nil, fmt.Errorf("store: upsert accounts: account %d (%s): %w", i, in.Email, err)
		}
		out = append(out, stored)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("store: upsert accounts: commit: %w", err)
	}
	return out, nil
}

func insertAccount(ctx context.Context, tx pgx.Tx, a store.Account) (store.Account, error) {
	err := tx.QueryRow(ctx, `INSERT INTO accounts (email, label, refresh_token, access_token, access_expiry,
		project_id, tier, tier_id, tier_name, tier_checked_at, state, state_reason, state_at, validation_url, added_at,
		oauth_client_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id`,
		a.Email, a.Label, a.RefreshToken, a.AccessToken, ms(a.AccessExpiry),
		a.ProjectID, a.Tier, a.TierID, a.TierName, ms(a.TierCheckedAt),
		string(a.State), a.StateReason, ms(a.StateAt), a.ValidationURL, ms(a.AddedAt), a.OAuthClientID).Scan(&a.ID)
	if err != nil {
		return store.Account{}, fmt.Errorf("insert: %w", err)
	}
	return store.RoundTrip(a), nil
}

func updateAccount(ctx context.Context, tx pgx.Tx, a store.Account) (store.Account, error) {
	_, err := tx.Exec(ctx, `UPDATE accounts SET label = $1, refresh_token = $2, access_token = $3, access_expiry = $4,
		project_id = $5, tier = $6, tier_id = $7, tier_name = $8, tier_checked_at = $9,
		state = $10, state_reason = $11, state_at = $12, validation_url = $13, oauth_client_id = $14 WHERE id = $15`,
		a.Label, a.RefreshToken, a.AccessToken, ms(a.AccessExpiry),
		a.ProjectID, a.Tier, a.TierID, a.TierName, ms(a.TierCheckedAt),
		string(a.State), a.StateReason, ms(a.StateAt), a.ValidationURL, a.OAuthClientID, a.ID)
	if err != nil {
		return store.Account{}, fmt.Errorf("update: %w", err)
	}
	return store.RoundTrip(a), nil
}

// execOne runs a single-account statement and maps "no row" to
// store.ErrNotFound.
func (s *Store) execOne(ctx context.Context, what string, id int64, query string, args ...any) (err error) {
	defer func() { err = s.noted(err) }()
	tag, err := s.pool.Exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("store: %s %d: %w", what, id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: %s %d: %w", what, id, store.ErrNotFound)
	}
	return nil
}

// UpdateTokens stores a refreshed access token and its expiry; a
// non-empty refresh replaces the refresh token (and turns needs_login
// back into active).
func (s *Store) UpdateTokens(ctx context.Context, id int64, access string, expiry time.Time, refresh string) error {
	if refresh == "" {
		return s.execOne(ctx, "update tokens of account", id,
			`UPDATE accounts SET access_token = $1, access_expiry = $2 WHERE id = $3`, access, ms(expiry), id)
	}
	return s.execOne(ctx, "update tokens of account", id,
		`UPDATE accounts SET access_token = $1, access_expiry = $2, refresh_token = $3,
			state_reason = CASE WHEN state = 'needs_login' THEN '' ELSE state_reason END,
			state_at = CASE WHEN state = 'needs_login' THEN $4 ELSE state_at END,
			state = CASE WHEN state = 'needs_login' THEN 'active' ELSE state END
		WHERE id = $5`, access, ms(expiry), refresh, ms(s.now()), id)
}

// SetState records an account's engine state.
func (s *Store) SetState(ctx context.Context, id int64, state store.AccountState, reason, validationURL string, at time.Time) error {
	if !state.Valid() {
		return fmt.Errorf("store: set state of account %d: unknown state %q", id, state)
	}
	return s.execOne(ctx, "set state of account", id,
		`UPDATE accounts SET state = $1, state_reason = $2, validation_url = $3, state_at = $4 WHERE id = $5`,
		string(state), reason, validationURL, ms(at), id)
}

// SetDisabled records the user's choice to turn an account off or on.
func (s *Store) SetDisabled(ctx context.Context, id int64, disabled bool, at time.Time) error {
	return s.execOne(ctx, "set disabled of account", id,
		`UPDATE accounts SET disabled = $1, disabled_at = $2 WHERE id = $3`, disabled, ms(at), id)
}

// AccountsVersion returns the counter that moves on any account or mark
// change (the triggers of schema 5).
func (s *Store) AccountsVersion(ctx context.Context) (int64, error) {
	return s.counter(ctx, "accounts_version")
}

// SyncVersion returns the counter that moves with every batch carrying
// figures or sync outcomes.
func (s *Store) SyncVersion(ctx context.Context) (int64, error) {
	return s.counter(ctx, "sync_version")
}

func (s *Store) counter(ctx context.Context, key string) (int64, error) {
	var v int64
	if err := s.pool.QueryRow(ctx, `SELECT value FROM meta WHERE key = $1`, key).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: %s: %w", strings.ReplaceAll(key, "_", " "), err)
	}
	return v, nil
}

// SetTier records the project and tier found by loadCodeAssist; an empty
// projectID keeps the stored project.
func (s *Store) SetTier(ctx context.Context, id int64, projectID, tierID, tierName, tier string, checkedAt time.Time) error {
	return s.execOne(ctx, "set tier of account", id,
		`UPDATE accounts SET project_id = CASE WHEN $1 = '' THEN project_id ELSE $1 END,
			tier_id = $2, tier_name = $3, tier = $4, tier_checked_at = $5 WHERE id = $6`,
		projectID, tierID, tierName, tier, ms(checkedAt), id)
}

// ClearTierCache forgets when every account's tier was checked.
func (s *Store) ClearTierCache(ctx context.Context) (err error) {
	defer func() { err = s.noted(err) }()
	if _, err := s.pool.Exec(ctx, `UPDATE accounts SET tier_checked_at = 0`); err != nil {
		return fmt.Errorf("store: clear tier cache: %w", err)
	}
	return nil
}

// SetLabel sets an account's display label.
func (s *Store) SetLabel(ctx context.Context, id int64, label string) error {
	return s.execOne(ctx, "set label of account", id, `UPDATE accounts SET label = $1 WHERE id = $2`, label, id)
}

// DeleteAccount removes an account with its history, events, marks and
// session bindings (by cascade).
func (s *Store) DeleteAccount(ctx context.Context, id int64) error {
	return s.execOne(ctx, "delete account", id, `DELETE FROM accounts WHERE id = $1`, id)
}

// SetRouting replaces an account's routing choices, in one update.
func (s *Store) SetRouting(ctx context.Context, id int64, r store.Routing) error {
	if err := r.Check(); err != nil {
		return fmt.Errorf("store: set routing of account %d: %w", id, err)
	}
	return s.execOne(ctx, "set routing of account", id,
		`UPDATE accounts SET priority = $1, reserve = $2, families = $3, proxy_disabled = $4 WHERE id = $5`,
		r.Priority, r.Reserve, strings.Join(r.Families, ","), r.ProxyDisabled, id)
}
