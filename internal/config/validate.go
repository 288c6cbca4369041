package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SettingError is one bad value: which setting, the value as written, what
// is allowed, and where the value came from.
type SettingError struct {
	Key     string
	Value   string // as it would be written in the file
	Problem string // what is allowed, e.g. "must be between 0 and 1"
	Source  Source
}

// Error reads like `quota.low_threshold = 1.5: must be between 0 and 1
// (from env QUOTATUI_QUOTA_LOW_THRESHOLD)`.
func (e *SettingError) Error() string {
	msg := e.Key + " = " + e.Value + ": " + e.Problem
	if e.Source.Layer != LayerDefault {
		msg += " (from " + e.Source.String() + ")"
	}
	return msg
}

// validator collects every problem, so the user fixes them in one go.
type validator struct {
	c    *Config
	errs []error
}

func (v *validator) source(key string) Source {
	if v.c.sources == nil {
		return Source{}
	}
	return v.c.sources.Of(key)
}

// fail records a problem with key's current value.
func (v *validator) fail(key, problem string) {
	s, _ := settingByKey(key)
	v.failValue(key, s.format(s.field(v.c)), problem)
}

// failValue records a problem with a value given explicitly, for list
// items and secrets (whose value must not be printed).
func (v *validator) failValue(key, value, problem string) {
	v.errs = append(v.errs, &SettingError{Key: key, Value: value, Problem: problem, Source: v.source(key)})
}

func (v *validator) positive(key string, d time.Duration) {
	if d <= 0 {
		v.fail(key, "must be a positive duration such as \"5m\"")
	}
}

// The lower bounds of the monitor's timing.
const (
	MinSyncInterval   = 30 * time.Second
	MinAccountTimeout = time.Second
)

// atLeast checks a duration against a lower bound and says why it exists.
func (v *validator) atLeast(key string, d, least time.Duration, why string) {
	switch {
	case d <= 0:
		v.positive(key, d)
	case d < least:
		v.fail(key, fmt.Sprintf("must be at least %s, %s", FormatDuration(least), why))
	}
}

func (v *validator) httpURL(key, value string) {
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.failValue(key, strconv.Quote(value), "want an absolute http:// or https:// URL")
	}
}

