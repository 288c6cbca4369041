package cloudcode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/quotatui/quotatui/internal/clock"
)

// DefaultUserAgent is the User-Agent sent when Config leaves it empty; it
// is what the Antigravity IDE sends.
const DefaultUserAgent = "antigravity/1.13.3 linux/amd64"

// DefaultBaseURLs are the hosts tried in order: daily first, because prod
// answers some accounts with a frozen 100 % placeholder.
var DefaultBaseURLs = []string{
	"https://daily-cloudcode-pa.googleapis.com/v1internal",
	"https://cloudcode-pa.googleapis.com/v1internal",
}

// Body size limits. Error bodies are read only to classify them; typed
// answers are small JSON documents.
const (
	maxErrorBody  = 1 << 20
	maxAnswerBody = 16 << 20
)

// Config configures a Client. The zero value talks to the real hosts with
// http.DefaultClient and the wall clock.
type Config struct {
	BaseURLs   []string     // tried in order; default DefaultBaseURLs
	UserAgent  string       // default DefaultUserAgent
	HTTPClient *http.Client // default http.DefaultClient
	Clock      clock.Clock  // anchors reset times of errors; default clock.Real{}
}

// Client calls the Cloud Code v1internal API. It is safe for concurrent
// use and holds no per-account state: every call takes the access token.
type Client struct {
	baseURLs  []string
	userAgent string
	hc        *http.Client
	clock     clock.Clock
}

// New returns a Client for cfg, filling in defaults.
func New(cfg Config) *Client {
	c := &Client{userAgent: cfg.UserAgent, hc: cfg.HTTPClient, clock: cfg.Clock}
	bases := cfg.BaseURLs
	if len(bases) == 0 {
		bases = DefaultBaseURLs
	}
	for _, b := range bases {
		c.baseURLs = append(c.baseURLs, strings.TrimRight(b, "/"))
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	if c.hc == nil {
		c.hc = http.DefaultClient
	}
	if c.clock == nil {
		c.clock = clock.Real{}
	}
	return c
}

// BaseURLs returns the hosts the client tries, in order.
func (c *Client) BaseURLs() []string { return append([]string(nil), c.baseURLs...) }

// Request is one raw call the proxy forwards. RPC is the method after the
// colon ("generateContent", "streamGenerateContent", "countTokens",
// "loadCodeAssist", any other); Path addresses a resource below the base
// URL instead ("operations/<name>", which Gemini CLI polls while it
// onboards an account). Exactly one of them is set.
type Request struct {
	HTTPMethod  string     // default POST
	RPC         string     // method name after the colon: letters only
	Path        string     // resource path after "<base>/"; each segment is escaped
	Query       url.Values // e.g. alt=sse for streaming
	Body        []byte     // sent as is to every host tried
	AccessToken string     // sent as the bearer token; never logged
	// Header holds extra headers. A User-Agent here overrides the
	// configured one; Authorization is always set from AccessToken.
	Header http.Header
}

// Do sends r to each base URL in order, moving on after a network error,
// 404, 408 or 5xx (never 429, 401 or 403, which are about the account, not
// the host). On 2xx it returns the response with the body unread, so a
// stream is left intact; the caller closes it. On an error status it reads
// (at most 1 MiB) and closes the body and returns (nil, err) where err is
// Classify's verdict on the last host tried. A network failure is a
// *TransientError; a cancelled context is reported as the context's error.
func (c *Client) Do(ctx context.Context, r Request) (*http.Response, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	name := r.name()
	var last error
	for _, base := range c.baseURLs {
		resp, err := c.send(ctx, base, r)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, fmt.Errorf("cloudcode %s: %w", name, ctxErr)
			}
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // the URL is in Message already; keep the cause
			}
			last = &TransientError{Message: fmt.Sprintf("%s %s: %v", name, hostOf(base), err), Err: err}
			continue
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return resp, nil
		}
		body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		if readErr != nil && ctx.Err() != nil {
			return nil, fmt.Errorf("cloudcode %s: %w", name, ctx.Err())
		}
		last = Classify(resp.StatusCode, resp.Header, body, c.clock.Now())
		if !hostFault(resp.StatusCode) {
			return nil, last
		}
	}
	return nil, last
}

// hostFault reports whether a status says the host, not the account, is at
// fault, so the next host is worth trying.
func hostFault(status int) bool {
	return status == http.StatusNotFound || status == http.StatusRequestTimeout || status >= 500
}

