package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/store"
)

// MinLeeway is the smallest refresh lead time Tokens accepts: an access
// token is refreshed once it has less than this left, so a request that
// starts with it does not meet a 401 halfway.
const MinLeeway = 60 * time.Second

// DefaultRefreshTimeout bounds one call to the token endpoint.
const DefaultRefreshTimeout = 30 * time.Second

// TokensOptions configures Tokens. The zero value is usable.
type TokensOptions struct {
	Clock      clock.Clock   // default clock.Real{}
	HTTPClient *http.Client  // for the token and userinfo endpoints; default http.DefaultClient
	Leeway     time.Duration // refresh this long before expiry; raised to MinLeeway
	// RefreshTimeout bounds one refresh; default DefaultRefreshTimeout.
	RefreshTimeout time.Duration
	// OnNeedsLogin is called once when an account's refresh token is
	// rejected (invalid_grant), after the account is marked needs_login.
	OnNeedsLogin func(accountID int64, reason string)
	// OnState, when set, is called after the token source changed an
	// account's state in the store: needs_login, needs_client,
	// client_mismatch, or active when a refresh works again.
	OnState func(accountID int64, state store.AccountState, reason string)
	// Clients are the OAuth clients accounts may belong to; nil means only
	// the client given to NewTokens.
	Clients *Clients
	Logger  *slog.Logger // default: discard
}

// NeedsLoginError means an account cannot get an access token until the
// user logs in again: its refresh token was rejected (invalid_grant), or
// the account is already marked needs_login.
type NeedsLoginError struct {
	AccountID int64
	Reason    string
}

// Error says which account needs a login, how to do it, and why.
func (e *NeedsLoginError) Error() string {
	return fmt.Sprintf("account %d needs a new login (run `quotatui login`): %s", e.AccountID, e.Reason)
}

// NeedsLogin reports true, so that packages that must not import auth can
// recognise the error through a one-method interface.
func (e *NeedsLoginError) NeedsLogin() bool { return true }

// AccountState names the state the error puts the account in; the quota
// engine's error judgement reads it without importing auth.
func (e *NeedsLoginError) AccountState() store.AccountState { return store.StateNeedsLogin }

// ErrDisabled is returned by Token for an account the user disabled.
var ErrDisabled = errors.New("account is disabled")

// Tokens hands out access tokens per account, refreshing them ahead of
// expiry with one refresh in flight per account, and persisting every new
// token in the store. It implements quota.TokenSource and the proxy's token
// source. It is safe for concurrent use.
type Tokens struct {
	clients      *Clients
	st           Store
	clock        clock.Clock
	client       *http.Client
	leeway       time.Duration
	timeout      time.Duration
	onNeedsLogin func(int64, string)
	onState      func(int64, store.AccountState, string)
	log          *slog.Logger

	flights singleflight.Group

	mu      sync.RWMutex // read-locked on the hot path: a cached token
	entries map[int64]*tokenEntry
}

// tokenEntry is the cached state of one account's tokens.
type tokenEntry struct {
	access string
	expiry time.Time
	// stale is an access token that was invalidated: never hand it out
	// again, even if the store still holds it.
	stale string
	// dead is set for an account that needs a login, whose client is
	// missing or refused (or that is disabled); deadRefresh and deadClient
	// are the refresh token and client it failed with, so a new login or
	// import (a new token or client in the store) revives the account.
	dead        error
	deadRefresh string
	deadClient  string
	// unsaved is set while access (and unsavedRefresh, when rotated) could
	// not be written to the store: it is used from memory and the save is
	// retried every saveRetryEvery (lastSave is the last try).
	unsaved        bool
	unsavedRefresh string
	lastSave       time.Time
}

// saveRetryEvery is how often a token that could not be saved is tried
// again, on the next request after it.
const saveRetryEvery = 30 * time.Second

