package cloudcodetest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The scopes the simulator grants when the request names none.
const defaultScope = "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile openid"

// defaultLogin is who the authorization endpoint logs in when
// SetNextLogin was never called.
const defaultLogin = "sim-user@example.com"

// isLoopbackRedirect reports whether raw is an http URL on 127.0.0.1,
// [::1] or localhost, the only redirects an installed app may use.
func isLoopbackRedirect(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// handleAuthorize is the authorization endpoint. Google shows an error
// page (never a redirect) for a bad client or redirect URI; the simulator
// answers those with 400 and the error name in the body.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	s.mu.RLock()
	email, deny := s.nextLogin, s.denyAuth
	s.mu.RUnlock()
	if email == "" {
		email = defaultLogin
	}
	s.counts.add(email, "authorize")

	s.mu.RLock()
	_, knownClient := s.clients[q.Get("client_id")]
	s.mu.RUnlock()
	if !knownClient {
		http.Error(w, "Error 401: invalid_client. The OAuth client was not found.", http.StatusUnauthorized)
		return
	}
	redirect := q.Get("redirect_uri")
	if !isLoopbackRedirect(redirect) {
		http.Error(w, "Error 400: redirect_uri_mismatch", http.StatusBadRequest)
		return
	}
	switch {
	case q.Get("response_type") != "code":
		http.Error(w, "Error 400: invalid_request. response_type must be code", http.StatusBadRequest)
		return
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		http.Error(w, "Error 400: invalid_request. code_challenge with code_challenge_method=S256 is required", http.StatusBadRequest)
		return
	}
	target, _ := url.Parse(redirect) // checked by isLoopbackRedirect
	out := target.Query()
	if st := q.Get("state"); st != "" {
		out.Set("state", st)
	}
	if deny {
		out.Set("error", "access_denied")
		target.RawQuery = out.Encode()
		http.Redirect(w, r, target.String(), http.StatusFound)
		return
	}
	scope := q.Get("scope")
	if scope == "" {
		scope = defaultScope
	}
	code := randomToken("4/sim-", 16)
	s.mu.Lock()
	a := s.accounts[strings.ToLower(email)]
	if a == nil {
		a = s.newAccountLocked(AccountSpec{Email: email, TierID: "free-tier"})
	}
	s.codes[code] = &authCode{acct: a, clientID: q.Get("client_id"), redirectURI: redirect, challenge: q.Get("code_challenge"),
		scope: scope, expires: s.clk.Now().Add(10 * time.Minute)}
	s.mu.Unlock()
	out.Set("code", code)
	out.Set("scope", scope)
	target.RawQuery = out.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
}

type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// client returns the id of the client whose credentials (HTTP Basic or
// the form) the request carries, and whether they are right.
func (s *Server) client(r *http.Request) (string, bool) {
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 form-encodes Basic credentials; golang.org/x/oauth2 does so.
		if v, err := url.QueryUnescape(id); err == nil {
			id = v
		}
		if v, err := url.QueryUnescape(secret); err == nil {
			secret = v
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	s.mu.RLock()
	c, ok := s.clients[id]
	s.mu.RUnlock()
	return id, ok && subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) == 1
}

// handleToken is the token endpoint: authorization_code (with PKCE) and
// refresh_token grants.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.counts.add("", "token")
		writePlainJSON(w, http.StatusMethodNotAllowed, oauthError{"invalid_request", "The token endpoint takes POST."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		s.counts.add("", "token")
		writePlainJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "Malformed form body."})
		return
	}
	client, ok := s.client(r)
	if !ok {
		s.counts.add("", "token")
		writePlainJSON(w, http.StatusUnauthorized, oauthError{"invalid_client", "The OAuth client was not found."})
		return
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "refresh_token":
		s.refreshGrant(w, r, client)
	case "authorization_code":
		s.codeGrant(w, r, client)
	default:
		s.counts.add("", "token")
		writePlainJSON(w, http.StatusBadRequest, oauthError{"unsupported_grant_type", "Invalid grant_type: " + gt})
	}
}

func (s *Server) refreshGrant(w http.ResponseWriter, r *http.Request, client string) {
	rt := r.PostForm.Get("refresh_token")
	s.mu.Lock()
	rec, ok := s.refresh[rt]
	a := rec.acct
	var access string
	if ok && rec.client == client {
		access = s.issueAccessLocked(a, client)
	}
	s.mu.Unlock()
	switch {
	case !ok:
		s.counts.add("", "token")
		writePlainJSON(w, http.StatusBadRequest, oauthError{"invalid_grant", "Token has been expired or revoked."})
		return
	case rec.client != client:
		// A refresh token refreshes only with the client that issued it.
		s.counts.add(a.email, "token")
		writePlainJSON(w, http.StatusUnauthorized, oauthError{"unauthorized_client", "Unauthorized"})
		return
	}
	s.counts.add(a.email, "token")
	writePlainJSON(w, http.StatusOK, tokenResponse{AccessToken: access, ExpiresIn: s.expiresIn(), Scope: defaultScope, TokenType: "Bearer"})
}

func (s *Server) codeGrant(w http.ResponseWriter, r *http.Request, client string) {
	f := r.PostForm
	code := f.Get("code")
	s.mu.Lock()
	c := s.codes[code]
	delete(s.codes, code) // single use, even when the exchange fails
	s.mu.Unlock()
	bad := func(desc string) {
		s.counts.add("", "token")
		writePlainJSON(w, http.StatusBadRequest, oauthError{"invalid_grant", desc})
	}
	switch {
	case c == nil:
		bad("Malformed auth code.")
		return
	case !s.clk.Now().Before(c.expires):
		bad("Auth code has expired.")
		return
	case f.Get("redirect_uri") != c.redirectURI:
		bad("Bad Request: redirect_uri does not match.")
		return
	case c.clientID != client:
		bad("The code was issued to another client.")
		return
	}
	sum := sha256.Sum256([]byte(f.Get("code_verifier")))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
		bad("Invalid code verifier.")
		return
	}
	s.mu.Lock()
	refresh := s.issueRefreshLocked(c.acct, client)
	access := s.issueAccessLocked(c.acct, client)
	s.mu.Unlock()
	s.counts.add(c.acct.email, "token")
	writePlainJSON(w, http.StatusOK, tokenResponse{AccessToken: access, ExpiresIn: s.expiresIn(), RefreshToken: refresh, Scope: c.scope, TokenType: "Bearer"})
}

// expiresIn is the expires_in a token answer gives: a second short of the
// TTL, as Google answers 3599 for its one-hour tokens.
func (s *Server) expiresIn() int {
	n := int(s.opts.AccessTokenTTL/time.Second) - 1
	return max(n, 1)
}

type userInfo struct {
	ID            string `json:"id"`
	Email         string `json:"email"`
	VerifiedEmail bool   `json:"verified_email"`
	Name          string `json:"name"`
	Picture       string `json:"picture"`
}

// handleUserInfo answers who owns the bearer token.
func (s *Server) handleUserInfo(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		token = r.URL.Query().Get("access_token")
	}
	a, valid, _ := s.bearer(token)
	email := ""
	if a != nil {
		email = a.email
	}
	s.counts.add(email, "userinfo")
	if !valid {
		writeGoogleError(w, http.StatusUnauthorized, "UNAUTHENTICATED",
			"Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return
	}
	local, _, _ := strings.Cut(a.email, "@")
	writePlainJSON(w, http.StatusOK, userInfo{ID: a.id, Email: a.email, VerifiedEmail: true, Name: local,
		Picture: "https://lh3.googleusercontent.com/a/sim-" + a.id})
}
