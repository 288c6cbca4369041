package proxy

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path"
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
	DefaultCooldownFirst     = quota.ShortCooldown
	DefaultCooldownMax       = 30 * time.Second
	DefaultMaxWait           = 5 * time.Second
	DefaultFirstByteTimeout  = 2 * time.Minute
	DefaultBodyTimeout       = time.Minute
	DefaultStreamIdleTimeout = time.Minute
	DefaultRetryAttempts     = 3
	DefaultBodyLimit         = 32 << 20
	DefaultSessionIdle       = time.Hour
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
	// ModelListed says whether an account's last answer listed the model
	// and whether any listed a model at all, without a Status per account
	// (the translated routes ask it for every request).
	ModelListed(id string) (known, listed bool)
	// Apply carries out the engine's verdict on an upstream error
	// (quota.Judge): marks, account state, token invalidation, resync.
	// The token it invalidates is the engine's TokenSource's, which must
	// be the one the proxy is given (it gets the fresh token from it).
	Apply(ctx context.Context, accountID int64, f cloudcode.Family, v quota.Verdict, receivedAt time.Time) error
	// Health is the engine's own condition (its database), for /healthz
	// and the 503 that says why no account can serve.
	Health() quota.Health
	RecordSuccess(accountID int64, f cloudcode.Family, startedAt time.Time)
	// Record enters one completed request in the engine's spend ledger:
	// what it spent of the account (the estimates) and its token usage
	// (the statistics). It must not block.
	Record(sp quota.Spend)
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
	// CooldownFirst is how long an (account, family) rests after its first
	// 429 without details or timeout in a row; each repeat doubles it up
	// to CooldownMax, and a success starts over. Defaults 250 ms and 30 s
	// (cmd/quotasoak -scenario bursts: at 30 % bare 429s a 1 s first
	// cooldown made the median request wait 0.5 s for a cooling account,
	// 250 ms keeps it at 43 ms, with no client 429 either way).
	CooldownFirst, CooldownMax time.Duration
	// MaxWait bounds how long a request waits for an account that is only
	// cooling down briefly, when every usable account is, before it is
	// answered 429; default 5 s.
	MaxWait time.Duration
	// LowThreshold is ignored: the engine's Check says when an account is
	// in the low zone, on its figures brought forward by the estimate
	// (quota.Thresholds). Kept so that existing callers still build.
	//
	// Deprecated: set quota.Options.Thresholds instead.
	LowThreshold float64
	// ShutdownGrace is how long Serve lets in-flight requests finish once
	// its context ends; default 5 s.
	ShutdownGrace time.Duration
	// FirstByteTimeout bounds the wait for an upstream call's first byte:
	// its headers and its first stream event, or a whole non-streaming
	// answer (generation can think for a while). An account that misses
	// it is cooled down and the request moves on. Default 2 min.
	FirstByteTimeout time.Duration
	// StreamIdleTimeout bounds the silence between two stream events once
	// the first was sent; a stream that stalls longer ends as broken.
	// Default 1 min.
	StreamIdleTimeout time.Duration
	// MaxEventBytes bounds one upstream stream event; default
	// DefaultMaxEventBytes (64 MiB).
	MaxEventBytes int
	// BodyTimeout bounds the arrival of a client's body once its headers
	// are in; default 1 min.
	BodyTimeout time.Duration
	// BufferLimit bounds the bytes of client bodies held at once (each is
	// kept for replays on other accounts); a request over it is answered
	// 503. Default twice BodyLimit.
	BufferLimit int64
	// AllowedHosts are host names, besides localhost and the listen
	// address, that requests may name in their Host header (the proxy
	// refuses others: DNS rebinding). AllowedOrigins are the browser
	// origins allowed to call the proxy (none by default).
	AllowedHosts, AllowedOrigins []string
	// Frontends configure the Anthropic and OpenAI routes (frontends.go).
	Frontends FrontendOptions
	// Bindings keeps the conversations' accounts; nil keeps them in this
	// process's memory, with SessionIdle. Instances sharing a PostgreSQL
	// database pass its shared bindings (made with the same idle time).
	Bindings Bindings
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
	budget  *bodyBudget
	logs    *logLimiter
	started time.Time    // when New made it; never written after
	listen  atomic.Value // string, the address Serve listens on
	fe      *frontends   // the Anthropic and OpenAI front-ends
	// labels holds the X-Quotatui-Account values by label
	// (accountHeader): read without a lock, replaced under labelsMu.
	labels   atomic.Pointer[map[string][]string]
	labelsMu sync.Mutex
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
	if opt.CooldownFirst <= 0 {
		opt.CooldownFirst = DefaultCooldownFirst
	}
	if opt.CooldownMax < opt.CooldownFirst {
		opt.CooldownMax = max(DefaultCooldownMax, opt.CooldownFirst)
	}
	if opt.MaxWait <= 0 {
		opt.MaxWait = DefaultMaxWait
	}
	if opt.ShutdownGrace <= 0 {
		opt.ShutdownGrace = DefaultShutdownGrace
	}
	if opt.FirstByteTimeout <= 0 {
		opt.FirstByteTimeout = DefaultFirstByteTimeout
	}
	if opt.StreamIdleTimeout <= 0 {
		opt.StreamIdleTimeout = DefaultStreamIdleTimeout
	}
	if opt.MaxEventBytes <= 0 {
		opt.MaxEventBytes = DefaultMaxEventBytes
	}
	if opt.BodyTimeout <= 0 {
		opt.BodyTimeout = DefaultBodyTimeout
	}
	if opt.BufferLimit <= 0 {
		opt.BufferLimit = 2 * opt.BodyLimit
	}
	if opt.BufferLimit < opt.BodyLimit {
		return nil, fmt.Errorf("proxy: the buffer limit (%d bytes) is below the body limit (%d bytes): no body of the largest size could be taken", opt.BufferLimit, opt.BodyLimit)
	}
	if opt.APIKey != "" && len(opt.APIKey) < MinAPIKeyLength {
		return nil, fmt.Errorf("proxy: the API key has %d characters; use at least %d (for example: openssl rand -hex 16)", len(opt.APIKey), MinAPIKeyLength)
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
	s := &Server{q: q, up: up, tokens: tokens, opt: opt, clk: opt.Clock, log: opt.Logger, stats: newCounters(), started: opt.Clock.Now(),
		budget: newBodyBudget(opt.BufferLimit), logs: newLogLimiter(logInterval)}
	fe, err := newFrontends(opt.Frontends)
	if err != nil {
		return nil, err
	}
	s.fe = fe
	s.tm = newTokenManager(q, tokens, opt.Clock, opt.SessionIdle, opt.PreRequestCheck, s.stats, opt.Logger)
	s.tm.cool = newBackoff(opt.CooldownFirst, opt.CooldownMax)
	s.tm.logs = s.logs
	if opt.Bindings != nil {
		s.tm.sessions = opt.Bindings
	}
	s.listen.Store(opt.Listen)
	s.labels.Store(&map[string][]string{})
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
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
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
	st := s.Counters()
	st.RoutedTo = s.RoutedTo()
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
	return s.count(s.guard(s.requireKey(passthroughFirst(mux, s.handleOther))))
}

