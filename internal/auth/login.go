package auth

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/store"
)

// CallbackPath is the loopback redirect path Google sends the browser to.
const CallbackPath = "/oauth-callback"

// DefaultLoginTimeout is how long Login waits for the user by default.
const DefaultLoginTimeout = 5 * time.Minute

// loginCallsTimeout bounds the exchange, userinfo, loadCodeAssist and the
// store writes that follow the user's sign-in.
const loginCallsTimeout = time.Minute

// CodeAssistLoader reads an account's project and tier after login.
// *cloudcode.Client satisfies it.
type CodeAssistLoader interface {
	LoadCodeAssist(ctx context.Context, accessToken string) (*cloudcode.Subscription, error)
}

// LoginOptions configures Login.
type LoginOptions struct {
	Config     OAuthConfig
	Store      Store
	CodeAssist CodeAssistLoader // nil: project and tier are left to the first sync
	Label      string           // label for a new account (an existing label is kept when empty)

	// Out receives the authorization URL and progress; nil discards.
	Out io.Writer
	// In, when non-nil, is read for one line at the same time as the
	// loopback listener waits: a headless user pastes the redirected URL
	// or the bare code. Whichever arrives first wins. The read cannot be
	// interrupted, so the goroutine reading In ends only when In yields a
	// line or EOF.
	In io.Reader
	// NoBrowser only prints the URL; otherwise OpenBrowser is called too.
	NoBrowser   bool
	OpenBrowser func(url string) error

	Timeout    time.Duration // default DefaultLoginTimeout
	ListenAddr string        // default "127.0.0.1:0"
	HTTPClient *http.Client  // token, userinfo; default http.DefaultClient
	Clock      clock.Clock   // default clock.Real{}
	Logger     *slog.Logger  // default: discard
}

// ErrAccessDenied is wrapped by Login's error when the user declined.
var ErrAccessDenied = errors.New("Google sign-in was denied (access_denied): nothing was stored")

// ErrStateMismatch is wrapped by Login's error when the redirect carried a
// state other than the one this login sent.
var ErrStateMismatch = errors.New("OAuth state mismatch: the redirect did not come from this login (possible forgery); nothing was stored")

