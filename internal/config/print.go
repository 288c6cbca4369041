package config

import (
	"fmt"
	"io"
	"strings"
)

// Print writes the effective configuration: the config file's path, then
// one `key = value   # source` line per setting in file order. Secrets
// (proxy.api_key, oauth.client_secret) show only [set] or [not set]. The
// lines are TOML apart from the secrets, so they can seed a config file.
func Print(w io.Writer, cfg Config, src Sources) error {
	state := "not found, defaults apply"
	if src.FileFound {
		state = "read"
	}
	file := src.File
	if file == "" {
		file = "(none)"
	}
	if _, err := fmt.Fprintf(w, "# config file: %s (%s; path from %s)\n", file, state, src.FileFrom); err != nil {
		return fmt.Errorf("print config: %w", err)
	}
	const maxAlign = 60
	lines := make([]string, len(settings))
	width := 0
	for i, s := range settings {
		var value string
		if secretKeys[s.key] {
			value = "[not set]"
			if s.field(&cfg).String() != "" {
				value = "[set]"
			}
		} else {
			value = s.format(s.field(&cfg))
		}
		lines[i] = s.key + " = " + value
		// A very long value (the base URL list) would push every comment
		// off screen: it gets its comment at the usual column's end instead.
		if len(lines[i]) <= maxAlign {
			width = max(width, len(lines[i]))
		}
	}
	var b strings.Builder
	for i, s := range settings {
		fmt.Fprintf(&b, "%-*s   # %s\n", width, lines[i], src.Of(s.key))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("print config: %w", err)
	}
	return printClients(w, cfg, src)
}

// WriteReference writes the configuration reference as a Markdown table
// (key, flag, environment variable, default, description) for the README.
func WriteReference(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| key | flag | environment | default | description |\n|---|---|---|---|---|\n")
	for _, k := range Keys() {
		def := "`" + k.Default + "`"
		if k.Default == `""` || k.Default == "" {
			def = "(empty)"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | `%s` | %s | %s |\n", k.Key, k.Flag, k.Env, def,
			strings.ReplaceAll(k.Description, "|", `\|`))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write config reference: %w", err)
	}
	return nil
}
