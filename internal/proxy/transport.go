package proxy

import (
	"net"
	"net/http"
	"time"
)

// The defaults of TransportOptions.
const (
	DefaultConnectTimeout = 10 * time.Second
	DefaultIdlePerHost    = 64
)

// TransportOptions size the HTTP transport the proxy and the quota engine
// use to reach the upstream. Zero values mean the defaults.
type TransportOptions struct {
	// ConnectTimeout bounds the TCP connect and the TLS handshake; default
	// 10 s. The proxy bounds the wait for the answer itself
	// (Options.FirstByteTimeout), per call.
	ConnectTimeout time.Duration
	// IdlePerHost is how many idle connections to keep per upstream host:
	// sized to the concurrency of requests, so that a busy proxy reuses
	// connections instead of dialling one per request (the standard
	// transport keeps 2). Default 64.
	IdlePerHost int
}

// NewTransport returns an HTTP transport for the upstream: the standard
// one's behaviour (proxies from the environment, HTTP/2) with a connect
// timeout and enough idle connections for the proxy's concurrency.
func NewTransport(o TransportOptions) *http.Transport {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.IdlePerHost <= 0 {
		o.IdlePerHost = DefaultIdlePerHost
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = o.ConnectTimeout
	t.MaxIdleConnsPerHost = o.IdlePerHost
	t.MaxIdleConns = max(t.MaxIdleConns, 4*o.IdlePerHost) // daily, prod, OAuth and a spare host
	t.IdleConnTimeout = 90 * time.Second
	return t
}
