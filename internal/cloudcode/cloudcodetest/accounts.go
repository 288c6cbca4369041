package cloudcodetest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"math"
	mathrand "math/rand"
	"strings"
	"sync"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// AccountSpec describes an account to add to the simulator.
type AccountSpec struct {
	Email string
	// TierID is the raw tier id, e.g. "free-tier", "g1-pro-tier",
	// "g1-ultra-tier". Default "free-tier".
	TierID string
	// Project is the Cloud project id; default derived from Email.
	Project string
	// ClientID is the OAuth client that issues the account's tokens: its
	// refresh token refreshes with no other. Default Options.ClientID.
	ClientID string
}

// Account is what a test needs to call the simulator as one account.
type Account struct {
	Email, Project, RefreshToken, AccessToken string
}

// Window lengths.
const (
	fiveHours = 5 * time.Hour
	week      = 7 * 24 * time.Hour
)

// bucket is one quota window. Its window starts when the account is added
// and restarts lazily at the first access after the reset time.
type bucket struct {
	capacity int
	used     int
	period   time.Duration
	reset    time.Time
}

// roll refills the bucket and starts a new window once now reaches reset.
func (b *bucket) roll(now time.Time) {
	if !now.Before(b.reset) {
		b.used = 0
		b.reset = windowEnd(now, b.period)
	}
}

// windowEnd is when a window of period starting at now ends, rounded up to
// a whole second: answers carry reset times in whole seconds, and a caller
// waiting until the reported time must find the bucket refilled.
func windowEnd(now time.Time, period time.Duration) time.Time {
	end := now.Add(period)
	if t := end.Truncate(time.Second); !t.Equal(end) {
		end = t.Add(time.Second)
	}
	return end
}

func (b *bucket) empty() bool { return b.used >= b.capacity }

func (b *bucket) fraction() float64 {
	if b.capacity <= 0 {
		return 0
	}
	return float64(b.capacity-b.used) / float64(b.capacity)
}

// account is one simulated Google account. mu guards the mutable fields;
// it is held only for short updates, never while waiting.
type account struct {
	email, project, tierID string
	clientID               string // the client AddAccount issues tokens for
	tier                   cloudcode.Tier
	id                     string // numeric user id for userinfo
	projectAsObject        bool   // loadCodeAssist sends {"id": ...}
	wrapSummary            bool   // retrieveUserQuotaSummary uses the quotaSummary wrapper

	mu            sync.Mutex
	buckets       [3][2]bucket // [family][0=5h, 1=weekly]; index 0 (unknown family) unused
	validationURL string
	forbidReason  string
	forbidden     bool
	hang          chan struct{} // non-nil while hanging; closed to release
	frozenProd    bool
	// notOnboarded: loadCodeAssist names no project until onboarding is
	// done; onboardOp is the pending onboardUser operation's name.
	notOnboarded bool
	onboardOp    string
	onboardPolls int // GETs of onboardOp so far
	// replyDelay holds quota answers after they are computed.
	replyDelay time.Duration
	// readLimit, when positive, answers the quota reads with 429
	// RATE_LIMIT_EXCEEDED asking to retry after it.
	readLimit time.Duration
	rpmLog    []time.Time // times of recent generate calls, oldest first
	// Other clients' spending (outside.go): units taken per family, and
	// the balance OutsideShare has yet to spend.
	outsideSpent [3]int
	outsideDue   [3]float64
	accessTokens []string // issued, possibly expired (guarded by Server.mu)
}

// accessToken is an issued access token's record; never modified once
// stored in Server.accessTokens.
type accessToken struct {
	acct    *account
	client  string // the OAuth client it was issued to
	expires time.Time
}

// refreshToken is an issued refresh token's record: it refreshes only
// with the client it was issued to.
type refreshToken struct {
	acct   *account
	client string
}

// OAuthClient is an OAuth client the simulator's endpoints accept.
type OAuthClient struct {
	ID, Secret string
	// Refused makes every v1internal call with this client's tokens answer
	// 403 SERVICE_DISABLED, as Google answers tokens of clients registered
	// in an ordinary Cloud project ("Cloud Code Private API has not been
	// used in project ..."). The token and userinfo endpoints still work.
	Refused bool
}