// Login signs one Google account in with the installed-app flow (PKCE,
// loopback redirect, random state), reads its email, project and tier,
// and stores it: an account that already exists gets its tokens updated.
// It returns the stored account. Nothing is stored unless every step up to
// the userinfo lookup succeeds.
func Login(ctx context.Context, opt LoginOptions) (store.Account, error) {
	if err := opt.Config.Check(); err != nil {
		return store.Account{}, err
	}
	if opt.Store == nil {
		return store.Account{}, errors.New("login: no store")
	}
	opt = loginDefaults(opt)
	// The timeout is the user's time to sign in; the calls after it get
	// their own budget, so a slow sign-in does not starve the exchange.
	waitCtx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()

	ln, err := net.Listen("tcp", opt.ListenAddr)
	if err != nil {
		return store.Account{}, fmt.Errorf("login: listen for the OAuth redirect: %w", err)
	}
	redirect := "http://" + ln.Addr().String() + CallbackPath
	conf := opt.Config.OAuth2(redirect)
	state, err := randomState()
	if err != nil {
		ln.Close()
		return store.Account{}, fmt.Errorf("login: %w", err)
	}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL(state, oauth2.AccessTypeOffline, oauth2.ApprovalForce,
		oauth2.S256ChallengeOption(verifier))

	results := make(chan callbackResult, 2)
	srv := &http.Server{
		Handler:           callbackHandler(results),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(opt.Logger.Handler(), slog.LevelDebug),
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln) // returns http.ErrServerClosed after Close below
	}()
	defer func() {
		srv.Close()
		<-served
	}()

	fmt.Fprintf(opt.Out, "Open this URL in a browser and sign in with the Google account to add:\n\n  %s\n\n", authURL)
	var pasted <-chan string
	if opt.In != nil {
		fmt.Fprintln(opt.Out, "If the browser is on another machine, paste the address it was redirected to (or the code) here and press Enter.")
		stop := make(chan struct{})
		defer close(stop)
		pasted = readLines(opt.In, stop)
	}
	if !opt.NoBrowser && opt.OpenBrowser != nil {
		if err := opt.OpenBrowser(authURL); err != nil {
			fmt.Fprintf(opt.Out, "Could not open a browser (%v); open the URL above yourself.\n", err)
		}
	}
	opt.Logger.Info("login started", "redirect", redirect)

	res, err := awaitSignIn(ctx, waitCtx, opt, results, pasted)
	if err != nil {
		return store.Account{}, err
	}
	code, err := res.check(state)
	if err != nil {
		opt.Logger.Warn("login rejected", "err", err)
		return store.Account{}, fmt.Errorf("login: %w", err)
	}

	ctx, cancelCalls := context.WithTimeout(ctx, loginCallsTimeout)
	defer cancelCalls()
	hctx := context.WithValue(ctx, oauth2.HTTPClient, opt.HTTPClient)
	start := opt.Clock.Now()
	tok, err := conf.Exchange(hctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return store.Account{}, fmt.Errorf("login: exchange the authorization code: %w: nothing was stored", redactErr(err))
	}
	if tok.RefreshToken == "" {
		return store.Account{}, errors.New("login: Google returned no refresh token (revoke quotatui's access at https://myaccount.google.com/permissions and log in again): nothing was stored")
	}
	expiry := tokenExpiry(tok, start)
	email, err := fetchEmail(ctx, opt.HTTPClient, opt.Config.WithDefaults().UserInfoURL, tok.AccessToken)
	if err != nil {
		return store.Account{}, fmt.Errorf("login: %w: nothing was stored", err)
	}

	acct := store.Account{
		Email:        email,
		Label:        opt.Label,
		RefreshToken: tok.RefreshToken,
		AccessToken:  tok.AccessToken,
		AccessExpiry: expiry,
		// The token refreshes only with the client that issued it.
		OAuthClientID: opt.Config.ClientID,
		// State is left empty: the store cures needs_login on a new
		// refresh token and keeps a user's "disabled"; see below.
	}
	state2, reason, vurl := store.StateActive, "", ""
	if opt.CodeAssist != nil {
		sub, err := opt.CodeAssist.LoadCodeAssist(ctx, tok.AccessToken)
		var vre *cloudcode.ValidationRequiredError
		switch {
		case errors.As(err, &vre):
			state2, reason, vurl = store.StateValidationRequired, "Google asks to verify the account", vre.URL
		case err != nil:
			// The login itself worked: keep it, and let the first sync
			// retry the tier rather than making the user sign in again.
			fmt.Fprintf(opt.Out, "Warning: could not read the project and tier yet (%v); the next sync retries.\n", redactErr(err))
		default:
			acct.ProjectID, acct.TierID, acct.TierName = sub.ProjectID, sub.TierID, sub.TierName
			acct.Tier = sub.Tier.String()
			acct.TierCheckedAt = opt.Clock.Now()
			if sub.ValidationRequired {
				state2, reason, vurl = store.StateValidationRequired, "Google asks to verify the account", sub.ValidationURL
			}
		}
	}

	stored, err := opt.Store.UpsertAccounts(ctx, []store.Account{acct})
	if err != nil {
		return store.Account{}, fmt.Errorf("login: save account %s: %w", email, err)
	}
	if len(stored) != 1 {
		return store.Account{}, fmt.Errorf("login: save account %s: store returned %d rows", email, len(stored))
	}
	got := stored[0]
	// A new login is what revives an account whose refresh token died, so
	// the engine's state follows the login; the user's own "disabled" is
	// another column and stays.
	if got.State != state2 || got.StateReason != reason {
		if err := opt.Store.SetState(ctx, got.ID, state2, reason, vurl, opt.Clock.Now()); err != nil {
			return store.Account{}, fmt.Errorf("login: set state of %s: %w", email, err)
		}
		if got, err = opt.Store.Account(ctx, got.ID); err != nil {
			return store.Account{}, fmt.Errorf("login: reload %s: %w", email, err)
		}
	}
	opt.Logger.Info("login succeeded", "account", got.ID, "email", got.Email, "tier", got.Tier)
	fmt.Fprintf(opt.Out, "Signed in as %s (account %d).\n", got.Email, got.ID)
	return got, nil
}

func loginDefaults(opt LoginOptions) LoginOptions {
	if opt.Out == nil {
		opt.Out = io.Discard
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultLoginTimeout
	}
	if opt.ListenAddr == "" {
		opt.ListenAddr = "127.0.0.1:0"
	}
	if opt.HTTPClient == nil {
		opt.HTTPClient = http.DefaultClient
	}
	if opt.Clock == nil {
		opt.Clock = clock.Real{}
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	return opt
}

// randomState returns 32 random bytes, base64url encoded.
func randomState() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random state: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// callbackResult is what came back from the browser or the terminal.
type callbackResult struct {
	code, state, errCode, errDesc string
	pasted                        bool // from In: a bare code carries no state
}

// check validates the result against the state this login sent and
// returns the authorization code.
func (r callbackResult) check(state string) (string, error) {
	switch {
	case r.errCode == "access_denied":
		return "", ErrAccessDenied
	case r.errCode != "":
		msg := "Google sign-in failed (" + Redact(r.errCode) + ")"
		if r.errDesc != "" {
			msg += ": " + Redact(r.errDesc)
		}
		return "", errors.New(msg + ": nothing was stored")
	case r.code == "":
		return "", errors.New("the redirect carried no authorization code: nothing was stored")
	case r.state != state && !(r.pasted && r.state == ""):
		// A pasted bare code has no state to compare; the user copied it
		// from their own browser, which is what state protects anyway.
		return "", ErrStateMismatch
	}
	return r.code, nil
}

// parseRedirect reads a callback query.
func parseRedirect(q url.Values) callbackResult {
	return callbackResult{
		code:    q.Get("code"),
		state:   q.Get("state"),
		errCode: q.Get("error"),
		errDesc: q.Get("error_description"),
	}
}

// callbackHandler answers the browser and hands the first result over.
func callbackHandler(results chan<- callbackResult) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(CallbackPath, func(w http.ResponseWriter, r *http.Request) {
		res := parseRedirect(r.URL.Query())
		select {
		case results <- res:
		default: // a result already won; later redirects are ignored
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch {
		case res.errCode != "":
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, "<html><body><h1>quotatui: sign-in was not completed (%s).</h1><p>You can close this window.</p></body></html>", html.EscapeString(res.errCode))
		default:
			fmt.Fprint(w, "<html><body><h1>quotatui: sign-in received.</h1><p>You can close this window and return to the terminal.</p></body></html>")
		}
	})
	return mux
}

