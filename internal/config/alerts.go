package config

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Alerts says where alerts go (see internal/alert). Every sink is off until
// configured: the desktop sink by Enabled, the webhook by a URL, the command
// by a command line. Each sink has its own event filter.
type Alerts struct {
	Desktop struct {
		Enabled bool     `toml:"enabled"` // false
		Events  []string `toml:"events"`  // ["all"]
	} `toml:"desktop"`
	Webhook struct {
		URL     string        `toml:"url"`     // secret: Slack-style URLs carry their own key
		Format  string        `toml:"format"`  // "json", "ntfy" or "slack"
		Token   string        `toml:"token"`   // secret: sent as Authorization: Bearer
		Events  []string      `toml:"events"`  // ["all"]
		Timeout time.Duration `toml:"timeout"` // 10s per attempt
	} `toml:"webhook"`
	Command struct {
		Run     string        `toml:"run"`     // run by the shell, the event as JSON on stdin
		Events  []string      `toml:"events"`  // ["all"]
		Timeout time.Duration `toml:"timeout"` // 10s per run
	} `toml:"command"`
}

// The webhook body formats alerts.webhook.format accepts.
const (
	WebhookJSON  = "json"
	WebhookNtfy  = "ntfy"
	WebhookSlack = "slack"
)

// AlertsAll is the event filter item that selects every alert kind.
const AlertsAll = "all"

// AlertEventKinds returns the alert kinds an event filter may name (besides
// "all"). internal/alert defines the events themselves; a test there keeps
// the two lists equal, since config cannot import alert.
func AlertEventKinds() []string {
	return []string{
		"low", "exhausted", "reset",
		"pool_exhausted", "pool_reset", "forecast",
		"needs_login", "verification_required", "forbidden", "oauth_client",
	}
}

// alertDefaults sets the alert settings' defaults: every sink off, and
// every event kind for a sink once it is on.
func alertDefaults(a *Alerts) {
	a.Desktop.Events = []string{AlertsAll}
	a.Webhook.Format = WebhookJSON
	a.Webhook.Events = []string{AlertsAll}
	a.Webhook.Timeout = 10 * time.Second
	a.Command.Events = []string{AlertsAll}
	a.Command.Timeout = 10 * time.Second
}

// maxAlertTimeout bounds a sink's per-attempt timeout: an alert that needs
// longer is late enough to be useless, and a stuck sink must not hold its
// queue for long.
const maxAlertTimeout = 5 * time.Minute

// alerts checks the alert settings.
func (v *validator) alerts(a *Alerts) {
	v.alertEvents("alerts.desktop.events", a.Desktop.Events)
	v.alertEvents("alerts.webhook.events", a.Webhook.Events)
	v.alertEvents("alerts.command.events", a.Command.Events)

	if a.Webhook.URL != "" {
		u, err := url.Parse(a.Webhook.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.failValue("alerts.webhook.url", redactedURL(a.Webhook.URL), "want an absolute http:// or https:// URL")
		}
	} else if a.Webhook.Token != "" {
		v.failValue("alerts.webhook.token", "[set]", "set alerts.webhook.url too: the token is only sent to the webhook")
	}
	switch a.Webhook.Format {
	case WebhookJSON, WebhookNtfy, WebhookSlack:
	default:
		v.fail("alerts.webhook.format", `want "json" (quotatui's schema), "ntfy" or "slack"`)
	}
	if strings.ContainsAny(a.Webhook.Token, "\r\n") {
		v.failValue("alerts.webhook.token", "[set]", "must not contain a line break")
	}
	if a.Command.Run != "" && strings.TrimSpace(a.Command.Run) == "" {
		v.fail("alerts.command.run", "must not be blank (leave it empty to turn the command sink off)")
	}
	v.alertTimeout("alerts.webhook.timeout", a.Webhook.Timeout)
	v.alertTimeout("alerts.command.timeout", a.Command.Timeout)
}

// alertEvents checks one sink's event filter.
func (v *validator) alertEvents(key string, events []string) {
	if len(events) == 0 {
		v.fail(key, `want at least one event kind, or "all"`)
		return
	}
	kinds := AlertEventKinds()
	for _, e := range events {
		if e != AlertsAll && !slices.Contains(kinds, e) {
			v.failValue(key, strconv.Quote(e), `unknown event kind; want "all" or any of `+strings.Join(kinds, ", "))
		}
	}
}

func (v *validator) alertTimeout(key string, d time.Duration) {
	if d <= 0 || d > maxAlertTimeout {
		v.fail(key, `must be a positive duration no longer than "5m", such as "10s"`)
	}
}

// redactedURL shows a secret URL's scheme and host only, enough to see
// which endpoint is meant without printing a key in its path or query.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "[set, not a URL]"
	}
	return strconv.Quote(u.Scheme + "://" + u.Host + "/…")
}