type authCode struct {
	acct        *account
	clientID    string
	redirectURI string
	challenge   string
	scope       string
	expires     time.Time
}

func windowIndex(w cloudcode.Window) (int, bool) {
	switch w {
	case cloudcode.Window5h:
		return 0, true
	case cloudcode.WindowWeekly:
		return 1, true
	}
	return 0, false
}

func emailHash(email string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(email)))
	return h.Sum32()
}

// randomToken returns prefix followed by n random bytes in hex.
func randomToken(prefix string, n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand panics instead)
	return prefix + hex.EncodeToString(b)
}

// AddAccount adds an account with full buckets whose windows start now.
// For an email already known it keeps the account as it is (tier, project,
// buckets) and issues it a fresh refresh token and access token.
func (s *Server) AddAccount(spec AccountSpec) Account {
	if spec.Email == "" {
		panic("cloudcodetest: AddAccount without an email")
	}
	if spec.TierID == "" {
		spec.TierID = "free-tier"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[strings.ToLower(spec.Email)]
	if !ok {
		a = s.newAccountLocked(spec)
	}
	client := a.clientID
	if spec.ClientID != "" {
		client = spec.ClientID
	}
	if _, known := s.clients[client]; !known {
		panic("cloudcodetest: AddAccount with unknown OAuth client " + client + " (AddClient it first)")
	}
	refresh := s.issueRefreshLocked(a, client)
	access := s.issueAccessLocked(a, client)
	return Account{Email: a.email, Project: a.project, RefreshToken: refresh, AccessToken: access}
}

func (s *Server) newAccountLocked(spec AccountSpec) *account {
	h := emailHash(spec.Email)
	a := &account{
		email:           spec.Email,
		project:         spec.Project,
		tierID:          spec.TierID,
		clientID:        spec.ClientID,
		tier:            cloudcode.NormalizeTier(spec.TierID, ""),
		id:              fmt.Sprintf("1%020d", uint64(h)*2654435761),
		projectAsObject: h&1 == 1,
		wrapSummary:     h&2 == 2,
	}
	if a.clientID == "" {
		a.clientID = s.opts.ClientID
	}
	if a.project == "" {
		local, _, _ := strings.Cut(strings.ToLower(spec.Email), "@")
		local = strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				return r
			}
			return '-'
		}, local)
		a.project = fmt.Sprintf("%s-%05d", local, h%100000)
	}
	now := s.clk.Now()
	for _, f := range cloudcode.Families {
		for wi, w := range [2]cloudcode.Window{cloudcode.Window5h, cloudcode.WindowWeekly} {
			period := fiveHours
			if wi == 1 {
				period = week
			}
			a.buckets[f][wi] = bucket{capacity: s.opts.Capacity(a.tier, f, w), period: period, reset: windowEnd(now, period)}
		}
	}
	s.accounts[strings.ToLower(spec.Email)] = a
	return a
}

func (s *Server) issueRefreshLocked(a *account, client string) string {
	t := randomToken("1//sim-", 24)
	s.refresh[t] = refreshToken{acct: a, client: client}
	return t
}

func (s *Server) issueAccessLocked(a *account, client string) string {
	now := s.clk.Now()
	// Forget this account's expired tokens so long runs do not grow.
	kept := a.accessTokens[:0]
	for _, t := range a.accessTokens {
		if at, ok := s.accessTokens[t]; ok && now.Before(at.expires) {
			kept = append(kept, t)
		} else {
			delete(s.accessTokens, t)
		}
	}
	t := randomToken("ya29.sim-", 24)
	s.accessTokens[t] = &accessToken{acct: a, client: client, expires: now.Add(s.opts.AccessTokenTTL)}
	a.accessTokens = append(kept, t)
	return t
}

// AccessToken issues a fresh access token for the account, valid for
// AccessTokenTTL from now on the sim clock. Tests that move the clock by
// hours use it instead of going through the token endpoint.
func (s *Server) AccessToken(email string) string {
	a := s.mustAccount(email)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueAccessLocked(a, a.clientID)
}

