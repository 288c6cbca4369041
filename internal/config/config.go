// Package config holds quotatui's settings: defaults, the config file, the
// environment and flags, with precedence flag > env > file > default.
package config

import "time"

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

	LogFile string `toml:"log_file"` // default: <user state dir>/quotatui/quotatui.log
}