// pastePrompt asks again for what to paste.
const pastePrompt = "Paste the address the browser was redirected to (or the code) and press Enter; Ctrl-C gives up:"

// awaitSignIn waits for the browser's redirect or a pasted line, until
// the user's time runs out (waitCtx) or the login is interrupted (ctx). A
// blank line, or one that is neither a redirect address nor a code, is
// refused before anything is sent, and the prompt repeats. The end of the
// input ends a login that has no browser to wait for.
func awaitSignIn(ctx, waitCtx context.Context, opt LoginOptions, results <-chan callbackResult, pasted <-chan string) (callbackResult, error) {
	for {
		select {
		case res := <-results:
			return res, nil
		case line, ok := <-pasted:
			switch {
			case !ok && opt.NoBrowser:
				return callbackResult{}, errors.New("login: end of input before a code was pasted: nothing was stored")
			case !ok:
				pasted = nil // keep waiting for the browser
			case strings.TrimSpace(line) == "":
				fmt.Fprintln(opt.Out, pastePrompt)
			default:
				res, err := parsePasted(strings.TrimSpace(line))
				if err != nil {
					fmt.Fprintf(opt.Out, "Not sent: %v.\n%s\n", err, pastePrompt)
					continue
				}
				return res, nil
			}
		case <-waitCtx.Done():
			switch {
			case ctx.Err() == nil:
				return callbackResult{}, fmt.Errorf("login: timed out after %s waiting for the browser redirect or a pasted code: nothing was stored", opt.Timeout)
			case errors.Is(ctx.Err(), context.Canceled):
				return callbackResult{}, errors.New("login: interrupted: nothing was stored")
			}
			return callbackResult{}, fmt.Errorf("login: %w: nothing was stored", ctx.Err())
		}
	}
}

// readLines sends in's lines on the returned channel, closed at the end of
// the input, until stop is closed. The read itself cannot be interrupted:
// the goroutine ends when in yields a line or ends after stop.
func readLines(in io.Reader, stop <-chan struct{}) <-chan string {
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-stop:
				return
			}
		}
	}()
	return lines
}

// codeChars are the characters of an authorization code: Google's look
// like "4/0AeaYSH…" (URL-safe base64 and a slash).
const codeChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/"

// parsePasted understands "http://127.0.0.1:port/oauth-callback?code=…",
// "?code=…&state=…", "code=…&state=…" and a bare code. What is none of
// them is an error saying why, and nothing is sent.
func parsePasted(line string) (callbackResult, error) {
	if i := strings.IndexByte(line, '?'); i >= 0 {
		line = line[i+1:]
	}
	if strings.Contains(line, "=") {
		q, err := url.ParseQuery(line)
		if err != nil {
			return callbackResult{}, fmt.Errorf("cannot read the pasted address: %w", redactErr(err))
		}
		res := parseRedirect(q)
		if res.code == "" && res.errCode == "" {
			return callbackResult{}, errors.New("the address carries no code (paste the one the browser shows after you signed in)")
		}
		res.pasted = true
		if res.code != "" && res.state == "" {
			// A pasted query without state is not a bare code: insist.
			res.pasted = false
		}
		return res, nil
	}
	// A code copied out of an address bar may still be percent-encoded.
	if code, err := url.QueryUnescape(line); err == nil {
		line = code
	}
	if len(line) < 8 || len(line) > 2048 || strings.Trim(line, codeChars) != "" {
		return callbackResult{}, errors.New("that is neither the address the browser was redirected to nor an authorization code")
	}
	return callbackResult{code: line, pasted: true}, nil
}

// fetchEmail asks the userinfo endpoint whose token this is.
func fetchEmail(ctx context.Context, client *http.Client, userInfoURL, accessToken string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, userInfoURL, nil)
	if err != nil {
		return "", fmt.Errorf("userinfo: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("userinfo: %w", redactErr(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("userinfo: read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("userinfo: HTTP %d: %s", resp.StatusCode, Redact(truncate(string(body), 300)))
	}
	var info struct {
		Email string `json:"email"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return "", fmt.Errorf("userinfo: body is not JSON: %w", err)
	}
	email := normalizeEmail(info.Email)
	if !strings.Contains(email, "@") {
		return "", errors.New("userinfo: answer has no email (is the userinfo.email scope granted?)")
	}
	return email, nil
}

// normalizeEmail trims and lower-cases an email: Google addresses are
// case-insensitive and accounts merge by email.
func normalizeEmail(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