// hostOf returns the host of a base URL for error messages.
func hostOf(base string) string {
	if u, err := url.Parse(base); err == nil && u.Host != "" {
		return u.Host
	}
	return base
}

// send makes one attempt against one base URL.
func (c *Client) send(ctx context.Context, base string, r Request) (*http.Response, error) {
	u := base + ":" + r.RPC
	if r.Path != "" {
		u = base + "/" + escapePath(r.Path)
	}
	if len(r.Query) > 0 {
		u += "?" + r.Query.Encode()
	}
	method := r.HTTPMethod
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	for k, vs := range r.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	// Every v1internal POST carries JSON, even an empty one; a GET has none.
	if method != http.MethodGet && method != http.MethodHead && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Del("Authorization")
	if r.AccessToken != "" {
		req.Header.Set("Authorization", "Bearer "+r.AccessToken)
	}
	return c.hc.Do(req)
}

// ErrBadRequestName is returned by Do for a Request whose RPC is not a
// plain method name or whose Path is not a plain relative path: such a
// name would change the URL (a "#", a "?", a line break) rather than name
// a method.
var ErrBadRequestName = errors.New("cloudcode: bad method name or path")

// check refuses a Request that names no method, both a method and a path,
// or a name that is not plain.
func (r Request) check() error {
	switch {
	case r.RPC == "" && r.Path == "":
		return errors.New("cloudcode: request without an RPC method or path")
	case r.RPC != "" && r.Path != "":
		return errors.New("cloudcode: request with both an RPC method and a path")
	case r.RPC != "" && !IsMethodName(r.RPC):
		return fmt.Errorf("%w: method %q", ErrBadRequestName, r.RPC)
	case r.Path != "" && !isPlainPath(r.Path):
		return fmt.Errorf("%w: path %q", ErrBadRequestName, r.Path)
	}
	return nil
}

// name is the method or path, for error messages.
func (r Request) name() string {
	if r.RPC != "" {
		return r.RPC
	}
	return r.Path
}

// IsMethodName reports whether s can be a v1internal method: ASCII
// letters only, as every method Google serves is spelled.
func IsMethodName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// isPlainPath reports whether p is a relative path of plain segments:
// letters, digits, '-', '_' and '.', none empty, none "." or "..".
func isPlainPath(p string) bool {
	if p == "" || len(p) > 512 {
		return false
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
				return false
			}
		}
	}
	return true
}

// escapePath escapes each segment of a path (a no-op for the plain paths
// check lets through; kept so a looser check can never change the URL).
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// typedCall makes a JSON call and parses a 2xx answer with parse. A body
// the parser rejects is a MalformedResponseError carrying the real status.
func typedCall[T any](ctx context.Context, c *Client, rpc, accessToken string, payload any, parse func([]byte) (*T, error)) (*T, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("cloudcode %s: encode request: %w", rpc, err)
	}
	resp, err := c.Do(ctx, Request{RPC: rpc, Body: body, AccessToken: accessToken})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBody))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("cloudcode %s: %w", rpc, ctxErr)
		}
		return nil, &TransientError{Status: resp.StatusCode, Message: fmt.Sprintf("%s: read answer: %v", rpc, err), Err: err}
	}
	v, err := parse(answer)
	var me *MalformedResponseError
	if errors.As(err, &me) {
		me.Status = resp.StatusCode
	}
	return v, err
}

// LoadCodeAssist asks which project and plan the account has.
func (c *Client) LoadCodeAssist(ctx context.Context, accessToken string) (*Subscription, error) {
	payload := map[string]any{"metadata": map[string]string{"ideType": "ANTIGRAVITY"}}
	return typedCall(ctx, c, rpcLoadCodeAssist, accessToken, payload, ParseLoadCodeAssist)
}

// FetchAvailableModels asks for the model catalogue and each model's
// 5-hour quota. The project is always sent: without it the upstream shows
// exhausted accounts at 100 %.
func (c *Client) FetchAvailableModels(ctx context.Context, accessToken, project string) (*ModelCatalog, error) {
	return typedCall(ctx, c, rpcFetchAvailableModels, accessToken, map[string]string{"project": project}, ParseAvailableModels)
}

// RetrieveUserQuotaSummary asks for the grouped 5-hour and weekly buckets.
// The project is sent; the upstream answers 403 without it.
func (c *Client) RetrieveUserQuotaSummary(ctx context.Context, accessToken, project string) (*QuotaSummary, error) {
	return typedCall(ctx, c, rpcQuotaSummary, accessToken, map[string]string{"project": project}, ParseQuotaSummary)
}
