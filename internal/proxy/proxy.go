package proxy

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
)

// DefaultListen is where the proxy listens unless told otherwise.
const DefaultListen = "127.0.0.1:8045"

// The defaults of Options.
const (
	DefaultRetryAttempts = 3
	DefaultBodyLimit     = 32 << 20
	DefaultSessionIdle   = time.Hour
	// DefaultShutdownGrace bounds how long Serve waits for in-flight
	// requests before it cancels them.
	DefaultShutdownGrace = 5 * time.Second
)

// Quota is what the proxy needs from the quota engine; *quota.Manager
// satisfies it.
type Quota interface {
	CheckQuota(ctx context.Context, accountID int64, model string) (quota.Check, error)
	CheckQuotaFresh(ctx context.Context, accountID int64, model string) (quota.Check, error)
	Rank(model string) []quota.Candidate
	Best(model string) (quota.Candidate, bool)
	Account(accountID int64) (quota.Status, bool)
	GetAllQuotas() []quota.Status
	MarkExhausted(accountID int64, f cloudcode.Family, until, receivedAt time.Time, reason string)
	MarkCooldown(accountID int64, f cloudcode.Family, until time.Time, reason string)
	MarkForbidden(ctx context.Context, accountID int64, state quota.AccountState, reason, validationURL string) error
	RecordSuccess(accountID int64, f cloudcode.Family, startedAt time.Time)
	Touch(accountID int64, at time.Time)
	ResyncSoon(accountID int64)
	Publish(e quota.Event)
}

// TokenSource hands out access tokens per account; *auth.Tokens
// satisfies it.
type TokenSource interface {
	Token(ctx context.Context, accountID int64) (string, error)
	Invalidate(accountID int64)
}

// Upstream sends one raw v1internal call; *cloudcode.Client satisfies it.
// On an error status it returns a typed cloudcode error.
type Upstream interface {
	Do(ctx context.Context, r cloudcode.Request) (*http.Response, error)
}

// Options configure a Server. Zero values mean the defaults.
type Options struct {
	Listen        string // default DefaultListen; only checked (Serve takes a listener)
	APIKey        string // required when Listen is not a loopback address
	RetryAttempts int    // upstream attempts per client request, capped at the pool size; default 3
	BodyLimit     int64  // largest client body buffered for replay; default 32 MiB
	SessionIdle   time.Duration
	// PreRequestCheck re-checks an account in the LowQuota zone against
	// the upstream before each request, so the proxy does not provoke
	// 429s. Use NewOptions or set it explicitly: the zero value is off.
	PreRequestCheck bool
	// Metrics, when set, is served at GET /metrics (behind the API key).
	Metrics http.Handler
	// OnUpstreamLatency, when set, observes the time to the upstream's
	// response headers of every upstream call.
	OnUpstreamLatency func(time.Duration)
	Clock             clock.Clock // for quota marks and session idle; default clock.Real
	Logger            *slog.Logger
	// BareCooldown is how long an (account, family) rests after a 429
	// with no details; default 10 s.
	BareCooldown time.Duration
	// LowThreshold is the quota engine's low-zone boundary (default
	// quota.DefaultThresholds.Low), for predicting when an account that
	// synced above it has entered it since.
	LowThreshold float64
	// ShutdownGrace is how long Serve lets in-flight requests finish once
	// its context ends; default 5 s.
	ShutdownGrace time.Duration
	// Frontends configure the Anthropic and OpenAI routes (frontends.go).
	Frontends FrontendOptions
}

// NewOptions returns Options with the product's defaults, including the
// pre-request check turned on.
func NewOptions() Options {
	return Options{Listen: DefaultListen, RetryAttempts: DefaultRetryAttempts, BodyLimit: DefaultBodyLimit,
		SessionIdle: DefaultSessionIdle, PreRequestCheck: true}
}

// Server is the proxy. Create it with New; it is safe for concurrent use.
type Server struct {
	q       Quota
	up      Upstream
	tokens  TokenSource
	tm      *TokenManager
	opt     Options
	clk     clock.Clock
	log     *slog.Logger
	handler http.Handler
	stats   *counters
	paused  atomic.Bool
	started time.Time    // when New made it; never written after
	listen  atomic.Value // string, the address Serve listens on
	fe      *frontends   // the Anthropic and OpenAI front-ends
}