// Validate checks every setting and returns all problems joined, each a
// *SettingError naming the setting, the value, what is allowed and, for a
// Config from Load, where the value came from.
func (c Config) Validate() error {
	v := &validator{c: &c}

	if err := checkListen(c.Proxy.Listen); err != nil {
		v.fail("proxy.listen", err.Error())
	} else if c.Proxy.APIKey == "" && !isLoopback(c.Proxy.Listen) {
		// Without a key, anyone on the network could spend the accounts.
		listen := c.Proxy.Listen
		if src := v.source("proxy.listen"); src.Layer != LayerDefault {
			listen += ", from " + src.String()
		}
		v.failValue("proxy.api_key", "[not set]",
			fmt.Sprintf("required when proxy.listen (%s) is not a loopback address", listen))
	}
	switch {
	case c.Proxy.RetryAttempts < 1:
		v.fail("proxy.retry_attempts", "must be at least 1")
	case c.Proxy.RetryAttempts > 100:
		v.fail("proxy.retry_attempts", "must be at most 100")
	}
	if c.Proxy.BodyLimit < 1<<10 || c.Proxy.BodyLimit > 1<<30 {
		v.fail("proxy.body_limit", "must be between 1KiB and 1GiB")
	}
	v.positive("proxy.session_idle", c.Proxy.SessionIdle)
	if c.Proxy.APIKey != "" && len(c.Proxy.APIKey) < minAPIKeyLength {
		v.failValue("proxy.api_key", "[set]", fmt.Sprintf("must be at least %d characters (it has %d); for example: openssl rand -hex 16", minAPIKeyLength, len(c.Proxy.APIKey)))
	}
	v.positive("proxy.connect_timeout", c.Proxy.ConnectTimeout)
	v.positive("proxy.first_byte_timeout", c.Proxy.FirstByteTimeout)
	v.positive("proxy.stream_idle_timeout", c.Proxy.StreamIdleTimeout)
	if c.Proxy.BufferLimit < c.Proxy.BodyLimit {
		v.fail("proxy.buffer_limit", fmt.Sprintf("must be at least proxy.body_limit (%s)", FormatSize(c.Proxy.BodyLimit)))
	}

	if len(c.Upstream.BaseURLs) == 0 {
		v.fail("upstream.base_urls", "want at least one URL")
	}
	for _, u := range c.Upstream.BaseURLs {
		v.httpURL("upstream.base_urls", u)
	}
	switch {
	case strings.TrimSpace(c.Upstream.UserAgent) == "":
		v.fail("upstream.user_agent", "must not be empty")
	case strings.ContainsFunc(c.Upstream.UserAgent, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		v.fail("upstream.user_agent", "must not contain control characters")
	}

	v.httpURL("oauth.auth_url", c.OAuth.AuthURL)
	v.httpURL("oauth.token_url", c.OAuth.TokenURL)
	v.httpURL("oauth.userinfo_url", c.OAuth.UserInfoURL)
	v.validateClients()

	lowOK := c.Quota.LowThreshold >= 0 && c.Quota.LowThreshold <= 1
	if !lowOK {
		v.fail("quota.low_threshold", "must be between 0 and 1")
	}
	switch {
	case !(c.Quota.Reserve >= 0 && c.Quota.Reserve <= 1):
		v.fail("quota.reserve", "must be between 0 and 1")
	case lowOK && c.Quota.Reserve > 0 && c.Quota.Reserve >= c.Quota.LowThreshold:
		// Reserve at or above the threshold would leave no LOW zone, so
		// accounts would go from fine to exhausted without a warning.
		v.errs = append(v.errs, fmt.Errorf("quota.reserve (%g) must be below quota.low_threshold (%g)%s",
			c.Quota.Reserve, c.Quota.LowThreshold, fromBoth(v.source("quota.reserve"), v.source("quota.low_threshold"))))
	}
	v.atLeast("quota.sync_interval", c.Quota.SyncInterval, MinSyncInterval,
		"or every account's quota is read more often than it changes")
	if c.Quota.SyncConcurrency < 1 || c.Quota.SyncConcurrency > 1024 {
		v.fail("quota.sync_concurrency", "must be between 1 and 1024")
	}
	v.atLeast("quota.account_timeout", c.Quota.AccountTimeout, MinAccountTimeout,
		"a shorter limit fails healthy accounts on an ordinary round trip")
	v.positive("quota.cache_ttl", c.Quota.CacheTTL)
	v.positive("quota.tier_ttl", c.Quota.TierTTL)
	v.positive("quota.retention", c.Quota.Retention)
	v.routing(c.Routing.Policy)
	v.alerts(&c.Alerts)

	return errors.Join(v.errs...)
}

// minAPIKeyLength is the shortest proxy.api_key accepted (the proxy's own
// proxy.MinAPIKeyLength; config does not import the proxy).
const minAPIKeyLength = 16

// fromBoth says where two related values came from, leaving out defaults.
func fromBoth(a, b Source) string {
	var parts []string
	if a.Layer != LayerDefault {
		parts = append(parts, "quota.reserve from "+a.String())
	}
	if b.Layer != LayerDefault {
		parts = append(parts, "quota.low_threshold from "+b.String())
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// checkListen accepts host:port with a numeric port; an empty host means
// every interface.
func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port, such as 127.0.0.1:8045")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errors.New("want host:port with a port number between 0 and 65535")
	}
	if strings.ContainsAny(host, " /") {
		return errors.New("want host:port with a host name or IP address")
	}
	return nil
}

// isLoopback reports whether a valid listen address only accepts local
// connections. A name other than localhost may resolve anywhere, so it is
// not trusted.
func isLoopback(addr string) bool {
	host, _, _ := net.SplitHostPort(addr)
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
