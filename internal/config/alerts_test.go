package config

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestAlertsFromFileEnvAndFlags(t *testing.T) {
	file := `
[alerts.desktop]
enabled = true
events = ["exhausted", "pool_exhausted"]

[alerts.webhook]
url = "https://ntfy.example/quota-k3y"
format = "ntfy"
token = "tk-s3cret"
timeout = "3s"

[alerts.command]
run = "cat > /tmp/alert.json"
events = ["needs_login"]
`
	c, src, err := load(t, []string{"--alerts-command-timeout", "2s"},
		env{"QUOTATUI_ALERTS_WEBHOOK_EVENTS": "low, reset"}, file)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Alerts
	checks := []struct {
		key       string
		got, want any
		layer     Layer
	}{
		{"alerts.desktop.enabled", a.Desktop.Enabled, true, LayerFile},
		{"alerts.desktop.events", a.Desktop.Events, []string{"exhausted", "pool_exhausted"}, LayerFile},
		{"alerts.webhook.url", a.Webhook.URL, "https://ntfy.example/quota-k3y", LayerFile},
		{"alerts.webhook.format", a.Webhook.Format, "ntfy", LayerFile},
		{"alerts.webhook.token", a.Webhook.Token, "tk-s3cret", LayerFile},
		{"alerts.webhook.events", a.Webhook.Events, []string{"low", "reset"}, LayerEnv},
		{"alerts.webhook.timeout", a.Webhook.Timeout, 3 * time.Second, LayerFile},
		{"alerts.command.run", a.Command.Run, "cat > /tmp/alert.json", LayerFile},
		{"alerts.command.events", a.Command.Events, []string{"needs_login"}, LayerFile},
		{"alerts.command.timeout", a.Command.Timeout, 2 * time.Second, LayerFlag},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.key, ck.got, ck.want)
		}
		if l := src.Of(ck.key).Layer; l != ck.layer {
			t.Errorf("%s from %v, want layer %v", ck.key, src.Of(ck.key), ck.layer)
		}
	}

	// The webhook URL and token are secrets: `quotatui config` shows
	// only that they are set.
	var b bytes.Buffer
	if err := Print(&b, c, src); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"quota-k3y", "tk-s3cret"} {
		if strings.Contains(b.String(), secret) {
			t.Errorf("Print leaked %q:\n%s", secret, b.String())
		}
	}
	for _, want := range []string{"alerts.webhook.url = [set]", "alerts.webhook.token = [set]", `alerts.command.run = "cat > /tmp/alert.json"`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("Print lacks %q:\n%s", want, b.String())
		}
	}
}

func TestAlertsValidate(t *testing.T) {
	tests := []struct {
		name   string
		env    env
		file   string
		key    string
		errMsg string
	}{
		{"unknown event kind", env{"QUOTATUI_ALERTS_DESKTOP_EVENTS": "low,exhaustd"}, "", "alerts.desktop.events",
			`alerts.desktop.events = "exhaustd": unknown event kind; want "all" or any of low, exhausted, reset, pool_exhausted, pool_reset, forecast, needs_login, verification_required, forbidden, oauth_client (from env QUOTATUI_ALERTS_DESKTOP_EVENTS)`},
		{"empty filter", nil, "[alerts.command]\nevents = []\n", "alerts.command.events",
			`alerts.command.events = []: want at least one event kind, or "all" (from file `},
		{"webhook url relative", env{"QUOTATUI_ALERTS_WEBHOOK_URL": "hooks.slack.com/services/T0/B0/s3cret"}, "", "alerts.webhook.url",
			`alerts.webhook.url = [set, not a URL]: want an absolute http:// or https:// URL (from env QUOTATUI_ALERTS_WEBHOOK_URL)`},
		{"webhook url ftp", env{"QUOTATUI_ALERTS_WEBHOOK_URL": "ftp://files.example/s3cret"}, "", "alerts.webhook.url",
			`alerts.webhook.url = "ftp://files.example/…": want an absolute http:// or https:// URL`},
		{"webhook format", env{"QUOTATUI_ALERTS_WEBHOOK_FORMAT": "discord"}, "", "alerts.webhook.format",
			`alerts.webhook.format = "discord": want "json" (quotatui's schema), "ntfy" or "slack" (from env QUOTATUI_ALERTS_WEBHOOK_FORMAT)`},
		{"token without url", env{"QUOTATUI_ALERTS_WEBHOOK_TOKEN": "s3cret"}, "", "alerts.webhook.token",
			"alerts.webhook.token = [set]: set alerts.webhook.url too"},
		{"blank command", nil, "[alerts.command]\nrun = \"   \"\n", "alerts.command.run",
			"alerts.command.run = \"   \": must not be blank"},
		{"webhook timeout zero", env{"QUOTATUI_ALERTS_WEBHOOK_TIMEOUT": "0s"}, "", "alerts.webhook.timeout",
			`alerts.webhook.timeout = "0s": must be a positive duration no longer than "5m"`},
		{"command timeout huge", env{"QUOTATUI_ALERTS_COMMAND_TIMEOUT": "1h"}, "", "alerts.command.timeout",
			`alerts.command.timeout = "1h": must be a positive duration no longer than "5m"`},
		{"filter as a string in the file", nil, "[alerts.webhook]\nevents = \"low\"\n", "",
			"want a list of strings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := load(t, nil, tt.env, tt.file)
			if err == nil {
				t.Fatal("Load accepted a bad alert setting")
			}
			if !strings.Contains(err.Error(), tt.errMsg) {
				t.Errorf("error %q\nlacks %q", err, tt.errMsg)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows a secret", err)
			}
			if tt.key != "" {
				var se *SettingError
				if !errors.As(err, &se) || se.Key != tt.key {
					t.Errorf("error %v: want a *SettingError for %s", err, tt.key)
				}
			}
		})
	}
}

func TestAlertsOffByDefault(t *testing.T) {
	c, _, err := load(t, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	a := c.Alerts
	if a.Desktop.Enabled || a.Webhook.URL != "" || a.Command.Run != "" {
		t.Errorf("a sink is on by default: %+v", a)
	}
}