// New returns a proxy that routes through q, tokens and up. It refuses a
// non-loopback Listen address without an APIKey.
func New(q Quota, tokens TokenSource, up Upstream, opt Options) (*Server, error) {
	if q == nil || tokens == nil || up == nil {
		return nil, errors.New("proxy: quota, tokens and upstream are required")
	}
	if opt.Listen == "" {
		opt.Listen = DefaultListen
	}
	if opt.RetryAttempts <= 0 {
		opt.RetryAttempts = DefaultRetryAttempts
	}
	if opt.BodyLimit <= 0 {
		opt.BodyLimit = DefaultBodyLimit
	}
	if opt.SessionIdle <= 0 {
		opt.SessionIdle = DefaultSessionIdle
	}
	if opt.BareCooldown <= 0 {
		opt.BareCooldown = 10 * time.Second
	}
	if opt.LowThreshold <= 0 {
		opt.LowThreshold = quota.DefaultThresholds.Low
	}
	if opt.ShutdownGrace <= 0 {
		opt.ShutdownGrace = DefaultShutdownGrace
	}
	if opt.Clock == nil {
		opt.Clock = clock.Real{}
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.APIKey == "" && !isLoopback(opt.Listen) {
		return nil, fmt.Errorf("proxy: refusing to listen on %s without an API key: set proxy.api_key (QUOTATUI_PROXY_API_KEY) or listen on 127.0.0.1", opt.Listen)
	}
	s := &Server{q: q, up: up, tokens: tokens, opt: opt, clk: opt.Clock, log: opt.Logger, stats: newCounters(), started: opt.Clock.Now()}
	fe, err := newFrontends(opt.Frontends)
	if err != nil {
		return nil, err
	}
	s.fe = fe
	s.tm = newTokenManager(q, tokens, opt.Clock, opt.SessionIdle, opt.PreRequestCheck, opt.LowThreshold, s.stats, opt.Logger)
	s.listen.Store(opt.Listen)
	s.handler = s.routes()
	return s, nil
}

// TokenManager returns the server's token manager.
func (s *Server) TokenManager() *TokenManager { return s.tm }

// isLoopback reports whether a host:port (or bare host) names only the
// loopback interface. An empty host means every interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Serve answers on ln until ctx ends, then stops accepting, lets in-flight
// requests finish for up to Options.ShutdownGrace, cancels the rest and returns. It refuses a
// non-loopback listener without an API key.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	addr := ln.Addr().String()
	if s.opt.APIKey == "" && !isLoopback(addr) {
		return fmt.Errorf("proxy: refusing to serve on %s without an API key", addr)
	}
	s.listen.Store(addr)

	// Requests get a base context we cancel once the grace period is
	// over, so streams still running at shutdown end with their upstream.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	// Track handlers: http.Server.Close does not wait for them, and Serve
	// promises nothing of the request is left running when it returns.
	var handlers sync.WaitGroup
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			handlers.Add(1)
			defer handlers.Done()
			s.handler.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	sweep := time.NewTicker(time.Minute)
	defer sweep.Stop()
	for {
		select {
		case err := <-errc:
			return fmt.Errorf("proxy: serve %s: %w", addr, err)
		case <-sweep.C:
			s.tm.sweep()
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), s.opt.ShutdownGrace)
			err := srv.Shutdown(sctx)
			cancel()
			if err != nil {
				cancelBase()
				_ = srv.Close()
			}
			<-errc // http.ErrServerClosed
			waitBounded(&handlers, s.opt.ShutdownGrace)
			return nil
		}
	}
}

// waitBounded waits for wg, giving up after d (a handler stuck in a call
// that ignores its context must not hang shutdown forever).
func waitBounded(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// Handler returns the proxy's HTTP handler, for tests and for callers
// that run their own server.
func (s *Server) Handler() http.Handler { return s.handler }

// SetPaused pauses or resumes the proxy: while paused, proxied calls get
// 503 and nothing reaches the upstream.
func (s *Server) SetPaused(p bool) { s.paused.Store(p) }

// Paused reports whether the proxy is paused.
func (s *Server) Paused() bool { return s.paused.Load() }

// routedModels are the models whose ranking Stats reports per family.
var routedModels = map[cloudcode.Family]string{
	cloudcode.FamilyGemini:    "gemini-3-flash",
	cloudcode.FamilyClaudeGPT: "claude-sonnet-4-6",
}

// Stats returns a snapshot of the proxy's counters.
func (s *Server) Stats() Stats {
	st := Stats{Listen: s.listen.Load().(string), Paused: s.Paused(), Started: s.started}
	s.stats.fill(&st)
	st.ActiveSessions = s.tm.activeSessions()
	st.RoutedTo = map[string]string{}
	for f, model := range routedModels {
		if c, ok := s.q.Best(model); ok {
			st.RoutedTo[f.String()] = c.Label
		}
	}
	return st
}

// routes builds the handler: API key, then the routes.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.handleHealth)
	if s.opt.Metrics != nil {
		mux.Handle("GET /metrics", s.opt.Metrics)
	}
	// The SDKs use v1beta; some clients are configured with v1.
	for _, v := range []string{"v1beta", "v1"} {
		if v == "v1beta" { // GET /v1/models... is shared with OpenAI: frontendRoutes
			mux.HandleFunc("GET /"+v+"/models", s.handleListModels)
			mux.HandleFunc("GET /"+v+"/models/{model}", s.handleGetModel)
		}
		mux.HandleFunc("POST /"+v+"/models/{call}", s.handleGemini)
	}
	s.frontendRoutes(mux)
	mux.HandleFunc("/", s.handleOther)
	return s.count(s.shapeErrors(s.requireKey(mux)))
}