// NewTokens returns a token source for the accounts in st.
func NewTokens(cfg OAuthConfig, st Store, opt TokensOptions) *Tokens {
	if opt.Clock == nil {
		opt.Clock = clock.Real{}
	}
	if opt.HTTPClient == nil {
		opt.HTTPClient = http.DefaultClient
	}
	if opt.Leeway < MinLeeway {
		opt.Leeway = MinLeeway
	}
	if opt.RefreshTimeout <= 0 {
		opt.RefreshTimeout = DefaultRefreshTimeout
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	clients := opt.Clients
	if clients == nil {
		// One client: names cannot clash, so this cannot fail.
		clients, _ = NewClients(cfg)
	}
	return &Tokens{
		clients:      clients,
		st:           st,
		clock:        opt.Clock,
		client:       opt.HTTPClient,
		leeway:       opt.Leeway,
		timeout:      opt.RefreshTimeout,
		onNeedsLogin: opt.OnNeedsLogin,
		onState:      opt.OnState,
		log:          opt.Logger,
		entries:      make(map[int64]*tokenEntry),
	}
}

// Token returns a valid access token for the account, refreshing it when
// it has less than the leeway left or was invalidated. Concurrent callers
// for one account share a single refresh. An account that needs a login
// returns a *NeedsLoginError without calling the token endpoint.
func (t *Tokens) Token(ctx context.Context, accountID int64) (string, error) {
	if tok, ok, resave := t.cached(accountID); ok {
		if resave {
			t.retrySave(ctx, accountID)
		}
		return tok, nil
	}
	ch := t.flights.DoChan(strconv.FormatInt(accountID, 10), func() (any, error) {
		// The flight is shared: one caller giving up must not fail the
		// others, so it runs on its own deadline.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.timeout)
		defer cancel()
		return t.load(fctx, accountID)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return "", res.Err
		}
		return res.Val.(string), nil
	case <-ctx.Done():
		return "", fmt.Errorf("token for account %d: %w", accountID, ctx.Err())
	}
}

// cached returns the cached access token when it is good for longer than
// the leeway, and whether a failed save of it is due for a retry.
func (t *Tokens) cached(id int64) (tok string, ok, resave bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	e := t.entries[id]
	if e == nil || e.dead != nil || !t.fresh(e.access, e.expiry, e.stale) {
		return "", false, false
	}
	return e.access, true, e.unsaved && t.clock.Now().Sub(e.lastSave) >= saveRetryEvery
}

// retrySave writes a token kept in memory after a failed save, in the
// account's flight so one caller does it. It never fails the caller: the
// token works from memory either way.
func (t *Tokens) retrySave(ctx context.Context, id int64) {
	_, _, _ = t.flights.Do("save:"+strconv.FormatInt(id, 10), func() (any, error) {
		t.mu.Lock()
		e := t.entries[id]
		if e == nil || !e.unsaved || t.clock.Now().Sub(e.lastSave) < saveRetryEvery {
			t.mu.Unlock()
			return nil, nil
		}
		access, expiry, refresh := e.access, e.expiry, e.unsavedRefresh
		e.lastSave = t.clock.Now()
		t.mu.Unlock()
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.timeout)
		defer cancel()
		if err := t.st.UpdateTokens(wctx, id, access, expiry, refresh); err != nil {
			t.log.Warn("saving a refreshed token failed again; still using it from memory", "account", id, "err", err)
			return nil, nil
		}
		t.mu.Lock()
		if e := t.entries[id]; e != nil && e.access == access {
			e.unsaved, e.unsavedRefresh = false, ""
		}
		t.mu.Unlock()
		t.log.Info("refreshed token saved after all", "account", id)
		return nil, nil
	})
}

// fresh reports whether an access token can be handed out.
func (t *Tokens) fresh(access string, expiry time.Time, stale string) bool {
	return access != "" && access != stale && expiry.Sub(t.clock.Now()) > t.leeway
}

// Invalidate makes the next Token call for the account refresh, after the
// upstream rejected its access token with a 401.
func (t *Tokens) Invalidate(accountID int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.entries[accountID]; e != nil {
		e.stale = e.access
		e.access = ""
	}
}

// Forget drops the cached tokens of an account, after it was removed or
// changed outside this process.
func (t *Tokens) Forget(accountID int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.entries, accountID)
}

// load runs inside the account's flight: it re-reads the cache and the
// store (another flight or another process may have refreshed already) and
// refreshes only when neither has a usable token.
func (t *Tokens) load(ctx context.Context, id int64) (string, error) {
	t.mu.RLock()
	var e tokenEntry
	if p := t.entries[id]; p != nil {
		e = *p
	}
	t.mu.RUnlock()
	if e.dead == nil && t.fresh(e.access, e.expiry, e.stale) {
		return e.access, nil
	}
	stale, dead, deadRefresh, deadClient := e.stale, e.dead, e.deadRefresh, e.deadClient

	if lk, ok := t.st.(refreshLocker); ok {
		// Several instances share the database: one refreshes at a time,
		// and the account is read below only once this one may, so a
		// token another just stored is used instead of refreshed again.
		unlock, err := lk.LockRefresh(ctx, id)
		if err != nil {
			return "", fmt.Errorf("token for account %d: wait for another instance's refresh: %w", id, err)
		}
		defer unlock()
	}
	acct, err := t.st.Account(ctx, id)
	if err != nil {
		return "", fmt.Errorf("token for account %d: %w", id, err)
	}
	if dead != nil && acct.RefreshToken == deadRefresh && acct.OAuthClientID == deadClient && acct.State != store.StateActive {
		// Nothing changed since the account was marked: no new login yet.
		return "", dead
	}
	if acct.Disabled {
		err := fmt.Errorf("token for account %d: %w", id, ErrDisabled)
		t.markDead(id, err, acct)
		return "", err
	}
	switch acct.State {
	case store.StateNeedsLogin:
		if dead == nil || acct.RefreshToken == deadRefresh {
			err := &NeedsLoginError{AccountID: id, Reason: acct.StateReason}
			t.markDead(id, err, acct)
			return "", err
		}
		// A new refresh token arrived (a login or an import): try it.
	}
	// needs_client and client_mismatch are tried once per process: the
	// configuration may have gained the client since.
	if acct.RefreshToken == "" {
		err := &NeedsLoginError{AccountID: id, Reason: "no refresh token stored"}
		t.markDead(id, err, acct)
		return "", err
	}
	if t.fresh(acct.AccessToken, acct.AccessExpiry, stale) {
		t.remember(id, acct.AccessToken, acct.AccessExpiry)
		return acct.AccessToken, nil
	}
	return t.refresh(ctx, acct)
}

