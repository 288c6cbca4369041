package auth

import (
	"context"
	"time"

	"github.com/quotatui/quotatui/internal/store"
)

// Store is what the account commands, the importer, login and the token
// source need of a database. The SQLite store (*store.Store) and the
// PostgreSQL one (*pg.Store) both satisfy it.
type Store interface {
	Accounts(ctx context.Context) ([]store.Account, error)
	Account(ctx context.Context, id int64) (store.Account, error)
	AccountByEmail(ctx context.Context, email string) (store.Account, error)
	UpsertAccounts(ctx context.Context, accts []store.Account) ([]store.Account, error)
	UpdateTokens(ctx context.Context, id int64, access string, expiry time.Time, refresh string) error
	SetState(ctx context.Context, id int64, state store.AccountState, reason, validationURL string, at time.Time) error
	SetDisabled(ctx context.Context, id int64, disabled bool, at time.Time) error
	SetLabel(ctx context.Context, id int64, label string) error
	SetRouting(ctx context.Context, id int64, r store.Routing) error
	DeleteAccount(ctx context.Context, id int64) error
}

// refreshLocker is a store shared by several instances that lets one of
// them at a time refresh an account's token (*pg.Store: an advisory lock
// per account). The token source takes it around a refresh and reads the
// stored token again once it has it: the instance that held it before
// may have refreshed already, and the result is then used, not refreshed
// again.
type refreshLocker interface {
	LockRefresh(ctx context.Context, accountID int64) (unlock func(), err error)
}