// AddClient registers another OAuth client with the token and
// authorization endpoints (the one in Options is always known).
func (s *Server) AddClient(c OAuthClient) {
	if c.ID == "" {
		panic("cloudcodetest: AddClient without an id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[c.ID] = c
}

// lookupAccount returns the account or nil.
func (s *Server) lookupAccount(email string) *account {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.accounts[strings.ToLower(email)]
}

// mustAccount returns the account; an unknown email is a bug in the test.
func (s *Server) mustAccount(email string) *account {
	a := s.lookupAccount(email)
	if a == nil {
		panic("cloudcodetest: unknown account " + email)
	}
	return a
}

// bearer resolves an access token: the account it belongs to (nil if
// unknown), whether it is still valid, and the client it was issued to.
func (s *Server) bearer(token string) (*account, bool, OAuthClient) {
	if token == "" {
		return nil, false, OAuthClient{}
	}
	s.mu.RLock()
	at, ok := s.accessTokens[token]
	var c OAuthClient
	if ok {
		c = s.clients[at.client]
	}
	s.mu.RUnlock()
	if !ok {
		return nil, false, OAuthClient{}
	}
	return at.acct, s.clk.Now().Before(at.expires), c
}

// lockBucket returns the account's bucket for (f, w), rolled to now, with
// the account locked; the caller unlocks. Unknown names are test bugs.
func (s *Server) lockBucket(email string, f cloudcode.Family, w cloudcode.Window) (*account, *bucket) {
	a := s.mustAccount(email)
	wi, ok := windowIndex(w)
	if !ok || f == cloudcode.FamilyUnknown || int(f) >= len(a.buckets) {
		panic(fmt.Sprintf("cloudcodetest: no bucket %s/%s", f, w))
	}
	a.mu.Lock()
	b := &a.buckets[f][wi]
	b.roll(s.clk.Now())
	return a, b
}

// SetRemaining sets a bucket's remaining fraction (rounded to whole units),
// keeping its current window.
func (s *Server) SetRemaining(email string, f cloudcode.Family, w cloudcode.Window, fraction float64) {
	fraction = math.Max(0, math.Min(1, fraction))
	a, b := s.lockBucket(email, f, w)
	defer a.mu.Unlock()
	b.used = b.capacity - int(math.Round(fraction*float64(b.capacity)))
}

// Remaining returns a bucket's remaining fraction now.
func (s *Server) Remaining(email string, f cloudcode.Family, w cloudcode.Window) float64 {
	a, b := s.lockBucket(email, f, w)
	defer a.mu.Unlock()
	return b.fraction()
}

// ResetTime returns when a bucket's current window ends.
func (s *Server) ResetTime(email string, f cloudcode.Family, w cloudcode.Window) time.Time {
	a, b := s.lockBucket(email, f, w)
	defer a.mu.Unlock()
	return b.reset
}

// Drain empties the family's 5h bucket.
func (s *Server) Drain(email string, f cloudcode.Family) {
	s.SetRemaining(email, f, cloudcode.Window5h, 0)
}

// RevokeRefreshToken revokes every refresh token of the account: the next
// refresh answers invalid_grant. A new login issues a working one.
func (s *Server) RevokeRefreshToken(email string) {
	a := s.mustAccount(email)
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, rec := range s.refresh {
		if rec.acct == a {
			delete(s.refresh, t)
		}
	}
}

// ExpireAccessTokens expires every access token issued so far to the
// account: the next call with one of them gets 401.
func (s *Server) ExpireAccessTokens(email string) {
	a := s.mustAccount(email)
	s.mu.Lock()
	defer s.mu.Unlock()
	// Records are immutable once stored (bearer reads them after
	// unlocking), so replace each with an expired copy.
	for _, t := range a.accessTokens {
		if _, ok := s.accessTokens[t]; ok {
			s.accessTokens[t] = &accessToken{acct: a, client: s.accessTokens[t].client}
		}
	}
}

// FlagValidation makes every call of the account except loadCodeAssist
// answer 403 VALIDATION_REQUIRED with url; loadCodeAssist lists the
// ineligible tier with the url.
func (s *Server) FlagValidation(email, url string) {
	a := s.mustAccount(email)
	a.mu.Lock()
	a.validationURL = url
	a.mu.Unlock()
}

// Forbid makes every call of the account answer 403 PERMISSION_DENIED;
// reason (e.g. "SERVICE_DISABLED") goes in the ErrorInfo, none when empty.
func (s *Server) Forbid(email, reason string) {
	a := s.mustAccount(email)
	a.mu.Lock()
	a.forbidden, a.forbidReason = true, reason
	a.mu.Unlock()
}

// Unflag clears FlagValidation and Forbid.
func (s *Server) Unflag(email string) {
	a := s.mustAccount(email)
	a.mu.Lock()
	a.validationURL, a.forbidden, a.forbidReason = "", false, ""
	a.mu.Unlock()
}

// SetHang makes the account's calls block until the client gives up, the
// server closes, or SetHang(email, false) releases them.
func (s *Server) SetHang(email string, hang bool) {
	a := s.mustAccount(email)
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case hang && a.hang == nil:
		a.hang = make(chan struct{})
	case !hang && a.hang != nil:
		close(a.hang)
		a.hang = nil
	}
}

// SetFrozenProd makes the prod host answer fetchAvailableModels for the
// account with the frozen placeholder (100 %, reset now + 5h).
func (s *Server) SetFrozenProd(email string, frozen bool) {
	a := s.mustAccount(email)
	a.mu.Lock()
	a.frozenProd = frozen
	a.mu.Unlock()
}

// SetOnboarded(email, false) makes loadCodeAssist name no project for the
// account, as for an account that was never onboarded. onboardUser then
// answers a pending operation; polling it (GET
// v1internal/operations/<name>) finishes onboarding, as does
// SetOnboarded(email, true).
func (s *Server) SetOnboarded(email string, onboarded bool) {
	a := s.mustAccount(email)
	a.mu.Lock()
	a.notOnboarded = !onboarded
	a.mu.Unlock()
}

// SetQuotaReadLimit makes the account's quota reads (fetchAvailableModels,
// retrieveUserQuotaSummary, retrieveUserQuota) answer 429
// RATE_LIMIT_EXCEEDED with a RetryInfo of retry; 0 lifts it.
func (s *Server) SetQuotaReadLimit(email string, retry time.Duration) {
	a := s.mustAccount(email)
	a.mu.Lock()
	a.readLimit = retry
	a.mu.Unlock()
}

// SetReplyDelay makes the account's quota answers (fetchAvailableModels,
// retrieveUserQuotaSummary) wait d, in real time, after their figures are
// taken and before they are sent, like a slow way back: a change made
// meanwhile is not in them. 0 sends them at once. HeldReplies counts the
// answers waiting.
func (s *Server) SetReplyDelay(email string, d time.Duration) {
	a := s.mustAccount(email)
	a.mu.Lock()
	a.replyDelay = d
	a.mu.Unlock()
}

// SetNextLogin sets who the authorization endpoint logs in from now on; an
// unknown email is created as a free-tier account at login.
func (s *Server) SetNextLogin(email string) {
	s.mu.Lock()
	s.nextLogin = email
	s.mu.Unlock()
}

// DenyAuthorization makes the authorization endpoint redirect with
// error=access_denied, as when the user clicks Cancel.
func (s *Server) DenyAuthorization(deny bool) {
	s.mu.Lock()
	s.denyAuth = deny
	s.mu.Unlock()
}

// faultSource draws injected faults from a seeded source under a small lock.
type faultSource struct {
	mu  sync.Mutex
	rnd *mathrand.Rand
	f   Faults
}

func newFaultSource(seed int64) *faultSource {
	return &faultSource{rnd: mathrand.New(mathrand.NewSource(seed))}
}

func (fs *faultSource) set(f Faults) {
	fs.mu.Lock()
	fs.f = f
	fs.mu.Unlock()
}

type fault uint8

const (
	noFault fault = iota
	bareFault
	capacityFault
	capacity429Fault
)

// draw decides one generate call's fault.
func (fs *faultSource) draw() fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.f
	if f.BareRate <= 0 && f.CapacityRate <= 0 && f.Capacity429Rate <= 0 {
		return noFault // keep the sequence unconsumed when faults are off
	}
	x := fs.rnd.Float64()
	switch {
	case x < f.BareRate:
		return bareFault
	case x < f.BareRate+f.CapacityRate:
		return capacityFault
	case x < f.BareRate+f.CapacityRate+f.Capacity429Rate:
		return capacity429Fault
	}
	return noFault
}
