package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/store"
)

// browser plays the user's browser: it fetches the authorization URL and
// lands on the loopback callback, optionally tampering with the redirect.
type browser struct {
	t      *testing.T
	tamper func(u *url.URL) // nil: follow the redirect as is
	opened []string
}

// open is LoginOptions.OpenBrowser. Login's callback server is already
// listening when it is called, so the whole round trip can run inline.
func (b *browser) open(authURL string) error {
	b.opened = append(b.opened, authURL)
	loc, err := authorize(authURL)
	if err != nil {
		return err
	}
	if b.tamper != nil {
		b.tamper(loc)
	}
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	resp, err := c.Get(loc.String())
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// authorize fetches the authorization URL and returns where the
// authorization server redirects the browser (the loopback callback).
func authorize(authURL string) (*url.URL, error) {
	c := &http.Client{
		Transport:     &http.Transport{},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer c.CloseIdleConnections()
	resp, err := c.Get(authURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusFound {
		return nil, fmt.Errorf("authorize: HTTP %d: %s", resp.StatusCode, body)
	}
	return url.Parse(resp.Header.Get("Location"))
}

func (e *env) loginOptions(b *browser, out io.Writer) LoginOptions {
	if out == nil {
		out = io.Discard
	}
	opt := LoginOptions{
		Config:     e.cfg,
		Store:      e.st,
		CodeAssist: e.cc,
		Out:        out,
		HTTPClient: e.hc,
		Clock:      e.clk,
		Logger:     e.log,
		Timeout:    30 * time.Second,
	}
	if b != nil {
		opt.OpenBrowser = b.open
	}
	return opt
}

func TestLoginStoresAccountWithProjectAndTier(t *testing.T) {
	e := newEnv(t)
	e.sim.AddAccount(cloudcodetestSpec("pro@example.com", "g1-pro-tier"))
	e.sim.SetNextLogin("pro@example.com")
	b := &browser{t: t}
	var out strings.Builder
	opt := e.loginOptions(b, &out)
	opt.Label = "work"

	got, err := Login(context.Background(), opt)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if len(b.opened) != 1 {
		t.Fatalf("browser opened %d times, want 1", len(b.opened))
	}
	u, _ := url.Parse(b.opened[0])
	q := u.Query()
	for k, want := range map[string]string{
		"access_type": "offline", "prompt": "consent", "code_challenge_method": "S256",
		"client_id": e.cfg.ClientID, "response_type": "code",
	} {
		if q.Get(k) != want {
			t.Errorf("auth URL %s = %q, want %q", k, q.Get(k), want)
		}
	}
	if !strings.HasPrefix(q.Get("redirect_uri"), "http://127.0.0.1:") || !strings.HasSuffix(q.Get("redirect_uri"), CallbackPath) {
		t.Errorf("redirect_uri = %q, want loopback %s", q.Get("redirect_uri"), CallbackPath)
	}
	if len(q.Get("state")) < 32 {
		t.Errorf("state %q too short to be random", q.Get("state"))
	}
	if !strings.Contains(out.String(), b.opened[0]) {
		t.Errorf("the URL was not printed to Out:\n%s", out.String())
	}

	if got.Email != "pro@example.com" || got.Label != "work" || got.Tier != "PRO" || got.TierID != "g1-pro-tier" ||
		got.ProjectID == "" || got.State != store.StateActive {
		t.Errorf("stored account = %+v fields: email %q label %q tier %q/%q project %q state %q",
			got, got.Email, got.Label, got.Tier, got.TierID, got.ProjectID, got.State)
	}
	if got.RefreshToken == "" || got.AccessToken == "" {
		t.Fatal("tokens not stored")
	}
	if want := t0.Add(3599 * time.Second); !got.AccessExpiry.Equal(want) {
		t.Errorf("access expiry = %v, want %v (expires_in on the injected clock)", got.AccessExpiry, want)
	}
	// The stored access token really works upstream.
	if _, err := e.cc.LoadCodeAssist(context.Background(), got.AccessToken); err != nil {
		t.Errorf("stored access token rejected: %v", err)
	}
	assertNoSecrets(t, "login output", out.String(), got.RefreshToken, got.AccessToken)
}

func TestLoginSecondTimeUpdatesInsteadOfDuplicating(t *testing.T) {
	e := newEnv(t)
	e.sim.SetNextLogin("twice@example.com")
	b := &browser{t: t}
	opt := e.loginOptions(b, nil)
	opt.Label = "first"
	first, err := Login(context.Background(), opt)
	if err != nil {
		t.Fatalf("first Login: %v", err)
	}
	// The account's token dies meanwhile.
	if err := e.st.SetState(context.Background(), first.ID, store.StateNeedsLogin, "invalid_grant", "", t0); err != nil {
		t.Fatal(err)
	}
	opt.Label = "" // an empty label keeps the old one
	second, err := Login(context.Background(), opt)
	if err != nil {
		t.Fatalf("second Login: %v", err)
	}
	all, err := e.st.Accounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 {
		t.Fatalf("%d accounts after two logins of one email, want 1", len(all))
	}
	if second.ID != first.ID || second.Label != "first" {
		t.Errorf("second login: id %d label %q, want id %d label %q", second.ID, second.Label, first.ID, "first")
	}
	if second.RefreshToken == first.RefreshToken {
		t.Error("refresh token not updated by the second login")
	}
	if second.State != store.StateActive {
		t.Errorf("state after a new login = %q, want active", second.State)
	}
}

func TestLoginValidationRequired(t *testing.T) {
	e := newEnv(t)
	e.sim.AddAccount(cloudcodetestSpec("verify@example.com", "free-tier"))
	e.sim.FlagValidation("verify@example.com", "https://accounts.google.com/signin/continue?x=1")
	e.sim.SetNextLogin("verify@example.com")
	got, err := Login(context.Background(), e.loginOptions(&browser{t: t}, nil))
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if got.State != store.StateValidationRequired || got.ValidationURL != "https://accounts.google.com/signin/continue?x=1" {
		t.Errorf("state %q url %q, want validation_required with the URL", got.State, got.ValidationURL)
	}
	if got.RefreshToken == "" {
		t.Error("tokens not kept for an account that needs verification")
	}
}

func TestLoginRejectsTamperedState(t *testing.T) {
	e := newEnv(t)
	b := &browser{t: t, tamper: func(u *url.URL) {
		q := u.Query()
		q.Set("state", "forged-"+q.Get("state"))
		u.RawQuery = q.Encode()
	}}
	_, err := Login(context.Background(), e.loginOptions(b, nil))
	if !errors.Is(err, ErrStateMismatch) {
		t.Fatalf("Login error = %v, want ErrStateMismatch", err)
	}
	assertNothingStored(t, e)
	if n := e.sim.TotalRequests("token"); n != 0 {
		t.Errorf("code exchanged %d times despite the state mismatch", n)
	}
}

func TestLoginAccessDenied(t *testing.T) {
	e := newEnv(t)
	e.sim.DenyAuthorization(true)
	_, err := Login(context.Background(), e.loginOptions(&browser{t: t}, nil))
	if !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("Login error = %v, want ErrAccessDenied", err)
	}
	if !strings.Contains(err.Error(), "Google sign-in was denied (access_denied): nothing was stored") {
		t.Errorf("error not plain: %v", err)
	}
	assertNothingStored(t, e)
}

func TestLoginPasteFallback(t *testing.T) {
	tests := []struct {
		name  string
		paste func(loc *url.URL) string
	}{
		{"redirected URL", func(loc *url.URL) string { return loc.String() }},
		{"bare code", func(loc *url.URL) string { return loc.Query().Get("code") }},
		{"after a blank line", func(loc *url.URL) string { return "\n  " + loc.String() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.sim.SetNextLogin("headless@example.com")
			pr, pw := io.Pipe()
			out := newURLCatcher()
			opt := e.loginOptions(nil, out)
			opt.NoBrowser = true
			opt.OpenBrowser = func(string) error { t.Error("browser opened despite NoBrowser"); return nil }
			opt.In = pr

			// The "user": reads the printed URL, signs in on another
			// machine (so the redirect never reaches the loopback), and
			// pastes what the browser shows.
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer pw.Close()
				authURL := <-out.urls
				loc, err := authorize(authURL)
				if err != nil {
					t.Errorf("authorize: %v", err)
					return
				}
				fmt.Fprintln(pw, tt.paste(loc))
			}()
			got, err := Login(context.Background(), opt)
			wg.Wait()
			if err != nil {
				t.Fatalf("Login: %v", err)
			}
			if got.Email != "headless@example.com" || got.RefreshToken == "" {
				t.Errorf("stored %q with refresh token %v", got.Email, got.RefreshToken != "")
			}
		})
	}
}

func TestLoginPastedStateMismatch(t *testing.T) {
	e := newEnv(t)
	out := newURLCatcher()
	opt := e.loginOptions(nil, out)
	opt.NoBrowser = true
	pr, pw := io.Pipe()
	opt.In = pr
	go func() {
		defer pw.Close()
		<-out.urls
		fmt.Fprintln(pw, "http://127.0.0.1:1/oauth-callback?code=4/whatever&state=not-ours")
	}()
	_, err := Login(context.Background(), opt)
	if !errors.Is(err, ErrStateMismatch) {
		t.Fatalf("Login error = %v, want ErrStateMismatch", err)
	}
	assertNothingStored(t, e)
}

func TestLoginTimesOut(t *testing.T) {
	e := newEnv(t)
	opt := e.loginOptions(nil, nil)
	opt.NoBrowser = true
	opt.Timeout = 50 * time.Millisecond
	_, err := Login(context.Background(), opt)
	if err == nil || !strings.Contains(err.Error(), "timed out") || !strings.Contains(err.Error(), "nothing was stored") {
		t.Fatalf("Login error = %v, want a timeout that says nothing was stored", err)
	}
}

func TestLoginWithoutClientSaysHowToConfigure(t *testing.T) {
	e := newEnv(t)
	opt := e.loginOptions(nil, nil)
	opt.Config.ClientSecret = ""
	_, err := Login(context.Background(), opt)
	if !errors.Is(err, ErrNoClient) {
		t.Fatalf("Login error = %v, want ErrNoClient", err)
	}
}

func assertNothingStored(t *testing.T, e *env) {
	t.Helper()
	all, err := e.st.Accounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 0 {
		t.Errorf("%d accounts stored, want none", len(all))
	}
}

// urlCatcher is a LoginOptions.Out that hands the printed authorization
// URL to the test.
type urlCatcher struct {
	mu   sync.Mutex
	buf  strings.Builder
	sent bool
	urls chan string
}

func newURLCatcher() *urlCatcher { return &urlCatcher{urls: make(chan string, 1)} }

func (c *urlCatcher) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if !c.sent {
		for _, f := range strings.Fields(c.buf.String()) {
			if strings.HasPrefix(f, "http://") && strings.Contains(f, "state=") {
				c.sent = true
				c.urls <- f
				break
			}
		}
	}
	return len(p), nil
}
