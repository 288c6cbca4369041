package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// descriptions holds each key's one-line description. A test fails when a
// Config field has none, so the reference in the README cannot fall behind.
var descriptions = map[string]string{
	"db":                        "SQLite database holding accounts, tiers, quota history and events, or a postgres:// URL of a database shared by several instances",
	"proxy.listen":              "address the local proxy listens on (host:port)",
	"proxy.api_key":             "key clients must send to the proxy (and to /metrics); required when listening off loopback",
	"proxy.retry_attempts":      "upstream attempts per client request, across accounts (capped at the pool size)",
	"proxy.body_limit":          "largest request body the proxy accepts (bytes, or with KiB/MiB/GiB)",
	"proxy.session_idle":        "how long a conversation keeps its account after its last request",
	"proxy.pre_request_check":   "re-check an account in the low zone before each request, so a switch happens before a 429",
	"proxy.connect_timeout":     "time limit for connecting to an upstream host (TCP and TLS)",
	"proxy.first_byte_timeout":  "time limit for an upstream call's first byte (headers and first stream event, or a whole answer); an account that misses it cools down and the request moves on",
	"proxy.stream_idle_timeout": "longest silence between two stream events before the stream ends as broken",
	"proxy.buffer_limit":        "most bytes of client request bodies the proxy holds at once (at least body_limit); beyond it requests get 503",
	"proxy.allowed_hosts":       "host names, besides localhost and the listen address, clients may reach the proxy by (others are refused: DNS rebinding); comma-separated in env and flags",
	"proxy.allowed_origins":     "browser origins allowed to call the proxy (none by default); comma-separated in env and flags",
	"upstream.base_urls":        "v1internal base URLs, tried in order (daily first: prod can show a frozen 100 %); comma-separated in env and flags",
	"upstream.user_agent":       "User-Agent sent upstream",
	"oauth.client_id":           "OAuth client id used by login and token refresh (you register the client)",
	"oauth.client_secret":       "OAuth client secret that goes with oauth.client_id",
	"oauth.auth_url":            "OAuth authorization endpoint",
	"oauth.token_url":           "OAuth token endpoint",
	"oauth.userinfo_url":        "OAuth user info endpoint (gives the account's email)",
	"oauth.default_client":      "OAuth client that login uses and accounts without a recorded client refresh with: \"default\" (oauth.client_id) or a name from [oauth.clients.<name>]",
	"quota.low_threshold":       "effective remaining fraction below which an account is LOW and warns (0..1)",
	"quota.reserve":             "remaining fraction at or below which an account counts as exhausted (0..1, below low_threshold)",
	"quota.sync_interval":       "how often the background monitor syncs every account (jittered; at least 30s; one process per database polls)",
	"quota.sync_concurrency":    "accounts synced in parallel (1..1024)",
	"quota.account_timeout":     "time limit for one account's sync; a hung account costs at most this (at least 1s)",
	"quota.cache_ttl":           "how long a quota figure answers checks before the upstream is asked again (while the monitor runs, until its next round at least)",
	"quota.tier_ttl":            "how long an account's detected tier is trusted",
	"quota.retention":           "how long quota history and events are kept",
	"models.aliases":            "model names mapped to upstream ids for the Anthropic and OpenAI routes, on top of the built-in table (\"name\" = \"id\"; a trailing * matches a prefix); name=id,name=id in env and flags",
	"log_file":                  "log file (the dashboard owns the terminal, so logs go here)",
	"routing.policy":            `where the proxy sends a new conversation: "balanced" (tier, then most left), "reset-aware" (spend first what a window reset would lose), "fill-first" (one account until LOW, others' windows kept) or "priority" (per-account priority, then balanced)`,

	"alerts.desktop.enabled": "send alerts as desktop notifications (D-Bus on Linux, osascript on macOS)",
	"alerts.desktop.events":  `alert kinds shown on the desktop: "all" or any of ` + strings.Join(AlertEventKinds(), ", "),
	"alerts.webhook.url":     "URL alerts are POSTed to (empty: no webhook); kept secret, since Slack-style URLs carry their key",
	"alerts.webhook.format":  `webhook body: "json" (quotatui's schema, see README), "ntfy" (text with Title/Priority/Tags headers) or "slack" ({"text": ...})`,
	"alerts.webhook.token":   "sent as Authorization: Bearer with every webhook POST (e.g. an ntfy access token)",
	"alerts.webhook.events":  "alert kinds sent to the webhook (as alerts.desktop.events)",
	"alerts.webhook.timeout": "time limit for one webhook POST; a failed POST is retried with backoff",
	"alerts.command.run":     "command run by the shell for each alert, with the alert as JSON on stdin (empty: none)",
	"alerts.command.events":  "alert kinds the command runs for (as alerts.desktop.events)",
	"alerts.command.timeout": "time limit for one run of alerts.command.run; it is killed after that",
}

