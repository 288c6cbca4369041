package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/quotatui/quotatui/internal/auth"
	"github.com/quotatui/quotatui/internal/config"
)

// DefaultTimeout bounds one delivery attempt of a webhook or a command when
// its options leave the timeout at zero.
const DefaultTimeout = 10 * time.Second

// WebhookOptions configure a Webhook.
type WebhookOptions struct {
	URL string
	// Format is the body: config.WebhookJSON (the Event as JSON, the
	// default), config.WebhookNtfy (the message as text, the title,
	// priority and tags in ntfy's headers) or config.WebhookSlack
	// ({"text": ...}, which Slack, Mattermost and Rocket.Chat accept).
	Format  string
	Token   string        // sent as Authorization: Bearer when set
	Timeout time.Duration // per POST; DefaultTimeout when zero
	// Client sends the POSTs; default a client of its own. Redirects are
	// never followed: a POST turned into a GET would lose the alert.
	Client *http.Client
}

// Webhook POSTs each alert to a URL.
type Webhook struct {
	url     string
	host    string
	format  string
	token   string
	timeout time.Duration
	client  *http.Client
}

// NewWebhook checks o and returns the sink.
func NewWebhook(o WebhookOptions) (*Webhook, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL may hold a key: say what is wrong without it.
		return nil, errors.New("webhook: want an absolute http:// or https:// URL")
	}
	switch o.Format {
	case "":
		o.Format = config.WebhookJSON
	case config.WebhookJSON, config.WebhookNtfy, config.WebhookSlack:
	default:
		return nil, fmt.Errorf("webhook: unknown format %q; want json, ntfy or slack", o.Format)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	c := &http.Client{}
	if o.Client != nil {
		cp := *o.Client
		c = &cp
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Webhook{url: o.URL, host: u.Host, format: o.Format, token: o.Token, timeout: o.Timeout, client: c}, nil
}

// Name returns "webhook <host>": the host only, since the path of a
// Slack-style URL is its key.
func (w *Webhook) Name() string { return "webhook " + w.host }

// Send POSTs e. A network error, a timeout, 408, 429 and 5xx answers are
// worth retrying; any other answer outside 2xx is permanent.
func (w *Webhook) Send(ctx context.Context, e Event) error {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := w.request(ctx, e)
	if err != nil {
		return Permanent(fmt.Errorf("%s: %w", w.Name(), err))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		// *url.Error repeats the whole URL, key included: keep its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%s: no answer within %s", w.Name(), w.timeout)
		}
		return fmt.Errorf("%s: %w", w.Name(), err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return fmt.Errorf("%s answered %s%s", w.Name(), resp.Status, bodyHint(snippet))
	case code >= 300 && code < 400:
		return Permanent(fmt.Errorf("%s answered %s (a redirect, which is not followed); set alerts.webhook.url to the address it points to",
			w.Name(), resp.Status))
	default:
		return Permanent(fmt.Errorf("%s answered %s%s", w.Name(), resp.Status, bodyHint(snippet)))
	}
}

// request builds the POST for e in the webhook's format.
func (w *Webhook) request(ctx context.Context, e Event) (*http.Request, error) {
	var (
		body  []byte
		ctype string
		err   error
	)
	switch w.format {
	case config.WebhookNtfy:
		body, ctype = []byte(e.Message), "text/plain; charset=utf-8"
	case config.WebhookSlack:
		body, err = json.Marshal(map[string]string{"text": slackText(e)})
		ctype = "application/json"
	default:
		body, err = json.Marshal(e)
		ctype = "application/json"
	}
	if err != nil {
		return nil, fmt.Errorf("encode alert: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return nil, errors.New("build request: bad URL")
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("User-Agent", "quotatui-alerts")
	if w.token != "" {
		req.Header.Set("Authorization", "Bearer "+w.token)
	}
	if w.format == config.WebhookNtfy {
		// ntfy's publishing headers; RFC 2047 keeps a non-ASCII title
		// intact, and ntfy decodes it.
		req.Header.Set("Title", mime.QEncoding.Encode("utf-8", oneLine(e.Title)))
		req.Header.Set("Priority", ntfyPriority(e.Severity))
		req.Header.Set("Tags", ntfyTag(e.Severity)+",quotatui,"+string(e.Kind))
		if e.URL != "" {
			req.Header.Set("Click", oneLine(e.URL))
		}
	}
	return req, nil
}

// ntfyPriority maps a severity to ntfy's priority names.
func ntfyPriority(s Severity) string {
	switch s {
	case SeverityCritical:
		return "high"
	case SeverityInfo:
		return "low"
	default:
		return "default"
	}
}

// ntfyTag is the emoji tag ntfy shows in front of the title.
func ntfyTag(s Severity) string {
	switch s {
	case SeverityCritical:
		return "rotating_light"
	case SeverityInfo:
		return "white_check_mark"
	default:
		return "warning"
	}
}

// slackText is the alert in Slack's mrkdwn: the title in bold, the message
// below, and the action link. &, < and > are escaped as Slack requires.
func slackText(e Event) string {
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	t := "*" + esc.Replace(e.Title) + "*\n" + esc.Replace(e.Message)
	if e.URL != "" {
		t += "\n<" + esc.Replace(e.URL) + "|open>"
	}
	return t
}

// oneLine makes s safe as a header value: line breaks become spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

// bodyHint quotes the start of an error answer, without control
// characters or anything that looks like a token.
func bodyHint(b []byte) string {
	s := strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, string(b)))
	if s == "" {
		return ""
	}
	const max = 200
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return ": " + auth.Redact(s)
}
