package auth

import (
	"errors"
	"fmt"
	"strings"

	"github.com/quotatui/quotatui/internal/config"
	"github.com/quotatui/quotatui/internal/store"
)

// A refresh token refreshes only with the OAuth client that issued it.
// Tokens imported from Antigravity-Manager or CLIProxyAPI belong to
// Antigravity's client, `login` tokens to the client the user configured;
// refreshing one with another client fails (invalid_client,
// unauthorized_client). So every account records its client
// (store.Account.OAuthClientID, "" for the default) and Clients finds the
// client an account refreshes with.

// Clients is every OAuth client quotatui may refresh with, by name and by
// id, with one default: the one login uses and accounts without a
// recorded client belong to. It is immutable and safe for concurrent use.
type Clients struct {
	list []OAuthConfig // the default first
}

// NewClients returns the registry of def (the default) and more. Names
// and client ids must be unique; endpoints and scopes left empty take
// Google's defaults.
func NewClients(def OAuthConfig, more ...OAuthConfig) (*Clients, error) {
	c := &Clients{list: make([]OAuthConfig, 0, 1+len(more))}
	for _, oc := range append([]OAuthConfig{def}, more...) {
		oc = oc.WithDefaults()
		if oc.Name == "" {
			oc.Name = config.DefaultClientName
		}
		for _, have := range c.list {
			switch {
			case have.Name == oc.Name:
				return nil, fmt.Errorf("OAuth client %q configured twice", oc.Name)
			case oc.ClientID != "" && have.ClientID == oc.ClientID:
				return nil, fmt.Errorf("OAuth client id %q configured twice, as %q and %q", oc.ClientID, have.Name, oc.Name)
			}
		}
		c.list = append(c.list, oc)
	}
	return c, nil
}

// ClientsFromConfig builds the registry from quotatui's configuration:
// the client oauth.default_client names first, then the others, all with
// the configured endpoints. The configuration is already validated, so
// names and ids are unique.
func ClientsFromConfig(cfg config.Config) *Clients {
	base := endpointsFromConfig(cfg)
	c := &Clients{}
	for _, nc := range cfg.OAuthClients() {
		oc := base
		oc.Name, oc.ClientID, oc.ClientSecret = nc.Name, nc.ClientID, nc.ClientSecret
		c.list = append(c.list, oc)
	}
	if len(c.list) == 0 || !cfg.OAuthClients()[0].Default {
		// No client configured (or the default is not among them): keep an
		// unset default, whose Check says how to configure it.
		base.Name, base.ClientID, base.ClientSecret = cfg.OAuth.DefaultClient, "", ""
		if base.Name == "" {
			base.Name = config.DefaultClientName
		}
		c.list = append([]OAuthConfig{base}, c.list...)
	}
	return c
}

// Default returns the default client (it may be unset: see Check).
func (c *Clients) Default() OAuthConfig { return c.list[0] }

// ByName returns the client called name.
func (c *Clients) ByName(name string) (OAuthConfig, bool) {
	for _, oc := range c.list {
		if oc.Name == name {
			return oc, true
		}
	}
	return OAuthConfig{}, false
}

// ByID returns the client whose id is id.
func (c *Clients) ByID(id string) (OAuthConfig, bool) {
	for _, oc := range c.list {
		if id != "" && oc.ClientID == id {
			return oc, true
		}
	}
	return OAuthConfig{}, false
}

// Names lists the clients' names, the default first.
func (c *Clients) Names() []string {
	out := make([]string, len(c.list))
	for i, oc := range c.list {
		out[i] = oc.Name
	}
	return out
}

// For returns the client a refresh token recorded with clientID belongs
// to: the default for "", else the client with that id. An id no client
// has is a *ClientError saying how to configure it.
func (c *Clients) For(clientID string) (OAuthConfig, error) {
	if clientID == "" {
		return c.Default(), nil
	}
	if oc, ok := c.ByID(clientID); ok {
		return oc, nil
	}
	return OAuthConfig{}, &ClientError{ClientID: clientID}
}

// Describe names the client an account records, for `accounts list`:
// its name, or the id with "(not configured)".
func (c *Clients) Describe(clientID string) string {
	if c == nil {
		if clientID == "" {
			return config.DefaultClientName
		}
		return clientID
	}
	oc, err := c.For(clientID)
	if err != nil {
		return clientID + " (not configured)"
	}
	return oc.Name
}

// ClientError says that an account cannot refresh because of its OAuth
// client: the client is not configured (needs_client), or Google refused
// the token for the client quotatui used (client_mismatch: the token
// belongs to another client).
type ClientError struct {
	AccountID  int64
	ClientID   string // the client the account records ("" = default)
	ClientName string // the configured client that was used, for a mismatch
	// Code is Google's error for a mismatch (invalid_client,
	// unauthorized_client); "" when the client is not configured.
	Code string
}

// Error says which client is missing or refused, and what to do; it never
// holds a secret (client ids are public).
func (e *ClientError) Error() string {
	who := "this account"
	if e.AccountID != 0 {
		who = fmt.Sprintf("account %d", e.AccountID)
	}
	if e.Code == "" {
		return fmt.Sprintf("%s belongs to OAuth client %q, which is not configured: a refresh token refreshes only "+
			"with the client that issued it, so add that client to the config file:\n"+
			"    [oauth.clients.NAME]\n    client_id = %q\n    client_secret = \"...\"", who, e.ClientID, e.ClientID)
	}
	return fmt.Sprintf("Google refused %s's refresh token for OAuth client %q (%s): the token belongs to another client. "+
		"Configure the client that issued it under [oauth.clients.NAME] and import the account again, or log in again",
		who, e.ClientName, e.Code)
}

// AccountState is the account state the error puts the account in, for
// the quota engine's error judgement.
func (e *ClientError) AccountState() store.AccountState {
	if e.Code == "" {
		return store.StateNeedsClient
	}
	return store.StateClientMismatch
}

// ErrClientMismatch is matched (errors.Is) by a client-mismatch ClientError.
var ErrClientMismatch = errors.New("refresh token belongs to another OAuth client")

// Is makes errors.Is(err, ErrClientMismatch) true for a mismatch.
func (e *ClientError) Is(target error) bool {
	return target == ErrClientMismatch && e.Code != ""
}

// clientMismatchCode reports whether a token-endpoint error says the
// token does not belong to the client (invalid_client, unauthorized_client).
func clientMismatchCode(code string) bool {
	code = strings.ToLower(code)
	return code == "invalid_client" || code == "unauthorized_client"
}
