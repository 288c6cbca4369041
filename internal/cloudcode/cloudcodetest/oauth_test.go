package cloudcodetest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

const redirectURI = "http://127.0.0.1:8085/oauth-callback"

func oauthConfig(srv *cloudcodetest.Server, secret string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     cloudcodetest.DefaultClientID,
		ClientSecret: secret,
		Endpoint:     oauth2.Endpoint{AuthURL: srv.AuthURL(), TokenURL: srv.TokenURL()},
		RedirectURL:  redirectURI,
		Scopes:       []string{"https://www.googleapis.com/auth/cloud-platform", "https://www.googleapis.com/auth/userinfo.email"},
	}
}

// userInfo asks the userinfo endpoint who owns token.
func userInfo(t *testing.T, srv *cloudcodetest.Server, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.UserInfoURL(), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, m
}

func TestRefreshTokenGrant(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "refresh@example.com", TierID: "g1-pro-tier"})
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, s.srv.Client())
	cfg := oauthConfig(s.srv, cloudcodetest.DefaultClientSecret)

	// An expired token forces a refresh.
	tok, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: acct.RefreshToken, Expiry: start.Add(-time.Minute)}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.AccessToken == acct.AccessToken || tok.TokenType != "Bearer" ||
		tok.ExpiresIn != 3599 || tok.RefreshToken != acct.RefreshToken {
		t.Errorf("token = %+v: want a new Bearer access token for 3599 s and the old refresh token kept", tok)
	}
	// The refresh answer carries no refresh_token of its own.
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {acct.RefreshToken},
		"client_id": {cloudcodetest.DefaultClientID}, "client_secret": {cloudcodetest.DefaultClientSecret}}
	resp, err := s.srv.Client().PostForm(s.srv.TokenURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	json.NewDecoder(resp.Body).Decode(&raw)
	resp.Body.Close()
	if _, has := raw["refresh_token"]; has || raw["access_token"] == nil {
		t.Errorf("refresh answer %v: want access_token and no refresh_token", raw)
	}

	status, info := userInfo(t, s.srv, tok.AccessToken)
	if status != http.StatusOK || info["email"] != acct.Email || info["verified_email"] != true || info["id"] == "" {
		t.Errorf("userinfo = %d %v", status, info)
	}
	if _, err := s.client.LoadCodeAssist(context.Background(), tok.AccessToken); err != nil {
		t.Errorf("refreshed token refused by v1internal: %v", err)
	}
	if got := s.srv.Requests(acct.Email, "token"); got != 2 {
		t.Errorf("token requests = %d, want 2", got)
	}
	if got := s.srv.Requests(acct.Email, "userinfo"); got != 1 {
		t.Errorf("userinfo requests = %d, want 1", got)
	}

	s.srv.RevokeRefreshToken(acct.Email)
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: acct.RefreshToken}).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || re.ErrorDescription != "Token has been expired or revoked." || re.Response.StatusCode != http.StatusBadRequest {
		t.Errorf("after revocation: %v, want 400 invalid_grant", err)
	}
	// Access tokens already issued keep working until they expire.
	if _, err := s.client.LoadCodeAssist(context.Background(), tok.AccessToken); err != nil {
		t.Errorf("revoking the refresh token killed the access token: %v", err)
	}

	_, err = oauthConfig(s.srv, "wrong-secret").TokenSource(ctx, &oauth2.Token{RefreshToken: acct.RefreshToken}).Token()
	if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong client secret: %v, want 401 invalid_client", err)
	}
	if status, _ := userInfo(t, s.srv, "ya29.nobody"); status != http.StatusUnauthorized {
		t.Errorf("userinfo with an unknown token: %d", status)
	}
}

// authorize follows the authorization endpoint without following its
// redirect and returns the redirect's query, or the error status.
func authorize(t *testing.T, srv *cloudcodetest.Server, authURL string) (int, url.Values) {
	t.Helper()
	hc := &http.Client{Transport: srv.Client().Transport, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return resp.StatusCode, nil
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirectURI {
		t.Errorf("redirected to %s, want %s", got, redirectURI)
	}
	return resp.StatusCode, loc.Query()
}

func TestAuthorizationCodeFlowWithPKCE(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, s.srv.Client())
	cfg := oauthConfig(s.srv, cloudcodetest.DefaultClientSecret)
	s.srv.SetNextLogin("new-user@example.com")

	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("state-123", oauth2.AccessTypeOffline, oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("prompt", "consent"))
	status, q := authorize(t, s.srv, authURL)
	if status != http.StatusFound || q.Get("state") != "state-123" || q.Get("code") == "" {
		t.Fatalf("authorize: %d %v", status, q)
	}
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || tok.AccessToken == "" {
		t.Fatalf("exchange gave %+v, want both tokens", tok)
	}
	if _, info := userInfo(t, s.srv, tok.AccessToken); info["email"] != "new-user@example.com" {
		t.Errorf("logged in as %v", info["email"])
	}
	// The new account exists, on the free tier, and its refresh token works.
	sub, err := s.client.LoadCodeAssist(context.Background(), tok.AccessToken)
	if err != nil || sub.Tier != cloudcode.TierFree {
		t.Errorf("new account: %+v, %v; want FREE", sub, err)
	}
	if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Errorf("refresh with the new refresh token: %v", err)
	}
	// A code is good for one exchange only.
	if _, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); err == nil {
		t.Error("a code was exchanged twice")
	}

	// A wrong verifier or redirect URI is refused.
	_, q = authorize(t, s.srv, authURL)
	if _, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Error("exchange with the wrong PKCE verifier succeeded")
	}
	_, q = authorize(t, s.srv, authURL)
	other := *cfg
	other.RedirectURL = "http://127.0.0.1:9999/oauth-callback"
	if _, err := other.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); err == nil {
		t.Error("exchange with another redirect_uri succeeded")
	}
	if got := s.srv.Requests("new-user@example.com", "authorize"); got != 3 {
		t.Errorf("authorize requests = %d, want 3", got)
	}

	s.srv.DenyAuthorization(true)
	status, q = authorize(t, s.srv, authURL)
	if status != http.StatusFound || q.Get("error") != "access_denied" || q.Get("state") != "state-123" || q.Has("code") {
		t.Errorf("denied authorization: %d %v", status, q)
	}
}

