// Package cloudcodetest is an in-process simulator of Google's Cloud Code
// v1internal API and of Google OAuth, in the manner of net/http/httptest:
// NewServer starts it on a loopback port, and methods on the Server are the
// test controls (drain a bucket, revoke a token, flag an account, inject a
// fault, read request counters).
//
// It behaves like the service rather than answering canned JSON: every
// generate call drains its model family's 5-hour and weekly buckets, the
// quota methods report what is left, windows reset on time under an
// injectable clock, and each error kind comes in the upstream's exact
// envelope. It is safe for concurrent use and never holds a shared lock
// while sleeping or streaming, so benchmarks can drive many accounts at once.
package cloudcodetest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
)

// Defaults for the zero Options fields.
const (
	DefaultAccessTokenTTL = time.Hour
	DefaultStreamChunks   = 4
	DefaultStreamInterval = 5 * time.Millisecond
	DefaultClientID       = "sim-client-id"
	DefaultClientSecret   = "sim-client-secret"
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// Clock drives token expiry, quota windows and the RPM window.
	// Default clock.Real{}.
	Clock clock.Clock
	// RPM is the per-account limit of generate requests per minute of
	// Clock time; 0 means unlimited.
	RPM int
	// Latency is added (in real time) to every v1internal call.
	Latency time.Duration
	// AccessTokenTTL is an access token's lifetime on Clock. Default 1h.
	AccessTokenTTL time.Duration
	// Capacity sizes a bucket in units (one generate call costs one unit).
	// Default DefaultCapacity.
	Capacity func(tier cloudcode.Tier, f cloudcode.Family, w cloudcode.Window) int
	// StreamChunks is how many SSE events a stream sends. Default 4.
	StreamChunks int
	// StreamInterval is the real time between two SSE events. Default 5ms.
	StreamInterval time.Duration
	// Seed seeds the fault injection's random source.
	Seed int64
	// Steps, when above 0, makes the quota answers report what is left in
	// steps of that size, rounded up, as Google has been seen to (0.2: a
	// reading of 0.2 can be the last step before 0). See steps.go.
	Steps float64
	// ClientID and ClientSecret are the OAuth client the authorization and
	// token endpoints accept, and the one accounts belong to unless their
	// AccountSpec names another (see AddClient). Defaults DefaultClientID,
	// DefaultClientSecret.
	ClientID, ClientSecret string
	// BindClaudeSignatures makes Claude's thought signatures valid only on
	// the account that issued them (Gemini's always are). Off by default:
	// peers found no such binding, but it is not proven.
	BindClaudeSignatures bool
	// OutsideShare, in (0, 1), makes other clients (an IDE on the same
	// accounts) spend that share of every account's units behind the
	// proxy's back, alongside its generate calls (outside.go).
	OutsideShare float64
}

// DefaultCapacity is the default bucket size: FREE 20/100, PRO 100/500,
// ULTRA 400/2000 units for the 5h/weekly windows. FREE (and unknown)
// accounts get no Claude and GPT quota at all, as Google gives none: their
// buckets are empty from the start and read as 0 left (a quotaInfo with a
// resetTime and no remainingFraction; upstream-api.md).
func DefaultCapacity(tier cloudcode.Tier, f cloudcode.Family, w cloudcode.Window) int {
	fiveHour := 20
	switch tier {
	case cloudcode.TierPro:
		fiveHour = 100
	case cloudcode.TierUltra:
		fiveHour = 400
	default:
		if f == cloudcode.FamilyClaudeGPT {
			return 0
		}
	}
	if w == cloudcode.WindowWeekly {
		return fiveHour * 5
	}
	return fiveHour
}

// Faults are the shares of generate calls (in [0, 1]) answered with an
// injected error instead of running.
type Faults struct {
	BareRate     float64 // bare 429 RESOURCE_EXHAUSTED with no details
	CapacityRate float64 // 503 MODEL_CAPACITY_EXHAUSTED
	// Capacity429Rate sends MODEL_CAPACITY_EXHAUSTED as a 429, as the
	// service sometimes does; it says nothing about the account's quota.
	Capacity429Rate float64
}

// The two simulated hosts, as they appear in BaseURLs and SetHostDown.
const (
	HostDaily = "daily"
	HostProd  = "prod"
)

// Server is a running simulator. Its methods are safe for concurrent use.
// Emails match case-insensitively. The control methods panic on an email
// that was never added, since that is a bug in the test.
type Server struct {
	// URL is the root URL, e.g. "http://127.0.0.1:41234".
	URL string

	ts   *httptest.Server
	opts Options
	clk  clock.Clock

	closing   chan struct{}
	closeOnce sync.Once

	latency  atomic.Int64 // time.Duration
	inFlight atomic.Int64
	held     atomic.Int64 // quota answers computed and held by SetReplyDelay
	hostDown [2]atomic.Int32

	mu           sync.RWMutex // guards the maps below; never held while waiting
	accounts     map[string]*account
	accessTokens map[string]*accessToken
	refresh      map[string]refreshToken
	codes        map[string]*authCode
	clients      map[string]OAuthClient // by id
	nextLogin    string
	denyAuth     bool

	faults *faultSource
	inject *injector // faults.go, operations.go
	counts counters
	strict *strict // request checks, signatures, prompt cache (validate.go, answer.go)
}

