package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// configLine is one `key = value # source` line of `quotatui config`.
var configLine = regexp.MustCompile(`^(\S+) = (.*?)\s+# (.+)$`)

func parseConfigOutput(t *testing.T, out string) map[string][2]string {
	t.Helper()
	got := map[string][2]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		m := configLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("line does not read `key = value # source`: %q", line)
			continue
		}
		got[m[1]] = [2]string{m[2], m[3]}
	}
	return got
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestConfigPrintsValuesAndSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.toml")
	const (
		fileKey    = "file-api-key-4b1d"
		fileSecret = "file-client-secret-77aa"
		envSecret  = "env-client-secret-9c3e"
		flagKey    = "flag-api-key-e0f2"
	)
	writeFile(t, file, `# set by hand
[proxy]
api_key = "`+fileKey+`"
[oauth]
client_secret = "`+fileSecret+`"
[quota]
low_threshold = 0.2
cache_ttl = "2m"
tier_ttl = "48h"
`)
	env := testEnv(t,
		"QUOTATUI_CONFIG="+file,
		"QUOTATUI_QUOTA_CACHE_TTL=3m",
		"QUOTATUI_QUOTA_TIER_TTL=12h",
		"QUOTATUI_OAUTH_CLIENT_SECRET="+envSecret,
	)
	r := runCLI(t, env, "", "config", "--quota-cache-ttl", "4m", "--proxy-api-key", flagKey)
	if r.code != 0 {
		t.Fatalf("config exited %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "config file: "+file) {
		t.Errorf("config does not name the file $QUOTATUI_CONFIG points at:\n%s", r.stdout)
	}
	got := parseConfigOutput(t, r.stdout)
	tests := []struct {
		key, value, source string
	}{
		{"quota.cache_ttl", `"4m"`, "flag --quota-cache-ttl"}, // flag > env > file
		{"quota.tier_ttl", `"12h"`, "env QUOTATUI_QUOTA_TIER_TTL"},
		{"quota.low_threshold", "0.2", "file " + file},
		{"quota.retention", `"720h"`, "default"},
		{"proxy.api_key", "[set]", "flag --proxy-api-key"},
		{"oauth.client_secret", "[set]", "env QUOTATUI_OAUTH_CLIENT_SECRET"},
	}
	for _, tt := range tests {
		if g, ok := got[tt.key]; !ok || g != [2]string{tt.value, tt.source} {
			t.Errorf("%s = %q from %q; want %q from %q", tt.key, g[0], g[1], tt.value, tt.source)
		}
	}
	for _, secret := range []string{fileKey, fileSecret, envSecret, flagKey} {
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("config printed the secret %q:\n%s%s", secret, r.stdout, r.stderr)
		}
	}
}

func TestConfigBadValues(t *testing.T) {
	dir := t.TempDir()
	badFile := filepath.Join(dir, "bad.toml")
	writeFile(t, badFile, "[quota]\nsync_interval = \"-5m\"\n")
	tests := []struct {
		name string
		env  []string
		args []string
		want []string // in the message: the setting, the value, what is allowed, where it came from
	}{
		{"flag out of range", nil, []string{"--quota-low-threshold", "2"},
			[]string{"quota.low_threshold", "= 2", "between 0 and 1", "flag --quota-low-threshold"}},
		{"env out of range", []string{"QUOTATUI_QUOTA_SYNC_CONCURRENCY=0"}, nil,
			[]string{"quota.sync_concurrency", "= 0", "between 1 and 1024", "env QUOTATUI_QUOTA_SYNC_CONCURRENCY"}},
		{"file negative duration", []string{"QUOTATUI_CONFIG=" + badFile}, nil,
			[]string{"quota.sync_interval", `"-5m"`, "positive duration", "file " + badFile}},
		{"unparsable address", nil, []string{"--proxy-listen", "nonsense"},
			[]string{"proxy.listen", "nonsense", "host:port"}},
		{"reserve above low", nil, []string{"--quota-reserve", "0.2"},
			[]string{"quota.reserve", "0.2", "below quota.low_threshold"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, testEnv(t, tt.env...), "", append([]string{"config"}, tt.args...)...)
			if r.code == 0 {
				t.Fatalf("config accepted a bad value; stdout:\n%s", r.stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("the error does not say %q: %s", w, r.stderr)
				}
			}
		})
	}
	// Every command validates, not only config: a bad value stops status
	// before it touches the store.
	r := runCLI(t, testEnv(t), "", "status", "--quota-low-threshold", "2", "--db", filepath.Join(dir, "never.db"))
	if r.code == 0 || !strings.Contains(r.stderr, "quota.low_threshold") {
		t.Errorf("status with a bad threshold: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "never.db")); err == nil {
		t.Errorf("status created its database despite a bad setting")
	}
}