// refresh exchanges the account's refresh token, with the account's own
// OAuth client, for a new access token and persists it.
func (t *Tokens) refresh(ctx context.Context, acct store.Account) (string, error) {
	client, err := t.clients.For(acct.OAuthClientID)
	if err != nil {
		var ce *ClientError
		errors.As(err, &ce)
		ce.AccountID = acct.ID
		return "", t.clientProblem(ctx, acct, ce)
	}
	tok, err := t.exchangeRefresh(ctx, client, acct.RefreshToken)
	if err != nil {
		if reason, ok := invalidGrant(err); ok {
			return "", t.needsLogin(ctx, acct, reason)
		}
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && clientMismatchCode(re.ErrorCode) {
			return "", t.clientProblem(ctx, acct, &ClientError{AccountID: acct.ID, ClientID: acct.OAuthClientID, ClientName: client.Name, Code: re.ErrorCode})
		}
		return "", fmt.Errorf("refresh token for account %d: %w", acct.ID, err)
	}
	// Google normally returns no new refresh token (oauth2 then echoes the
	// old one); store one only when it really changed.
	newRefresh := ""
	if tok.RefreshToken != "" && tok.RefreshToken != acct.RefreshToken {
		newRefresh = tok.RefreshToken
	}
	if err := t.st.UpdateTokens(ctx, acct.ID, tok.AccessToken, tok.Expiry, newRefresh); err != nil {
		// Throwing the token away would refresh again on every request
		// (and hammer Google's token endpoint) for as long as the disk is
		// full: keep it in memory and save it later.
		t.log.Warn("refreshed token kept in memory: saving it failed; retried every "+saveRetryEvery.String(),
			"account", acct.ID, "err", err)
		t.mu.Lock()
		t.entries[acct.ID] = &tokenEntry{access: tok.AccessToken, expiry: tok.Expiry,
			unsaved: true, unsavedRefresh: newRefresh, lastSave: t.clock.Now()}
		t.mu.Unlock()
		return tok.AccessToken, nil
	}
	t.remember(acct.ID, tok.AccessToken, tok.Expiry)
	t.log.Info("access token refreshed", "account", acct.ID,
		"expires_in", tok.Expiry.Sub(t.clock.Now()).Round(time.Second).String(),
		"refresh_token_rotated", newRefresh != "")
	if credentialState(acct.State) {
		// The refresh works again (a client configured since, say): the
		// account is usable.
		if err := t.st.SetState(ctx, acct.ID, store.StateActive, "", "", t.clock.Now()); err != nil {
			t.log.Warn("could not mark account active", "account", acct.ID, "err", err)
		} else {
			t.log.Info("account can refresh again", "account", acct.ID, "was", string(acct.State))
			t.notify(acct.ID, store.StateActive, "")
		}
	}
	return tok.AccessToken, nil
}

// credentialState reports whether s is a state the token source sets (and
// a working refresh clears).
func credentialState(s store.AccountState) bool {
	return s == store.StateNeedsLogin || s == store.StateNeedsClient || s == store.StateClientMismatch
}

// notify calls OnState when set.
func (t *Tokens) notify(id int64, st store.AccountState, reason string) {
	if t.onState != nil {
		t.onState(id, st, reason)
	}
}

// clientProblem marks the account needs_client or client_mismatch in the
// store (once: an account already in that state is left as it is) and in
// the cache, and returns the error for the callers.
func (t *Tokens) clientProblem(ctx context.Context, acct store.Account, ce *ClientError) error {
	t.markDead(acct.ID, ce, acct)
	state := ce.AccountState()
	if acct.State == state {
		return ce
	}
	reason := ce.Error()
	t.log.Warn("account cannot refresh with its OAuth client", "account", acct.ID, "state", string(state), "reason", reason)
	if err := t.st.SetState(ctx, acct.ID, state, reason, "", t.clock.Now()); err != nil {
		return errors.Join(ce, fmt.Errorf("mark account %d %s: %w", acct.ID, state, err))
	}
	t.notify(acct.ID, state, reason)
	return ce
}