// docDefaults replaces the default shown in the reference for settings
// whose default depends on the machine.
var docDefaults = map[string]string{
	"db":       "<XDG_DATA_HOME or ~/.local/share>/quotatui/quotatui.db",
	"log_file": "<XDG_STATE_HOME or ~/.local/state>/quotatui/quotatui.log",
}

// secretKeys are never printed; Print shows whether they are set.
var secretKeys = map[string]bool{"proxy.api_key": true, "oauth.client_secret": true,
	"alerts.webhook.url": true, "alerts.webhook.token": true}

// sizeKeys are int64 settings written as byte sizes ("32MiB").
var sizeKeys = map[string]bool{"proxy.body_limit": true, "proxy.buffer_limit": true}

// kind is how a setting's value is written and parsed.
type kind uint8

const (
	kindString kind = iota
	kindInt
	kindSize
	kindFloat
	kindBool
	kindDuration
	kindList
	kindMap
)

// setting is one key of Config, found by reflection on its toml tags.
type setting struct {
	key   string
	index []int // field index path from Config
	kind  kind
}

// settings lists every key in Config's field order, which is also the
// order of Print and of the reference. It is computed once and never
// modified.
var settings = collectSettings(reflect.TypeFor[Config](), "", nil)

func collectSettings(t reflect.Type, prefix string, index []int) []setting {
	var out []setting
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		key := prefix + name
		idx := append(append([]int(nil), index...), i)
		if f.Type.Kind() == reflect.Struct {
			out = append(out, collectSettings(f.Type, key+".", idx)...)
			continue
		}
		out = append(out, setting{key: key, index: idx, kind: kindOf(key, f.Type)})
	}
	return out
}

func kindOf(key string, t reflect.Type) kind {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return kindDuration
	case t.Kind() == reflect.String:
		return kindString
	case t.Kind() == reflect.Bool:
		return kindBool
	case t.Kind() == reflect.Float64:
		return kindFloat
	case t.Kind() == reflect.Int64 && sizeKeys[key]:
		return kindSize
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		return kindInt
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return kindList
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.String:
		return kindMap
	}
	// A field of a new type must be taught here; failing at init makes
	// that impossible to miss.
	panic(fmt.Sprintf("config: setting %s has unsupported type %s", key, t))
}

// settingByKey finds a setting by its key.
func settingByKey(key string) (setting, bool) {
	for _, s := range settings {
		if s.key == key {
			return s, true
		}
	}
	return setting{}, false
}

// field returns the setting's field in c, settable when c is addressable.
func (s setting) field(c *Config) reflect.Value {
	return reflect.ValueOf(c).Elem().FieldByIndex(s.index)
}

// EnvName returns the environment variable for a key:
// QUOTATUI_ plus the upper-cased key with dots and dashes as underscores.
func EnvName(key string) string {
	return "QUOTATUI_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// FlagName returns the flag for a key, without dashes in front: the key
// with dots and underscores as dashes ("proxy.api_key" → "proxy-api-key").
func FlagName(key string) string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(key)
}

// KeyInfo documents one setting.
type KeyInfo struct {
	Key         string // file key, e.g. "proxy.listen"
	Env         string // environment variable, e.g. "QUOTATUI_PROXY_LISTEN"
	Flag        string // flag with its dashes, e.g. "--proxy-listen"
	Default     string // default as written in the file ("" when empty)
	Description string
	Secret      bool // never printed
}

