package main

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/quotatui/quotatui/internal/config"
	"github.com/quotatui/quotatui/internal/proxy"
)

// counterSaveInterval is how often the proxy's counters are saved (and
// once more at shutdown).
const counterSaveInterval = time.Minute

// proxyOptions maps the proxy's settings onto proxy.Options; the caller
// adds the clock, the logger and the hooks.
func proxyOptions(cfg config.Config) proxy.Options {
	popt := proxy.NewOptions()
	popt.Listen = cfg.Proxy.Listen
	popt.APIKey = cfg.Proxy.APIKey
	popt.RetryAttempts = cfg.Proxy.RetryAttempts
	popt.BodyLimit = cfg.Proxy.BodyLimit
	popt.SessionIdle = cfg.Proxy.SessionIdle
	popt.PreRequestCheck = cfg.Proxy.PreRequestCheck
	popt.LowThreshold = cfg.Quota.LowThreshold
	popt.FirstByteTimeout = cfg.Proxy.FirstByteTimeout
	popt.StreamIdleTimeout = cfg.Proxy.StreamIdleTimeout
	popt.BufferLimit = cfg.Proxy.BufferLimit
	popt.AllowedHosts = cfg.Proxy.AllowedHosts
	popt.AllowedOrigins = cfg.Proxy.AllowedOrigins
	popt.Frontends.Aliases = cfg.Models.Aliases
	return popt
}

// upstreamHTTP is the HTTP client for the upstream and OAuth: a connect
// timeout and enough idle connections for the proxy's concurrency.
func upstreamHTTP(cfg config.Config) *http.Client {
	return &http.Client{Transport: proxy.NewTransport(proxy.TransportOptions{ConnectTimeout: cfg.Proxy.ConnectTimeout})}
}

// secretKeys are the settings whose value must not be given as a flag.
var secretKeys = []string{"proxy.api_key", "oauth.client_secret"}

// warnSecretFlags warns about secrets given as flags: every user of the
// machine can read a process's arguments (/proc/PID/cmdline, ps).
func warnSecretFlags(w io.Writer, src config.Sources) {
	for _, key := range secretKeys {
		if s := src.Of(key); s.Layer == config.LayerFlag {
			fmt.Fprintf(w, "quotatui: warning: %s was given as the flag %s, which any user of this machine can read in the process list; set %s or put it in the config file instead\n",
				key, s.Name, config.EnvName(key))
		}
	}
}