func TestAuthorizationRefusesBadRequests(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	cfg := oauthConfig(s.srv, cloudcodetest.DefaultClientSecret)
	verifier := oauth2.GenerateVerifier()
	good := cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier))
	tests := []struct {
		name   string
		edit   func(q url.Values)
		status int
	}{
		{"unknown client", func(q url.Values) { q.Set("client_id", "someone-else") }, http.StatusUnauthorized},
		{"remote redirect", func(q url.Values) { q.Set("redirect_uri", "https://evil.example.com/cb") }, http.StatusBadRequest},
		{"token response type", func(q url.Values) { q.Set("response_type", "token") }, http.StatusBadRequest},
		{"no PKCE", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, http.StatusBadRequest},
		{"plain PKCE", func(q url.Values) { q.Set("code_challenge_method", "plain") }, http.StatusBadRequest},
		{"localhost redirect", func(q url.Values) { q.Set("redirect_uri", "http://localhost:4000/cb") }, http.StatusFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, _ := url.Parse(good)
			q := u.Query()
			tt.edit(q)
			u.RawQuery = q.Encode()
			hc := &http.Client{Transport: s.srv.Client().Transport, CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			}}
			resp, err := hc.Get(u.String())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if loc := resp.Header.Get("Location"); tt.status != http.StatusFound && strings.Contains(loc, "evil") {
				t.Errorf("redirected to an untrusted URI %s", loc)
			}
		})
	}
}

// A refresh token refreshes only with the client that issued it: another
// configured client gets unauthorized_client, an unknown one
// invalid_client. A client Google refuses the API to (one registered in
// an ordinary Cloud project) gets tokens, but every v1internal call with
// them answers 403 SERVICE_DISABLED.
func TestRefreshTokensBelongToTheirClient(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	s.srv.AddClient(cloudcodetest.OAuthClient{ID: "ag-client", Secret: "ag-secret"})
	s.srv.AddClient(cloudcodetest.OAuthClient{ID: "byo-client", Secret: "byo-secret", Refused: true})
	imported := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "imported@example.com", TierID: "g1-pro-tier", ClientID: "ag-client"})
	own := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "own@example.com", TierID: "g1-pro-tier", ClientID: "byo-client"})
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, s.srv.Client())
	cfg := func(id, secret string) *oauth2.Config {
		return &oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: oauth2.Endpoint{TokenURL: s.srv.TokenURL(), AuthStyle: oauth2.AuthStyleInParams}}
	}
	refresh := func(c *oauth2.Config, rt string) (*oauth2.Token, error) {
		return c.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
	}

	tok, err := refresh(cfg("ag-client", "ag-secret"), imported.RefreshToken)
	if err != nil {
		t.Fatalf("refresh with the issuing client: %v", err)
	}
	if _, err := s.client.LoadCodeAssist(context.Background(), tok.AccessToken); err != nil {
		t.Errorf("a working client's token refused: %v", err)
	}
	var re *oauth2.RetrieveError
	_, err = refresh(cfg(cloudcodetest.DefaultClientID, cloudcodetest.DefaultClientSecret), imported.RefreshToken)
	if !errors.As(err, &re) || re.ErrorCode != "unauthorized_client" || re.Response.StatusCode != http.StatusUnauthorized {
		t.Errorf("refresh with another known client: %v, want 401 unauthorized_client", err)
	}
	_, err = refresh(cfg("nobody", "x"), imported.RefreshToken)
	if !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		t.Errorf("refresh with an unknown client: %v, want invalid_client", err)
	}

	tok, err = refresh(cfg("byo-client", "byo-secret"), own.RefreshToken)
	if err != nil {
		t.Fatalf("refresh with a refused client still works: %v", err)
	}
	if status, info := userInfo(t, s.srv, tok.AccessToken); status != http.StatusOK || info["email"] != own.Email {
		t.Errorf("userinfo with a refused client's token: %d %v (userinfo is not the Cloud Code API)", status, info)
	}
	_, err = s.client.FetchAvailableModels(context.Background(), tok.AccessToken, own.Project)
	fe := asErr[*cloudcode.ForbiddenError](t, err)
	if fe.Reason != "SERVICE_DISABLED" || !strings.Contains(fe.Message, "has not been used in project") {
		t.Errorf("refused client: %+v, want SERVICE_DISABLED naming the project", fe)
	}
	if got := s.srv.AccessToken(imported.Email); got == "" {
		t.Error("AccessToken helper gave nothing")
	}
}