// Keys returns every setting, in file order, with its default and a
// one-line description: the source of the README's configuration
// reference.
func Keys() []KeyInfo {
	def := defaults(func(string) string { return "" })
	out := make([]KeyInfo, 0, len(settings))
	for _, s := range settings {
		d, ok := docDefaults[s.key]
		if !ok {
			d = s.format(s.field(&def))
		}
		out = append(out, KeyInfo{
			Key:         s.key,
			Env:         EnvName(s.key),
			Flag:        "--" + FlagName(s.key),
			Default:     d,
			Description: descriptions[s.key],
			Secret:      secretKeys[s.key],
		})
	}
	return out
}

// parse reads a value written in an environment variable or a flag.
func (s setting) parse(text string) (reflect.Value, error) {
	text = strings.TrimSpace(text)
	switch s.kind {
	case kindString:
		return reflect.ValueOf(text), nil
	case kindInt:
		n, err := strconv.Atoi(text)
		if err != nil {
			return reflect.Value{}, fmt.Errorf("want an integer")
		}
		return s.convert(int64(n)), nil
	case kindSize:
		n, err := ParseSize(text)
		if err != nil {
			return reflect.Value{}, err
		}
		return reflect.ValueOf(n), nil
	case kindFloat:
		return parseFraction(text)
	case kindBool:
		b, err := strconv.ParseBool(text)
		if err != nil {
			return reflect.Value{}, fmt.Errorf("want true or false")
		}
		return reflect.ValueOf(b), nil
	case kindDuration:
		d, err := time.ParseDuration(text)
		if err != nil {
			return reflect.Value{}, fmt.Errorf(`want a duration such as "90s", "5m" or "24h"`)
		}
		return reflect.ValueOf(d), nil
	case kindList:
		var list []string
		for item := range strings.SplitSeq(text, ",") {
			if item = strings.TrimSpace(item); item != "" {
				list = append(list, item)
			}
		}
		return reflect.ValueOf(list), nil
	case kindMap:
		m := map[string]string{}
		for item := range strings.SplitSeq(text, ",") {
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			k, v, ok := strings.Cut(item, "=")
			if !ok || strings.TrimSpace(k) == "" || strings.TrimSpace(v) == "" {
				return reflect.Value{}, fmt.Errorf("want name=value pairs separated by commas, got %q", item)
			}
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		return reflect.ValueOf(m), nil
	}
	panic("unreachable")
}

// parseFraction reads a float, also written as a percentage ("10%").
func parseFraction(text string) (reflect.Value, error) {
	pct := strings.HasSuffix(text, "%")
	f, err := strconv.ParseFloat(strings.TrimSuffix(text, "%"), 64)
	if err != nil {
		return reflect.Value{}, fmt.Errorf("want a number such as 0.1 or 10%%")
	}
	if pct {
		f /= 100
	}
	return reflect.ValueOf(f), nil
}

// convert makes an int64 into the field's integer type.
func (s setting) convert(n int64) reflect.Value {
	if s.kind == kindInt {
		var c Config
		return reflect.ValueOf(n).Convert(s.field(&c).Type())
	}
	return reflect.ValueOf(n)
}

// fromTOML reads a value decoded from the config file. TOML values are
// typed, so a number where a string belongs is an error; sizes and
// fractions also accept the string forms that env and flags accept.
func (s setting) fromTOML(v any) (reflect.Value, error) {
	switch s.kind {
	case kindString:
		if str, ok := v.(string); ok {
			return reflect.ValueOf(str), nil
		}
		return reflect.Value{}, fmt.Errorf("want a quoted string, got %s", tomlType(v))
	case kindInt:
		if n, ok := v.(int64); ok {
			return s.convert(n), nil
		}
		return reflect.Value{}, fmt.Errorf("want an integer, got %s", tomlType(v))
	case kindSize:
		switch x := v.(type) {
		case int64:
			return reflect.ValueOf(x), nil
		case string:
			n, err := ParseSize(x)
			return reflect.ValueOf(n), err
		}
		return reflect.Value{}, fmt.Errorf(`want a size such as 33554432 or "32MiB", got %s`, tomlType(v))
	case kindFloat:
		switch x := v.(type) {
		case float64:
			return reflect.ValueOf(x), nil
		case int64:
			return reflect.ValueOf(float64(x)), nil
		case string:
			return parseFraction(x)
		}
		return reflect.Value{}, fmt.Errorf("want a number, got %s", tomlType(v))
	case kindBool:
		if b, ok := v.(bool); ok {
			return reflect.ValueOf(b), nil
		}
		return reflect.Value{}, fmt.Errorf("want true or false, got %s", tomlType(v))
	case kindDuration:
		// An integer would be nanoseconds, which nobody means; insist on
		// the readable form.
		if str, ok := v.(string); ok {
			return s.parse(str)
		}
		return reflect.Value{}, fmt.Errorf(`want a quoted duration such as "5m", got %s`, tomlType(v))
	case kindList:
		arr, ok := v.([]any)
		if !ok {
			return reflect.Value{}, fmt.Errorf(`want a list of strings such as ["https://a", "https://b"], got %s`, tomlType(v))
		}
		list := make([]string, 0, len(arr))
		for _, item := range arr {
			str, ok := item.(string)
			if !ok {
				return reflect.Value{}, fmt.Errorf("want a list of strings, got an item of type %s", tomlType(item))
			}
			list = append(list, str)
		}
		return reflect.ValueOf(list), nil
	case kindMap:
		table, ok := v.(map[string]any)
		if !ok {
			return reflect.Value{}, fmt.Errorf(`want a table of strings such as [models.aliases] opus = "claude-opus-4-6-thinking", got %s`, tomlType(v))
		}
		m := make(map[string]string, len(table))
		for k, item := range table {
			str, ok := item.(string)
			if !ok {
				return reflect.Value{}, fmt.Errorf("%s: want a quoted string, got %s", k, tomlType(item))
			}
			m[k] = str
		}
		return reflect.ValueOf(m), nil
	}
	panic("unreachable")
}

// tomlType names a decoded TOML value's type the way the TOML spec does.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	case time.Time:
		return "a datetime"
	}
	return fmt.Sprintf("%T", v)
}