// passthroughFirst sends the Code Assist passthrough's calls, the busiest
// route, straight to other, the mux's "/" handler, which is where the mux
// sends them too: no other pattern can match a path under "/v1internal:"
// or "/v1internal/operations/". The mux would first match the path
// against its patterns (5 allocations per request). A request the mux
// would treat otherwise (a path it cleans and redirects, CONNECT, "*")
// goes through the mux.
func passthroughFirst(mux *http.ServeMux, other http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.EscapedPath() // what the mux matches; no allocation for these paths
		if (strings.HasPrefix(p, "/v1internal:") || strings.HasPrefix(p, "/v1internal/operations/")) &&
			r.Method != http.MethodConnect && r.RequestURI != "*" && path.Clean(p) == p {
			r.Pattern = "/"
			other(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// statusWriter records the status sent to the client and the request's
// model family, for the counters.
type statusWriter struct {
	http.ResponseWriter
	status int
	family string
	final  int // what the request came to, when not the status written (a broken stream, a client gone)
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

// setOutcome records what the request came to, which may differ from the
// status written: 200 was sent before a stream broke, or the client left.
func setOutcome(w http.ResponseWriter, status int) {
	if sw, ok := w.(*statusWriter); ok {
		sw.final = status
	}
}

// setFamily tags the request with its model family for the counters.
func setFamily(w http.ResponseWriter, f string) {
	if sw, ok := w.(*statusWriter); ok {
		sw.family = f
	}
}

// statusWriters recycles the statusWriters of count: one per request
// otherwise. Nothing holds one past its request: the handlers return only
// when every goroutine of theirs that writes (a stream's pinger) has
// stopped.
var statusWriters = sync.Pool{New: func() any { return new(statusWriter) }}

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
		sw := statusWriters.Get().(*statusWriter)
		*sw = statusWriter{ResponseWriter: w}
		defer func() {
			s.stats.inFlight.Add(-1)
			status := cmp.Or(sw.final, sw.status, statusClientGone)
			s.stats.finished(status, sw.family)
			*sw = statusWriter{} // nothing of the request is kept
			statusWriters.Put(sw)
		}()
		next.ServeHTTP(sw, r)
	})
}

// handleOther serves the v1internal passthrough, whose paths ("/v1internal:
// generateContent", "/v1internal/operations/<name>") the mux cannot
// pattern-match, and 404s the rest. A method must be plain letters and an
// operation a plain name: anything else would change the upstream URL.
func (s *Server) handleOther(w http.ResponseWriter, r *http.Request) {
	rpc, isRPC := strings.CutPrefix(r.URL.Path, "/v1internal:")
	op, isOp := strings.CutPrefix(r.URL.Path, "/v1internal/operations/")
	switch {
	case isRPC && cloudcode.IsMethodName(rpc):
		if r.Method != http.MethodPost && r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET, POST")
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path))
			return
		}
		s.handleInternal(w, r, rpc, "")
	case isOp && isOperationName(op):
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path))
			return
		}
		s.handleInternal(w, r, "", "operations/"+op)
	default:
		// In the shape of the API the path belongs to (GET /v1/messages
		// is an Anthropic client's mistake).
		errorsFor(r).WriteError(w, &ClientError{Status: http.StatusNotFound, Message: fmt.Sprintf("quotatui proxy has no route for %s %q; it serves /v1internal:<method> (letters only), /v1internal/operations/<name>, /v1beta/models, POST /v1/messages, /v1/chat/completions, /v1/responses, GET /v1/models and /healthz", r.Method, r.URL.Path)})
	}
}

// isOperationName reports whether name can be an operation's name: one
// segment of letters, digits, '-', '_' and '.', starting with a letter or
// digit.
func isOperationName(name string) bool {
	if name == "" || len(name) > 256 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || c != '-' && c != '_' && c != '.') {
			return false
		}
	}
	return true
}

// health is the answer of /healthz. OK is false while the engine reports
// a problem with quotatui itself (its database cannot be written, its
// file was deleted: Problems says which); the proxy still serves then, so
// the status stays 200.
type health struct {
	OK       bool     `json:"ok"`
	Problems []string `json:"problems,omitempty"`
	Paused   bool     `json:"paused"`
	Accounts int      `json:"accounts"`
	Usable   int      `json:"usable"`
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	all := s.q.GetAllQuotas()
	eh := s.q.Health()
	h := health{OK: eh.OK(), Problems: eh.Problems, Paused: s.Paused(), Accounts: len(all)}
	now := s.clk.Now()
	for i := range all {
		if usableAtAll(&all[i], now) {
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