// statusWriter records the status sent to the client and the request's
// model family, for the counters.
type statusWriter struct {
	http.ResponseWriter
	status int
	family string
}

// WriteHeader records the first status written.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush on the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// setFamily tags the request with its model family for the counters.
func setFamily(w http.ResponseWriter, f string) {
	if sw, ok := w.(*statusWriter); ok {
		sw.family = f
	}
}

// count keeps the request counters for every proxied call (not for the
// health and metrics endpoints, which pollers hit on a timer).
func (s *Server) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/metrics" {
			next.ServeHTTP(w, r)
			return
		}
		s.stats.requests.Add(1)
		s.stats.inFlight.Add(1)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			s.stats.inFlight.Add(-1)
			status := sw.status
			if status == 0 {
				status = statusClientGone
			}
			s.stats.finished(status, sw.family)
		}()
		next.ServeHTTP(sw, r)
	})
}

// handleOther serves the v1internal passthrough, whose paths ("/v1internal:
// generateContent") the mux cannot pattern-match, and 404s the rest.
func (s *Server) handleOther(w http.ResponseWriter, r *http.Request) {
	rpc, ok := strings.CutPrefix(r.URL.Path, "/v1internal:")
	if !ok || rpc == "" || strings.Contains(rpc, "/") {
		writeError(w, http.StatusNotFound, fmt.Sprintf("quotatui proxy has no route for %s %s; it serves /v1internal:<method>, /v1beta/models and /healthz", r.Method, r.URL.Path))
		return
	}
	switch r.Method {
	case http.MethodPost:
	case http.MethodGet:
	default:
		w.Header().Set("Allow", "GET, POST")
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path))
		return
	}
	s.handleInternal(w, r, rpc)
}

// requireKey enforces the local API key when one is configured. Clients
// may send it as a bearer token, x-api-key, x-goog-api-key (the Gemini
// SDKs) or ?key=.
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
		if got == "" {
			writeError(w, http.StatusUnauthorized, "quotatui proxy needs its API key: send it as Authorization: Bearer <key>, x-api-key, x-goog-api-key or ?key=")
			return
		}
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			writeError(w, http.StatusUnauthorized, "the API key does not match quotatui's proxy.api_key")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkPaused answers 503 when the proxy is paused.
func (s *Server) checkPaused(w http.ResponseWriter) bool {
	if !s.Paused() {
		return false
	}
	w.Header().Set("Retry-After", "30")
	writeError(w, http.StatusServiceUnavailable, "the proxy is paused in quotatui (press p in the dashboard to resume)")
	return true
}

type health struct {
	OK       bool `json:"ok"`
	Paused   bool `json:"paused"`
	Accounts int  `json:"accounts"`
	Usable   int  `json:"usable"`
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	all := s.q.GetAllQuotas()
	h := health{OK: true, Paused: s.Paused(), Accounts: len(all)}
	for i := range all {
		if all[i].State == quota.StateActive {
			h.Usable++
		}
	}
	writeJSON(w, http.StatusOK, h)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// readBody buffers the client's body up to the limit so a request can be
// replayed on another account. It answers the client itself on failure.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opt.BodyLimit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than the proxy's limit of %d bytes (set proxy.body_limit to raise it)", s.opt.BodyLimit))
			return nil, false
		}
		writeError(w, http.StatusBadRequest, "could not read the request body: "+err.Error())
		return nil, false
	}
	return body, true
}