// format writes a value the way the config file would, for Print and the
// reference.
func (s setting) format(v reflect.Value) string {
	switch s.kind {
	case kindString:
		return strconv.Quote(v.String())
	case kindInt:
		return strconv.FormatInt(v.Int(), 10)
	case kindSize:
		return strconv.Quote(FormatSize(v.Int()))
	case kindFloat:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case kindBool:
		return strconv.FormatBool(v.Bool())
	case kindDuration:
		return strconv.Quote(FormatDuration(time.Duration(v.Int())))
	case kindList:
		items := make([]string, v.Len())
		for i := range items {
			items[i] = strconv.Quote(v.Index(i).String())
		}
		return "[" + strings.Join(items, ", ") + "]"
	case kindMap:
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		items := make([]string, len(keys))
		for i, k := range keys {
			items[i] = strconv.Quote(k) + " = " + strconv.Quote(v.MapIndex(reflect.ValueOf(k)).String())
		}
		return "{" + strings.Join(items, ", ") + "}"
	}
	panic("unreachable")
}

// sizeUnits are the suffixes ParseSize accepts, largest first.
var sizeUnits = []struct {
	suffix string
	bytes  int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// ParseSize reads a byte size: plain bytes ("33554432") or a whole number
// with a binary unit ("32MiB", "512KiB", "1GiB", "100B"). Decimal units
// (MB) are refused rather than guessed.
func ParseSize(text string) (int64, error) {
	t := strings.TrimSpace(text)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(strings.ToLower(t), strings.ToLower(u.suffix)) {
			t = strings.TrimSpace(t[:len(t)-len(u.suffix)])
			mult = u.bytes
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf(`want a size in bytes such as 33554432, or with a unit such as "32MiB" or "512KiB"`)
	}
	return n * mult, nil
}

// FormatSize writes n with the largest binary unit that divides it
// exactly, so ParseSize(FormatSize(n)) == n.
func FormatSize(n int64) string {
	for _, u := range sizeUnits[:3] {
		if n != 0 && n%u.bytes == 0 {
			return strconv.FormatInt(n/u.bytes, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// FormatDuration writes d without the zero units time.Duration.String
// adds ("5m" rather than "5m0s", "720h" rather than "720h0m0s").
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