// needsLogin marks the account needs_login in the store and in the cache,
// tells OnNeedsLogin, and returns the error for the callers.
func (t *Tokens) needsLogin(ctx context.Context, acct store.Account, reason string) error {
	nle := &NeedsLoginError{AccountID: acct.ID, Reason: reason}
	t.markDead(acct.ID, nle, acct)
	t.log.Warn("refresh token rejected, account needs a new login", "account", acct.ID, "reason", reason)
	if err := t.st.SetState(ctx, acct.ID, store.StateNeedsLogin, reason, "", t.clock.Now()); err != nil {
		return errors.Join(nle, fmt.Errorf("mark account %d needs_login: %w", acct.ID, err))
	}
	if t.onNeedsLogin != nil {
		t.onNeedsLogin(acct.ID, reason)
	}
	t.notify(acct.ID, store.StateNeedsLogin, reason)
	return nle
}

func (t *Tokens) remember(id int64, access string, expiry time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.entries[id] = &tokenEntry{access: access, expiry: expiry}
}

func (t *Tokens) markDead(id int64, err error, acct store.Account) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.entries[id] = &tokenEntry{dead: err, deadRefresh: acct.RefreshToken, deadClient: acct.OAuthClientID}
}

// refreshed is the result of one refresh, with the expiry computed on the
// injected clock.
type refreshed struct {
	AccessToken  string
	RefreshToken string
	Expiry       time.Time
}

// exchangeRefresh performs one refresh_token grant with client. Errors
// are redacted.
func (t *Tokens) exchangeRefresh(ctx context.Context, client OAuthConfig, refreshToken string) (refreshed, error) {
	if err := client.Check(); err != nil {
		return refreshed{}, err
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, t.client)
	start := t.clock.Now()
	tok, err := client.OAuth2("").TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return refreshed{}, redactErr(err)
	}
	if tok.AccessToken == "" {
		return refreshed{}, errors.New("token endpoint returned no access token")
	}
	return refreshed{
		AccessToken:  tok.AccessToken,
		RefreshToken: tok.RefreshToken,
		Expiry:       tokenExpiry(tok, start),
	}, nil
}

// tokenExpiry computes the expiry on quotatui's clock from expires_in;
// oauth2 computes Expiry from the wall clock, which is wrong under a fake
// or scaled clock. Without expires_in Google's usual hour is assumed.
func tokenExpiry(tok *oauth2.Token, start time.Time) time.Time {
	if tok.ExpiresIn > 0 {
		return start.Add(time.Duration(tok.ExpiresIn) * time.Second)
	}
	return start.Add(time.Hour)
}

// invalidGrant reports whether err is the token endpoint's invalid_grant,
// with a reason fit for the account's state.
func invalidGrant(err error) (string, bool) {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		return "", false
	}
	reason := "refresh token rejected by Google (invalid_grant)"
	if re.ErrorDescription != "" {
		reason += ": " + Redact(re.ErrorDescription)
	}
	return reason, true
}

// Verify checks a refresh token with one refresh, with the client whose
// id is clientID ("" = the default), and returns the access token it
// yields. It touches no account and no cache: import and add-token use it
// before anything is stored. A client that is not configured, or that
// Google refuses the token for, is a *ClientError.
func (t *Tokens) Verify(ctx context.Context, clientID, refreshToken string) (access string, expiry time.Time, err error) {
	client, err := t.clients.For(clientID)
	if err != nil {
		return "", time.Time{}, err
	}
	tok, err := t.exchangeRefresh(ctx, client, refreshToken)
	if err != nil {
		if reason, ok := invalidGrant(err); ok {
			return "", time.Time{}, fmt.Errorf("verify refresh token: %s", reason)
		}
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && clientMismatchCode(re.ErrorCode) {
			return "", time.Time{}, &ClientError{ClientID: clientID, ClientName: client.Name, Code: re.ErrorCode}
		}
		return "", time.Time{}, fmt.Errorf("verify refresh token: %w", err)
	}
	return tok.AccessToken, tok.Expiry, nil
}

// Email returns the account email an access token belongs to, from the
// userinfo endpoint.
func (t *Tokens) Email(ctx context.Context, accessToken string) (string, error) {
	return fetchEmail(ctx, t.client, t.clients.Default().UserInfoURL, accessToken)
}

// Clients returns the OAuth clients the token source refreshes with.
func (t *Tokens) Clients() *Clients { return t.clients }
