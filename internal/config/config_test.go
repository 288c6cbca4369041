package config

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// env is a fake environment for Load.
type env map[string]string

func (e env) get(k string) string { return e[k] }

// load runs Load with a fresh flag set. When file is not "", it is written
// to a config.toml under a temporary HOME's config dir, the default path.
func load(t *testing.T, args []string, e env, file string) (Config, Sources, error) {
	t.Helper()
	home := t.TempDir()
	if e == nil {
		e = env{}
	}
	if _, ok := e["HOME"]; !ok {
		e["HOME"] = home
	}
	if file != "" {
		p := filepath.Join(home, ".config", "quotatui", "config.toml")
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	flags := Register(fs)
	return Load(fs, flags, args, e.get)
}

func TestDefault(t *testing.T) {
	c := defaults(env{"HOME": "/home/u"}.get)
	want := map[string]any{
		"db":                        "/home/u/.local/share/quotatui/quotatui.db",
		"proxy.listen":              "127.0.0.1:8045",
		"proxy.api_key":             "",
		"proxy.retry_attempts":      3,
		"proxy.body_limit":          int64(32 << 20),
		"proxy.session_idle":        time.Hour,
		"proxy.pre_request_check":   true,
		"proxy.connect_timeout":     10 * time.Second,
		"proxy.first_byte_timeout":  2 * time.Minute,
		"proxy.stream_idle_timeout": time.Minute,
		"proxy.buffer_limit":        int64(64 << 20),
		"proxy.allowed_hosts":       []string{},
		"proxy.allowed_origins":     []string{},
		"upstream.base_urls": []string{
			"https://daily-cloudcode-pa.googleapis.com/v1internal",
			"https://cloudcode-pa.googleapis.com/v1internal",
		},
		"upstream.user_agent":    "antigravity/1.13.3 linux/amd64",
		"oauth.client_id":        "",
		"oauth.client_secret":    "",
		"oauth.auth_url":         "https://accounts.google.com/o/oauth2/v2/auth",
		"oauth.token_url":        "https://oauth2.googleapis.com/token",
		"oauth.userinfo_url":     "https://www.googleapis.com/oauth2/v2/userinfo",
		"oauth.default_client":   "default",
		"quota.low_threshold":    0.10,
		"quota.reserve":          0.0,
		"quota.sync_interval":    5 * time.Minute,
		"quota.sync_concurrency": 16,
		"quota.account_timeout":  30 * time.Second,
		"quota.cache_ttl":        5 * time.Minute,
		"quota.tier_ttl":         24 * time.Hour,
		"quota.retention":        720 * time.Hour,
		"routing.policy":         "balanced",
		"models.aliases":         map[string]string{},
		"log_file":               "/home/u/.local/state/quotatui/quotatui.log",
		"alerts.desktop.enabled": false,
		"alerts.desktop.events":  []string{"all"},
		"alerts.webhook.url":     "",
		"alerts.webhook.format":  "json",
		"alerts.webhook.token":   "",
		"alerts.webhook.events":  []string{"all"},
		"alerts.webhook.timeout": 10 * time.Second,
		"alerts.command.run":     "",
		"alerts.command.events":  []string{"all"},
		"alerts.command.timeout": 10 * time.Second,
	}
	if len(want) != len(settings) {
		t.Errorf("test covers %d settings, Config has %d", len(want), len(settings))
	}
	for _, s := range settings {
		if got := s.field(&c).Interface(); !reflect.DeepEqual(got, want[s.key]) {
			t.Errorf("default %s = %#v, want %#v", s.key, got, want[s.key])
		}
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func TestDefaultPathsFollowXDG(t *testing.T) {
	c := defaults(env{"HOME": "/home/u", "XDG_DATA_HOME": "/data", "XDG_STATE_HOME": "relative/ignored"}.get)
	if c.DBPath != "/data/quotatui/quotatui.db" {
		t.Errorf("DBPath = %q, want it under $XDG_DATA_HOME", c.DBPath)
	}
	if c.LogFile != "/home/u/.local/state/quotatui/quotatui.log" {
		t.Errorf("LogFile = %q, want a relative $XDG_STATE_HOME ignored", c.LogFile)
	}
}

func TestEveryKeyDocumented(t *testing.T) {
	keys := map[string]bool{}
	for _, k := range Keys() {
		keys[k.Key] = true
		if k.Description == "" {
			t.Errorf("setting %s has no description in keys.go", k.Key)
		}
		if k.Default == "" {
			t.Errorf("setting %s has no documented default", k.Key)
		}
	}
	for k := range descriptions {
		if !keys[k] {
			t.Errorf("description for %s, which is not a setting", k)
		}
	}
	var ref bytes.Buffer
	if err := WriteReference(&ref); err != nil {
		t.Fatal(err)
	}
	for k := range keys {
		if !strings.Contains(ref.String(), "| `"+k+"` |") {
			t.Errorf("reference lacks %s", k)
		}
	}
}

func TestNames(t *testing.T) {
	tests := []struct{ key, env, flag string }{
		{"db", "QUOTATUI_DB", "db"},
		{"proxy.listen", "QUOTATUI_PROXY_LISTEN", "proxy-listen"},
		{"proxy.api_key", "QUOTATUI_PROXY_API_KEY", "proxy-api-key"},
		{"oauth.client_id", "QUOTATUI_OAUTH_CLIENT_ID", "oauth-client-id"},
		{"quota.low_threshold", "QUOTATUI_QUOTA_LOW_THRESHOLD", "quota-low-threshold"},
		{"log_file", "QUOTATUI_LOG_FILE", "log-file"},
	}
	for _, tt := range tests {
		if got := EnvName(tt.key); got != tt.env {
			t.Errorf("EnvName(%q) = %q, want %q", tt.key, got, tt.env)
		}
		if got := FlagName(tt.key); got != tt.flag {
			t.Errorf("FlagName(%q) = %q, want %q", tt.key, got, tt.flag)
		}
	}
}

const fullFile = `# quotatui settings
db = "/var/lib/q.db"
log_file = "/var/log/q.log"

[proxy]
listen = "127.0.0.1:9000"  # a comment
api_key = "k-123-4567890abcd"
retry_attempts = 5
body_limit = "512KiB"
session_idle = "30m"
pre_request_check = false

[upstream]
base_urls = ["http://127.0.0.1:1/daily/v1internal", "http://127.0.0.1:1/prod/v1internal"]
user_agent = "test/1"

[oauth]
client_id = "cid"
client_secret = "csecret"
token_url = "http://127.0.0.1:1/token"

[quota]
low_threshold = 0.25
reserve = 0.05
sync_interval = "90s"
sync_concurrency = 4
account_timeout = "10s"
cache_ttl = "1m"
tier_ttl = "2h"
retention = "168h"
`

func TestLoadFile(t *testing.T) {
	c, src, err := load(t, nil, nil, fullFile)
	if err != nil {
		t.Fatal(err)
	}
	if !src.FileFound || src.FileFrom.Layer != LayerDefault {
		t.Errorf("file found=%v from %v, want found at the default path", src.FileFound, src.FileFrom)
	}
	checks := []struct {
		key  string
		got  any
		want any
	}{
		{"db", c.DBPath, "/var/lib/q.db"},
		{"log_file", c.LogFile, "/var/log/q.log"},
		{"proxy.listen", c.Proxy.Listen, "127.0.0.1:9000"},
		{"proxy.api_key", c.Proxy.APIKey, "k-123-4567890abcd"},
		{"proxy.retry_attempts", c.Proxy.RetryAttempts, 5},
		{"proxy.body_limit", c.Proxy.BodyLimit, int64(512 << 10)},
		{"proxy.session_idle", c.Proxy.SessionIdle, 30 * time.Minute},
		{"proxy.pre_request_check", c.Proxy.PreRequestCheck, false},
		{"upstream.base_urls", c.Upstream.BaseURLs, []string{"http://127.0.0.1:1/daily/v1internal", "http://127.0.0.1:1/prod/v1internal"}},
		{"upstream.user_agent", c.Upstream.UserAgent, "test/1"},
		{"oauth.client_secret", c.OAuth.ClientSecret, "csecret"},
		{"oauth.token_url", c.OAuth.TokenURL, "http://127.0.0.1:1/token"},
		{"quota.low_threshold", c.Quota.LowThreshold, 0.25},
		{"quota.reserve", c.Quota.Reserve, 0.05},
		{"quota.sync_interval", c.Quota.SyncInterval, 90 * time.Second},
		{"quota.sync_concurrency", c.Quota.SyncConcurrency, 4},
		{"quota.retention", c.Quota.Retention, 168 * time.Hour},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.key, ck.got, ck.want)
		}
		if s := src.Of(ck.key); s.Layer != LayerFile || s.Name != src.File {
			t.Errorf("source of %s = %v, want file %s", ck.key, s, src.File)
		}
	}
	// A key the file does not set keeps its default and says so.
	if c.OAuth.AuthURL != "https://accounts.google.com/o/oauth2/v2/auth" || src.Of("oauth.auth_url").Layer != LayerDefault {
		t.Errorf("oauth.auth_url = %q from %v, want the default", c.OAuth.AuthURL, src.Of("oauth.auth_url"))
	}
}

func TestLoadFileErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []string // substrings of the error
	}{
		{"syntax", "[proxy]\nlisten = \"127.0.0.1:1\"\nretry_attempts = = 3\n", []string{"config.toml", "line 3"}},
		{"unclosed string", "db = \"/x\n", []string{"config.toml", "line 1"}},
		{"wrong type", "[proxy]\n\nretry_attempts = \"three\"\n", []string{"config.toml", "line 3", "proxy.retry_attempts", "want an integer, got a string"}},
		{"number for string", "[proxy]\nlisten = 8045\n", []string{"line 2", "proxy.listen", "want a quoted string"}},
		{"integer duration", "[quota]\ncache_ttl = 300\n", []string{"line 2", "quota.cache_ttl", `want a quoted duration`}},
		{"bad duration", "[quota]\n\n\ncache_ttl = \"5 minutes\"\n", []string{"line 4", "quota.cache_ttl", "want a duration"}},
		{"bad size", "[proxy]\nbody_limit = \"32MB\"\n", []string{"line 2", "proxy.body_limit", "MiB"}},
		{"list of numbers", "[upstream]\nbase_urls = [1, 2]\n", []string{"line 2", "upstream.base_urls", "list of strings"}},
		{"unknown key", "[proxy]\nlisten = \"127.0.0.1:1\"\nlistn = \"x\"\n", []string{"config.toml", "line 3", "unknown key proxy.listn", "did you mean proxy.listen?"}},
		{"unknown top-level key", "\ndatabase = \"x\"\n", []string{"line 2", "unknown key database"}},
		{"unknown table", "[proxi]\nlisten = \"x\"\n", []string{"line 1", "unknown key proxi"}},
		{"table as value", "\nproxy = \"x\"\n", []string{"line 2", "proxy: want a table ([proxy]), got a string"}},
		{"array of tables", "[[quota]]\nretention = \"1h\"\n", []string{"line 1", "quota: want a table ([quota]), got an array"}},
		{"table for a value", "[db]\npath = \"x\"\n", []string{"line 1", "db: want a quoted string, got a table"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := load(t, nil, nil, tt.file)
			if err == nil {
				t.Fatal("Load accepted a bad file")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestUnknownTableReportedOnce(t *testing.T) {
	_, _, err := load(t, nil, nil, "[proxi]\nlisten = \"x\"\napi_key = \"y\"\n")
	if err == nil || strings.Count(err.Error(), "unknown key") != 1 {
		t.Errorf("error %v: want one unknown-key error for the table", err)
	}
}

func TestConfigFileLocation(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "custom.toml")
	if err := os.WriteFile(p, []byte("[proxy]\nretry_attempts = 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		env     env
		want    int // retry_attempts; 0 means an error is expected
		wantSrc Layer
	}{
		{"missing default file is fine", nil, nil, 3, LayerDefault},
		{"env names the file", nil, env{ConfigEnv: p}, 7, LayerEnv},
		{"flag names the file", []string{"--config", p}, env{ConfigEnv: "/nope.toml"}, 7, LayerFlag},
		{"named file must exist (env)", nil, env{ConfigEnv: filepath.Join(dir, "missing.toml")}, 0, LayerEnv},
		{"named file must exist (flag)", []string{"--config", filepath.Join(dir, "missing.toml")}, nil, 0, LayerFlag},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, src, err := load(t, tt.args, tt.env, "")
			if src.FileFrom.Layer != tt.wantSrc {
				t.Errorf("file path from %v, want layer %v", src.FileFrom, tt.wantSrc)
			}
			if tt.want == 0 {
				if err == nil || !strings.Contains(err.Error(), "missing.toml") || !strings.Contains(err.Error(), "does not exist") {
					t.Errorf("error = %v, want one naming the missing file", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Proxy.RetryAttempts != tt.want {
				t.Errorf("retry_attempts = %d, want %d", c.Proxy.RetryAttempts, tt.want)
			}
		})
	}
}

func TestPrecedence(t *testing.T) {
	const file = "[proxy]\nlisten = \"127.0.0.1:1111\"\n[quota]\nlow_threshold = 0.3\nsync_interval = \"10m\"\n[upstream]\nuser_agent = \"file/1\"\n"
	tests := []struct {
		name    string
		args    []string
		env     env
		file    string
		key     string
		want    string // formatted value
		wantSrc string
	}{
		{"default", nil, nil, "", "proxy.listen", `"127.0.0.1:8045"`, "default"},
		{"file over default", nil, nil, file, "proxy.listen", `"127.0.0.1:1111"`, "file "},
		{"env over file", nil, env{"QUOTATUI_PROXY_LISTEN": "127.0.0.1:2222"}, file, "proxy.listen", `"127.0.0.1:2222"`, "env QUOTATUI_PROXY_LISTEN"},
		{"flag over env", []string{"--proxy-listen", "127.0.0.1:3333"}, env{"QUOTATUI_PROXY_LISTEN": "127.0.0.1:2222"}, file, "proxy.listen", `"127.0.0.1:3333"`, "flag --proxy-listen"},
		{"flag over file", []string{"--quota-low-threshold=0.2"}, nil, file, "quota.low_threshold", "0.2", "flag --quota-low-threshold"},
		{"env percentage over file", nil, env{"QUOTATUI_QUOTA_LOW_THRESHOLD": "15%"}, file, "quota.low_threshold", "0.15", "env QUOTATUI_QUOTA_LOW_THRESHOLD"},
		{"file duration", nil, env{"QUOTATUI_QUOTA_CACHE_TTL": "1m"}, file, "quota.sync_interval", `"10m"`, "file "},
		{"env duration", nil, env{"QUOTATUI_QUOTA_SYNC_INTERVAL": "90s"}, file, "quota.sync_interval", `"1m30s"`, "env QUOTATUI_QUOTA_SYNC_INTERVAL"},
		{"empty env is unset", nil, env{"QUOTATUI_UPSTREAM_USER_AGENT": ""}, file, "upstream.user_agent", `"file/1"`, "file "},
		{"bare bool flag", []string{"--proxy-pre-request-check"}, env{"QUOTATUI_PROXY_PRE_REQUEST_CHECK": "false"}, "", "proxy.pre_request_check", "true", "flag --proxy-pre-request-check"},
		{"env bool", nil, env{"QUOTATUI_PROXY_PRE_REQUEST_CHECK": "false"}, "", "proxy.pre_request_check", "false", "env QUOTATUI_PROXY_PRE_REQUEST_CHECK"},
		{"env size", nil, env{"QUOTATUI_PROXY_BODY_LIMIT": "1048576"}, "", "proxy.body_limit", `"1MiB"`, "env QUOTATUI_PROXY_BODY_LIMIT"},
		{"flag db", []string{"--db", "/tmp/x.db"}, env{"QUOTATUI_DB": "/tmp/y.db"}, "", "db", `"/tmp/x.db"`, "flag --db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, src, err := load(t, tt.args, tt.env, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			s, _ := settingByKey(tt.key)
			if got := s.format(s.field(&c)); got != tt.want {
				t.Errorf("%s = %s, want %s", tt.key, got, tt.want)
			}
			if got := src.Of(tt.key).String(); !strings.HasPrefix(got, tt.wantSrc) {
				t.Errorf("source of %s = %q, want %q", tt.key, got, tt.wantSrc)
			}
		})
	}
}

func TestEnvList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"http://a", []string{"http://a"}},
		{"http://a,http://b", []string{"http://a", "http://b"}},
		{" http://a , http://b ,", []string{"http://a", "http://b"}},
	}
	for _, tt := range tests {
		c, _, err := load(t, nil, env{"QUOTATUI_UPSTREAM_BASE_URLS": tt.in}, "")
		if err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		if !slices.Equal(c.Upstream.BaseURLs, tt.want) {
			t.Errorf("base_urls from %q = %q, want %q", tt.in, c.Upstream.BaseURLs, tt.want)
		}
	}
	// A flag list replaces the env list rather than appending to it.
	c, _, err := load(t, []string{"--upstream-base-urls", "http://f"}, env{"QUOTATUI_UPSTREAM_BASE_URLS": "http://a,http://b"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Upstream.BaseURLs, []string{"http://f"}) {
		t.Errorf("base_urls = %q, want the flag's list only", c.Upstream.BaseURLs)
	}
}

func TestUnparsableEnvAndFlag(t *testing.T) {
	_, _, err := load(t, []string{"--quota-sync-concurrency", "many"},
		env{"QUOTATUI_PROXY_RETRY_ATTEMPTS": "x", "QUOTATUI_QUOTA_CACHE_TTL": "5"}, "")
	for _, want := range []string{
		`proxy.retry_attempts = "x": want an integer (from env QUOTATUI_PROXY_RETRY_ATTEMPTS)`,
		`quota.cache_ttl = "5": want a duration`,
		`quota.sync_concurrency = "many": want an integer (from flag --quota-sync-concurrency)`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		env    env
		key    string
		errMsg string
	}{
		{"listen not host:port", env{"QUOTATUI_PROXY_LISTEN": "nope"}, "proxy.listen",
			`proxy.listen = "nope": want host:port, such as 127.0.0.1:8045 (from env QUOTATUI_PROXY_LISTEN)`},
		{"listen bad port", env{"QUOTATUI_PROXY_LISTEN": "127.0.0.1:99999"}, "proxy.listen", "port number between 0 and 65535"},
		{"api key off loopback", env{"QUOTATUI_PROXY_LISTEN": "0.0.0.0:8045"}, "proxy.api_key",
			"proxy.api_key = [not set]: required when proxy.listen (0.0.0.0:8045, from env QUOTATUI_PROXY_LISTEN) is not a loopback address"},
		{"retry attempts zero", env{"QUOTATUI_PROXY_RETRY_ATTEMPTS": "0"}, "proxy.retry_attempts",
			"proxy.retry_attempts = 0: must be at least 1 (from env QUOTATUI_PROXY_RETRY_ATTEMPTS)"},
		{"retry attempts huge", env{"QUOTATUI_PROXY_RETRY_ATTEMPTS": "1000"}, "proxy.retry_attempts", "must be at most 100"},
		{"body limit tiny", env{"QUOTATUI_PROXY_BODY_LIMIT": "10"}, "proxy.body_limit", `proxy.body_limit = "10": must be between 1KiB and 1GiB`},
		{"session idle zero", env{"QUOTATUI_PROXY_SESSION_IDLE": "0s"}, "proxy.session_idle", `proxy.session_idle = "0s": must be a positive duration`},
		{"no base urls", env{"QUOTATUI_UPSTREAM_BASE_URLS": ","}, "upstream.base_urls", "upstream.base_urls = []: want at least one URL"},
		{"relative base url", env{"QUOTATUI_UPSTREAM_BASE_URLS": "https://ok/v1internal,/v1internal"}, "upstream.base_urls",
			`upstream.base_urls = "/v1internal": want an absolute http:// or https:// URL`},
		{"ftp base url", env{"QUOTATUI_UPSTREAM_BASE_URLS": "ftp://host/x"}, "upstream.base_urls", "want an absolute http:// or https:// URL"},
		{"empty user agent", env{"QUOTATUI_UPSTREAM_USER_AGENT": "  "}, "upstream.user_agent", "must not be empty"},
		{"user agent with newline", env{"QUOTATUI_UPSTREAM_USER_AGENT": "a\rb"}, "upstream.user_agent", "must not contain control characters"},
		{"auth url", env{"QUOTATUI_OAUTH_AUTH_URL": "accounts.google.com"}, "oauth.auth_url", `oauth.auth_url = "accounts.google.com": want an absolute`},
		{"token url", env{"QUOTATUI_OAUTH_TOKEN_URL": "nope"}, "oauth.token_url", "want an absolute"},
		{"userinfo url", env{"QUOTATUI_OAUTH_USERINFO_URL": "mailto:x@y"}, "oauth.userinfo_url", "want an absolute"},
		{"low threshold above 1", env{"QUOTATUI_QUOTA_LOW_THRESHOLD": "1.5"}, "quota.low_threshold",
			"quota.low_threshold = 1.5: must be between 0 and 1 (from env QUOTATUI_QUOTA_LOW_THRESHOLD)"},
		{"low threshold negative", env{"QUOTATUI_QUOTA_LOW_THRESHOLD": "-0.1"}, "quota.low_threshold", "must be between 0 and 1"},
		{"reserve above 1", env{"QUOTATUI_QUOTA_RESERVE": "2"}, "quota.reserve", "quota.reserve = 2: must be between 0 and 1"},
		{"reserve above threshold", env{"QUOTATUI_QUOTA_RESERVE": "0.2"}, "",
			"quota.reserve (0.2) must be below quota.low_threshold (0.1) (quota.reserve from env QUOTATUI_QUOTA_RESERVE)"},
		{"sync interval", env{"QUOTATUI_QUOTA_SYNC_INTERVAL": "-5m"}, "quota.sync_interval", `quota.sync_interval = "-5m": must be a positive duration`},
		{"concurrency zero", env{"QUOTATUI_QUOTA_SYNC_CONCURRENCY": "0"}, "quota.sync_concurrency", "quota.sync_concurrency = 0: must be between 1 and 1024"},
		{"concurrency huge", env{"QUOTATUI_QUOTA_SYNC_CONCURRENCY": "5000"}, "quota.sync_concurrency", "must be between 1 and 1024"},
		{"sync interval too short", env{"QUOTATUI_QUOTA_SYNC_INTERVAL": "10s"}, "quota.sync_interval",
			`quota.sync_interval = "10s": must be at least 30s, or every account's quota is read more often than it changes (from env QUOTATUI_QUOTA_SYNC_INTERVAL)`},
		{"account timeout", env{"QUOTATUI_QUOTA_ACCOUNT_TIMEOUT": "0s"}, "quota.account_timeout", "must be a positive duration"},
		{"account timeout too short", env{"QUOTATUI_QUOTA_ACCOUNT_TIMEOUT": "500ms"}, "quota.account_timeout",
			`quota.account_timeout = "500ms": must be at least 1s`},
		{"cache ttl", env{"QUOTATUI_QUOTA_CACHE_TTL": "0s"}, "quota.cache_ttl", "must be a positive duration"},
		{"tier ttl", env{"QUOTATUI_QUOTA_TIER_TTL": "0s"}, "quota.tier_ttl", "must be a positive duration"},
		{"retention", env{"QUOTATUI_QUOTA_RETENTION": "0s"}, "quota.retention", "must be a positive duration"},
		{"unknown routing policy", env{"QUOTATUI_ROUTING_POLICY": "round-robin"}, "routing.policy",
			`routing.policy = "round-robin": want one of balanced, reset-aware, fill-first, priority (from env QUOTATUI_ROUTING_POLICY)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := load(t, nil, tt.env, "")
			if err == nil {
				t.Fatal("Load accepted a bad value")
			}
			if !strings.Contains(err.Error(), tt.errMsg) {
				t.Errorf("error %q\nlacks %q", err, tt.errMsg)
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

func TestValidateReportsAllAndSources(t *testing.T) {
	_, _, err := load(t, []string{"--quota-sync-concurrency", "0"},
		env{"QUOTATUI_PROXY_RETRY_ATTEMPTS": "0"}, "[quota]\nlow_threshold = 7.0\n")
	if err == nil {
		t.Fatal("Load accepted three bad values")
	}
	for _, want := range []string{
		"(from flag --quota-sync-concurrency)",
		"(from env QUOTATUI_PROXY_RETRY_ATTEMPTS)",
		"quota.low_threshold = 7: must be between 0 and 1 (from file ",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// A Config built by hand validates without sources.
	c := defaults(env{}.get)
	c.Quota.SyncConcurrency = 0
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "(from") {
		t.Errorf("Validate on a hand-built Config = %v, want an error without a source", err)
	}
}

func TestPrintRedactsSecrets(t *testing.T) {
	c, src, err := load(t, []string{"--oauth-client-secret", "s3cr3t-value"},
		env{"QUOTATUI_PROXY_API_KEY": "api-k3y-value-0123"}, "[oauth]\nclient_id = \"my-client\"\n")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Print(&b, c, src); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, secret := range []string{"s3cr3t-value", "api-k3y-value-0123"} {
		if strings.Contains(out, secret) {
			t.Errorf("Print leaked a secret:\n%s", out)
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(lines[0], "# config file: "+src.File+" (read") {
		t.Errorf("first line %q, want the config file path", lines[0])
	}
	if len(lines) != len(settings)+1 {
		t.Errorf("Print wrote %d lines, want 1 + %d", len(lines), len(settings))
	}
	for _, want := range []string{
		"proxy.api_key = [set]",
		"# env QUOTATUI_PROXY_API_KEY",
		"oauth.client_secret = [set]",
		"# flag --oauth-client-secret",
		`oauth.client_id = "my-client"`,
		"# file " + src.File,
		`quota.sync_interval = "5m"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Print output lacks %q:\n%s", want, out)
		}
	}
	// Lines come in Config's field order.
	for i, s := range settings {
		if !strings.HasPrefix(lines[i+1], s.key+" = ") {
			t.Errorf("line %d = %q, want key %s", i+1, lines[i+1], s.key)
		}
	}

	c.Proxy.APIKey = ""
	b.Reset()
	if err := Print(&b, c, src); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "proxy.api_key = [not set]") {
		t.Errorf("unset key not shown as [not set]:\n%s", b.String())
	}
}

func TestSizes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"33554432", 32 << 20, true},
		{"32MiB", 32 << 20, true},
		{"32 mib", 32 << 20, true},
		{"512KiB", 512 << 10, true},
		{"1GiB", 1 << 30, true},
		{"100B", 100, true},
		{"32MB", 0, false},
		{"1.5MiB", 0, false},
		{"-1", 0, false},
		{"", 0, false},
		{"99999999999GiB", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if tt.ok {
			if back, err := ParseSize(FormatSize(got)); err != nil || back != got {
				t.Errorf("ParseSize(FormatSize(%d)=%q) = %d, %v", got, FormatSize(got), back, err)
			}
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := map[time.Duration]string{
		5 * time.Minute:                 "5m",
		720 * time.Hour:                 "720h",
		90 * time.Minute:                "1h30m",
		30 * time.Second:                "30s",
		time.Hour + 30*time.Second:      "1h0m30s",
		1500 * time.Millisecond:         "1.5s",
		0:                               "0s",
		2*time.Hour + 3*time.Nanosecond: "2h0m0.000000003s",
	}
	for d, want := range tests {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := time.ParseDuration(FormatDuration(d)); err != nil || back != d {
			t.Errorf("FormatDuration(%v) does not parse back: %v, %v", d, back, err)
		}
	}
}

func TestPrintedConfigLoadsBack(t *testing.T) {
	// Print's lines without the secrets are a valid config file that
	// reproduces the configuration.
	c, src, err := load(t, nil, nil, fullFile)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Print(&b, c, src); err != nil {
		t.Fatal(err)
	}
	var file strings.Builder
	for line := range strings.Lines(b.String()) {
		if !strings.Contains(line, "[set]") && !strings.Contains(line, "[not set]") {
			file.WriteString(line)
		}
	}
	c2, _, err := load(t, nil, nil, file.String())
	if err != nil {
		t.Fatalf("printed config does not load: %v\n%s", err, file.String())
	}
	c2.Proxy.APIKey, c2.OAuth.ClientSecret = c.Proxy.APIKey, c.OAuth.ClientSecret
	c.sources, c2.sources = nil, nil
	if !reflect.DeepEqual(c, c2) {
		t.Errorf("round trip changed the config:\n%+v\n%+v", c, c2)
	}
}

func TestRegisterAddsEveryFlag(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	Register(fs)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n != len(settings)+1 {
		t.Errorf("Register added %d flags, want one per setting (%d) plus --config", n, len(settings))
	}
	for _, k := range Keys() {
		f := fs.Lookup(strings.TrimPrefix(k.Flag, "--"))
		if f == nil {
			t.Errorf("no flag %s for %s", k.Flag, k.Key)
			continue
		}
		if k.Secret && strings.Contains(f.Usage, "default") {
			t.Errorf("flag %s shows a default for a secret: %q", k.Flag, f.Usage)
		}
	}
}

func TestLoadHelp(t *testing.T) {
	_, _, err := load(t, []string{"--help"}, nil, "")
	if !errors.Is(err, flag.ErrHelp) {
		t.Errorf("Load(--help) = %v, want flag.ErrHelp", err)
	}
}
