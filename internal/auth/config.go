// Package auth brings Google accounts into quotatui and keeps their tokens
// fresh: the installed-app OAuth login with PKCE, a per-account token source
// that refreshes ahead of expiry, import and export of account files, and
// the one redaction helper that keeps tokens out of logs and errors.
package auth

import (
	"errors"
	"strings"

	"golang.org/x/oauth2"

	"github.com/quotatui/quotatui/internal/config"
)

// Google's OAuth endpoints, used when the configuration leaves them empty.
const (
	DefaultAuthURL     = "https://accounts.google.com/o/oauth2/v2/auth"
	DefaultTokenURL    = "https://oauth2.googleapis.com/token"
	DefaultUserInfoURL = "https://www.googleapis.com/oauth2/v2/userinfo"
)

// The environment variables that hold the OAuth client.
const (
	EnvClientID     = "QUOTATUI_OAUTH_CLIENT_ID"
	EnvClientSecret = "QUOTATUI_OAUTH_CLIENT_SECRET"
)

// DefaultScopes are the scopes Antigravity asks for. cloud-platform is the
// one the Cloud Code API needs; the others match what the IDE requests so
// the refresh tokens behave the same.
var DefaultScopes = []string{
	"https://www.googleapis.com/auth/cloud-platform",
	"https://www.googleapis.com/auth/userinfo.email",
	"https://www.googleapis.com/auth/userinfo.profile",
	"https://www.googleapis.com/auth/cclog",
	"https://www.googleapis.com/auth/experimentsandconfigs",
	"openid",
}

// OAuthConfig is the OAuth client quotatui signs in with and the endpoints
// it talks to. Empty URLs and scopes take Google's defaults; the client id
// and secret have no default because quotatui ships none.
type OAuthConfig struct {
	// Name is the client's name in the configuration ("default", or the
	// <name> of an [oauth.clients.<name>] table); messages use it.
	Name         string
	ClientID     string
	ClientSecret string
	AuthURL      string
	TokenURL     string
	UserInfoURL  string
	Scopes       []string
}

// ErrNoClient is wrapped by the error Check returns when the OAuth client
// is not configured.
var ErrNoClient = errors.New("OAuth client not configured")

// Check reports whether the client id and secret are set. When one is
// missing, the error says exactly how to set them.
func (c OAuthConfig) Check() error {
	var missing []string
	if strings.TrimSpace(c.ClientID) == "" {
		missing = append(missing, "client id")
	}
	if strings.TrimSpace(c.ClientSecret) == "" {
		missing = append(missing, "client secret")
	}
	if len(missing) == 0 {
		return nil
	}
	return &clientError{missing: strings.Join(missing, " and ")}
}

// clientError explains how to configure the OAuth client. It is a type so
// errors.Is(err, ErrNoClient) works while the text stays a full how-to.
type clientError struct{ missing string }

func (e *clientError) Error() string {
	return "OAuth " + e.missing + " missing: quotatui ships no OAuth client secret, so you must configure " +
		"the Google OAuth client you want to sign in with, either in the environment:\n" +
		"    export " + EnvClientID + "=\"...\"\n" +
		"    export " + EnvClientSecret + "=\"...\"\n" +
		"or in the config file (run `quotatui config` to see its path):\n" +
		"    [oauth]\n" +
		"    client_id = \"...\"\n" +
		"    client_secret = \"...\""
}

func (e *clientError) Unwrap() error { return ErrNoClient }

// WithDefaults returns c with Google's endpoints and DefaultScopes filled
// in where c leaves them empty.
func (c OAuthConfig) WithDefaults() OAuthConfig {
	if c.AuthURL == "" {
		c.AuthURL = DefaultAuthURL
	}
	if c.TokenURL == "" {
		c.TokenURL = DefaultTokenURL
	}
	if c.UserInfoURL == "" {
		c.UserInfoURL = DefaultUserInfoURL
	}
	if len(c.Scopes) == 0 {
		c.Scopes = append([]string(nil), DefaultScopes...)
	}
	return c
}

// OAuth2 returns the golang.org/x/oauth2 configuration for c, with
// defaults applied. The client credentials go in the request body, as
// Google documents for installed apps; auto-detection would cost a failed
// round trip on the first refresh.
func (c OAuthConfig) OAuth2(redirectURL string) *oauth2.Config {
	c = c.WithDefaults()
	return &oauth2.Config{
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   c.AuthURL,
			TokenURL:  c.TokenURL,
			AuthStyle: oauth2.AuthStyleInParams,
		},
		RedirectURL: redirectURL,
		Scopes:      c.Scopes,
	}
}

// FromConfig returns the default OAuth client of quotatui's
// configuration (the one oauth.default_client names) with the configured
// endpoints; the scopes are always DefaultScopes.
func FromConfig(c config.Config) OAuthConfig {
	return ClientsFromConfig(c).Default()
}

// endpointsFromConfig is the configured endpoints without a client.
func endpointsFromConfig(c config.Config) OAuthConfig {
	return OAuthConfig{
		AuthURL:     c.OAuth.AuthURL,
		TokenURL:    c.OAuth.TokenURL,
		UserInfoURL: c.OAuth.UserInfoURL,
	}.WithDefaults()
}
