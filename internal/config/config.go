// Package config holds quotatui's settings: defaults, the config file, the
// environment and flags, with precedence flag > env > file > default.
//
// The file is TOML because people edit it by hand: it allows comments, its
// values are typed (a string is quoted, a number is not, so a typo in a
// number is an error rather than a surprise), and it has no significant
// indentation to get wrong, unlike YAML. Every setting is also a flag and an
// environment variable, so a service unit or a one-off run needs no file.
//
// Keys are derived from the Config struct's toml tags, so a field added to
// Config is at once a file key, a flag and an environment variable; its
// description lives in keys.go and a test fails when one is missing.
package config

import (
	"os"
	"path/filepath"
	"time"
)

// Config is every setting quotatui has. Field tags name the key in the
// config file; the environment variable is QUOTATUI_ plus the upper-cased
// key with dots and dashes turned into underscores, and the flag is
// --key with dots turned into dashes.
type Config struct {
	DBPath string `toml:"db"` // default: <user data dir>/quotatui/quotatui.db

	Proxy struct {
		Listen          string        `toml:"listen"`            // 127.0.0.1:8045
		APIKey          string        `toml:"api_key"`           // secret; required off loopback
		RetryAttempts   int           `toml:"retry_attempts"`    // 3 (capped at the pool size)
		BodyLimit       int64         `toml:"body_limit"`        // 32 MiB
		SessionIdle     time.Duration `toml:"session_idle"`      // 1h
		PreRequestCheck bool          `toml:"pre_request_check"` // true: re-check low-zone accounts before each request
		// Timeouts and limits of the proxy's hardening (issue 11).
		ConnectTimeout    time.Duration `toml:"connect_timeout"`     // 10s
		FirstByteTimeout  time.Duration `toml:"first_byte_timeout"`  // 2m
		StreamIdleTimeout time.Duration `toml:"stream_idle_timeout"` // 1m
		BufferLimit       int64         `toml:"buffer_limit"`        // 64 MiB
		AllowedHosts      []string      `toml:"allowed_hosts"`       // none besides localhost and the listen address
		AllowedOrigins    []string      `toml:"allowed_origins"`     // none
	} `toml:"proxy"`

	Upstream struct {
		BaseURLs  []string `toml:"base_urls"`  // daily, then prod
		UserAgent string   `toml:"user_agent"` // antigravity/1.13.3 linux/amd64
	} `toml:"upstream"`

	OAuth struct {
		ClientID     string `toml:"client_id"`
		ClientSecret string `toml:"client_secret"` // secret
		AuthURL      string `toml:"auth_url"`
		TokenURL     string `toml:"token_url"`
		UserInfoURL  string `toml:"userinfo_url"`
		// DefaultClient names the client login uses and accounts without a
		// recorded client belong to: "default" (client_id/client_secret
		// above) or a name from Clients.
		DefaultClient string `toml:"default_client"`
		// Clients are further OAuth clients by name, from the config
		// file's [oauth.clients.<name>] tables (see oauth_clients.go); nil
		// when there are none.
		Clients map[string]OAuthClient `toml:"-"`
	} `toml:"oauth"`

	Quota struct {
		LowThreshold    float64       `toml:"low_threshold"`    // 0.10
		Reserve         float64       `toml:"reserve"`          // 0
		SyncInterval    time.Duration `toml:"sync_interval"`    // 5m
		SyncConcurrency int           `toml:"sync_concurrency"` // 16
		AccountTimeout  time.Duration `toml:"account_timeout"`  // 30s
		CacheTTL        time.Duration `toml:"cache_ttl"`        // 5m
		TierTTL         time.Duration `toml:"tier_ttl"`         // 24h
		Retention       time.Duration `toml:"retention"`        // 720h (30 days)
	} `toml:"quota"`

	Routing struct {
		Policy string `toml:"policy"` // "balanced" (routing.go)
	} `toml:"routing"`

	Models struct {
		// Aliases map client model names (Claude Code's, OpenAI's) to
		// upstream ids, on top of the built-in table; a key ending in "*"
		// is a prefix.
		Aliases map[string]string `toml:"aliases"` // {} (the built-in table applies)
	} `toml:"models"`

	LogFile string `toml:"log_file"` // default: <user state dir>/quotatui/quotatui.log

	Alerts Alerts `toml:"alerts"` // alerts.go

	// sources remembers where Load found each value, so Validate can say
	// which layer to fix. It is nil for a Config built by hand.
	sources *Sources
}

// Default returns the built-in settings, with the paths resolved from the
// process environment (XDG_DATA_HOME, XDG_STATE_HOME, HOME).
func Default() Config { return defaults(os.Getenv) }

// defaults is Default with an injectable environment, so Load and tests do
// not depend on the process's environment.
func defaults(getenv func(string) string) Config {
	var c Config
	c.DBPath = userDir(getenv, "XDG_DATA_HOME", ".local/share", "quotatui.db")
	c.Proxy.Listen = "127.0.0.1:8045"
	c.Proxy.RetryAttempts = 3
	c.Proxy.BodyLimit = 32 << 20
	c.Proxy.SessionIdle = time.Hour
	c.Proxy.PreRequestCheck = true
	c.Proxy.ConnectTimeout = 10 * time.Second
	c.Proxy.FirstByteTimeout = 2 * time.Minute
	c.Proxy.StreamIdleTimeout = time.Minute
	c.Proxy.BufferLimit = 64 << 20
	c.Proxy.AllowedHosts = []string{} // empty, not nil: the file's "[]" reads back as empty
	c.Proxy.AllowedOrigins = []string{}
	c.Upstream.BaseURLs = []string{
		"https://daily-cloudcode-pa.googleapis.com/v1internal",
		"https://cloudcode-pa.googleapis.com/v1internal",
	}
	c.Upstream.UserAgent = "antigravity/1.13.3 linux/amd64"
	c.OAuth.AuthURL = "https://accounts.google.com/o/oauth2/v2/auth"
	c.OAuth.TokenURL = "https://oauth2.googleapis.com/token"
	c.OAuth.UserInfoURL = "https://www.googleapis.com/oauth2/v2/userinfo"
	c.OAuth.DefaultClient = DefaultClientName
	c.Quota.LowThreshold = 0.10
	c.Quota.Reserve = 0
	c.Quota.SyncInterval = 5 * time.Minute
	c.Quota.SyncConcurrency = 16
	c.Quota.AccountTimeout = 30 * time.Second
	c.Quota.CacheTTL = 5 * time.Minute
	c.Quota.TierTTL = 24 * time.Hour
	c.Quota.Retention = 720 * time.Hour
	c.Routing.Policy = DefaultRoutingPolicy
	c.Models.Aliases = map[string]string{}
	c.LogFile = userDir(getenv, "XDG_STATE_HOME", ".local/state", "quotatui.log")
	alertDefaults(&c.Alerts)
	return c
}

// userDir returns <$xdgVar or $HOME/fallback>/quotatui/name, following the
// XDG base directory rule that a relative $xdgVar is ignored. It returns ""
// when neither is known; the user of the path then picks its own default.
func userDir(getenv func(string) string, xdgVar, fallback, name string) string {
	base := getenv(xdgVar)
	if !filepath.IsAbs(base) {
		home := getenv("HOME")
		if home == "" {
			return ""
		}
		base = filepath.Join(home, fallback)
	}
	return filepath.Join(base, "quotatui", name)
}