// NewServer starts a simulator on 127.0.0.1 with a random port. Call Close
// when done.
func NewServer(opts Options) *Server {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.AccessTokenTTL <= 0 {
		opts.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if opts.Capacity == nil {
		opts.Capacity = DefaultCapacity
	}
	if opts.StreamChunks <= 0 {
		opts.StreamChunks = DefaultStreamChunks
	}
	if opts.StreamInterval <= 0 {
		opts.StreamInterval = DefaultStreamInterval
	}
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	s := &Server{
		opts:         opts,
		clk:          opts.Clock,
		closing:      make(chan struct{}),
		accounts:     make(map[string]*account),
		accessTokens: make(map[string]*accessToken),
		refresh:      make(map[string]refreshToken),
		codes:        make(map[string]*authCode),
		clients:      map[string]OAuthClient{opts.ClientID: {ID: opts.ClientID, Secret: opts.ClientSecret}},
		faults:       newFaultSource(opts.Seed),
		inject:       newInjector(opts.Seed),
		strict:       newStrict(opts.BindClaudeSignatures),
		counts:       counters{m: make(map[counterKey]int)},
	}
	s.latency.Store(int64(opts.Latency))
	s.ts = httptest.NewServer(http.HandlerFunc(s.route))
	s.URL = s.ts.URL
	if tr, ok := s.ts.Client().Transport.(*http.Transport); ok {
		// Benchmarks drive hundreds of accounts at once; the default of 2
		// idle connections per host would redial for almost every call.
		tr.MaxIdleConnsPerHost = 1024
	}
	return s
}

// Close releases hung and streaming handlers, shuts the server down and
// blocks until every handler has returned.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.ts.CloseClientConnections()
		s.ts.Close()
	})
}

// Client returns an HTTP client for the server whose idle connections are
// closed by Close, like httptest.Server.Client. It keeps up to 1024 idle
// connections, so parallel callers reuse them.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// BaseURLs returns the daily and prod v1internal base URLs, in the order a
// client should try them.
func (s *Server) BaseURLs() []string {
	return []string{s.URL + "/" + HostDaily + "/v1internal", s.URL + "/" + HostProd + "/v1internal"}
}

// AuthURL returns the OAuth authorization endpoint.
func (s *Server) AuthURL() string { return s.URL + "/o/oauth2/v2/auth" }

// TokenURL returns the OAuth token endpoint.
func (s *Server) TokenURL() string { return s.URL + "/token" }

// UserInfoURL returns the OAuth user info endpoint.
func (s *Server) UserInfoURL() string { return s.URL + "/oauth2/v2/userinfo" }

// SetLatency changes the latency added to every v1internal call.
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// SetHostDown makes host (HostDaily or HostProd) answer every v1internal
// call with status; 0 brings it back up.
func (s *Server) SetHostDown(host string, status int) {
	i, ok := hostIndex(host)
	if !ok {
		panic("cloudcodetest: unknown host " + host)
	}
	s.hostDown[i].Store(int32(status))
}

// SetFaults sets the share of generate calls answered with injected errors.
func (s *Server) SetFaults(f Faults) { s.faults.set(f) }

// InFlight returns how many v1internal calls are being handled right now,
// including hung, delayed and streaming ones. Tests poll it to see that a
// client gave up on a call.
func (s *Server) InFlight() int { return int(s.inFlight.Load()) }

// HeldReplies returns how many quota answers are computed and waiting out
// their account's reply delay (SetReplyDelay): tests poll it to know the
// figure in flight was taken.
func (s *Server) HeldReplies() int { return int(s.held.Load()) }

// Requests returns how many calls of rpc the account made, e.g.
// "generateContent", "fetchAvailableModels", "token", "userinfo",
// "authorize".
func (s *Server) Requests(email, rpc string) int { return s.counts.get(email, rpc) }

// TotalRequests returns how many calls of rpc the server received, from any
// account or none.
func (s *Server) TotalRequests(rpc string) int { return s.counts.get(anyAccount, rpc) }

func hostIndex(host string) (int, bool) {
	switch host {
	case HostDaily:
		return 0, true
	case HostProd:
		return 1, true
	}
	return 0, false
}

// route dispatches by path. The v1internal paths carry the method after a
// colon ("/daily/v1internal:generateContent"), which http.ServeMux
// patterns cannot match, so routing is by hand.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch p {
	case "/o/oauth2/v2/auth":
		s.handleAuthorize(w, r)
		return
	case "/token":
		s.handleToken(w, r)
		return
	case "/oauth2/v2/userinfo":
		s.handleUserInfo(w, r)
		return
	}
	host, rest, ok := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if hi, known := hostIndex(host); ok && known {
		if rpc, found := strings.CutPrefix(rest, "v1internal:"); found && rpc != "" {
			s.handleV1Internal(w, r, hi, rpc)
			return
		}
		if op, found := strings.CutPrefix(rest, "v1internal/operations/"); found && op != "" {
			s.handleOperation(w, r, hi, op)
			return
		}
	}
	writeGoogleError(w, http.StatusNotFound, "NOT_FOUND", "The requested URL "+p+" was not found on this server.")
}

// sleep waits d in real time; it reports false if the request or the
// server ended first.
func (s *Server) sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.closing:
		return false
	}
}

// anyAccount is the counter key for totals.
const anyAccount = "\x00all"

type counterKey struct{ email, rpc string }

// counters counts requests per (account, rpc) and in total. The lock is
// held only for a map update.
type counters struct {
	mu sync.Mutex
	m  map[counterKey]int
}

func (c *counters) add(email, rpc string) {
	email = strings.ToLower(email) // emails match case-insensitively, as accounts do
	c.mu.Lock()
	c.m[counterKey{anyAccount, rpc}]++
	if email != "" {
		c.m[counterKey{email, rpc}]++
	}
	c.mu.Unlock()
}

func (c *counters) get(email, rpc string) int {
	if email != anyAccount {
		email = strings.ToLower(email)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[counterKey{email, rpc}]
}
