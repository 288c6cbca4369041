package proxy

import (
	"crypto/subtle"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"
)

// MinAPIKeyLength is the shortest API key the proxy accepts: a key that can
// be guessed protects nothing.
const MinAPIKeyLength = 16

// guard refuses what a web page in the user's browser could send to a
// proxy on their machine: a Host that is not one the proxy answers to (a
// DNS-rebinding page reaching the loopback port under its own name, which
// could then read answers and /metrics), and a cross-origin request (an
// Origin header the user did not allow).
func (s *Server) guard(next http.Handler) http.Handler {
	hosts := map[string]bool{"localhost": true}
	for _, h := range s.opt.AllowedHosts {
		hosts[strings.ToLower(strings.Trim(h, "[]"))] = true
	}
	origins := map[string]bool{}
	for _, o := range s.opt.AllowedOrigins {
		origins[strings.TrimRight(strings.ToLower(o), "/")] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(r.Host, hosts) {
			errorsFor(r).WriteError(w, &ClientError{Status: http.StatusForbidden, Local: true,
				Message: fmt.Sprintf("quotatui proxy does not answer to host %q: use its listen address or localhost, or add the name to proxy.allowed_hosts", r.Host)})
			return
		}
		if o := r.Header.Get("Origin"); o != "" && !origins[strings.TrimRight(strings.ToLower(o), "/")] {
			errorsFor(r).WriteError(w, &ClientError{Status: http.StatusForbidden, Local: true,
				Message: fmt.Sprintf("quotatui proxy refuses cross-origin requests from %q (add the origin to proxy.allowed_origins to allow it)", o)})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostAllowed reports whether a request's Host names this proxy: localhost,
// a loopback address, the listen host, an allowed name, or, when the proxy
// listens beyond loopback (behind its API key), any IP address (a rebinding
// page can only bring a name, never an address of its own).
func (s *Server) hostAllowed(hostport string, names map[string]bool) bool {
	if hostport == "" {
		return true // HTTP/1.0 without Host: not a browser
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	listen := s.listen.Load().(string)
	lhost, _, err := net.SplitHostPort(listen)
	if err != nil {
		lhost = listen
	}
	if names[host] || host == strings.ToLower(strings.Trim(lhost, "[]")) {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || !isLoopback(listen))
}

// requireKey enforces the local API key when one is configured. Clients
// may send it as a bearer token (Claude Code's ANTHROPIC_AUTH_TOKEN, the
// OpenAI SDK), x-api-key (ANTHROPIC_API_KEY, the Anthropic SDK),
// x-goog-api-key (the Gemini SDKs) or ?key=. A request without the right
// key is answered at once, in its API's error shape, and its connection
// closed, without waiting for a body it may be trickling.
func (s *Server) requireKey(next http.Handler) http.Handler {
	if s.opt.APIKey == "" {
		return next
	}
	want := []byte(s.opt.APIKey)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("x-goog-api-key")
		if got == "" {
			got = r.Header.Get("x-api-key")
		}
		if got == "" {
			if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
				got = strings.TrimSpace(b)
			}
		}
		if got == "" {
			got = r.URL.Query().Get("key")
		}
		switch {
		case got == "":
			refuse(w, r, "quotatui proxy needs its API key: send it as Authorization: Bearer <key>, x-api-key, x-goog-api-key or ?key=")
		case subtle.ConstantTimeCompare([]byte(got), want) != 1:
			refuse(w, r, "the API key does not match quotatui's proxy.api_key")
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// refuse answers 401 and closes the connection without reading the rest
// of the request body: net/http would otherwise read (up to 256 KiB of) it
// before sending the answer, and a body sent a byte at a time would hold
// the answer and the connection for as long as the client likes.
func refuse(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header().Set("Connection", "close")
	_ = http.NewResponseController(w).SetReadDeadline(time.Now())
	errorsFor(r).WriteError(w, &ClientError{Status: http.StatusUnauthorized, Message: msg, Local: true})
}

// jsonBody reports whether a request's Content-Type says JSON. A browser
// page can POST text/plain or a form to any address without asking; only
// application/json needs the cross-origin preflight the proxy never grants.
func jsonBody(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "application/json" {
		return true // what parsing says of it, without parsing (a map per request)
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}
