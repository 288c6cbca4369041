package config

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"

	"github.com/BurntSushi/toml"
)

// A refresh token refreshes only with the OAuth client that issued it, so
// accounts imported from other tools (issued to their clients) need those
// clients configured beside the one quotatui signs in with. The client of
// oauth.client_id / oauth.client_secret is named "default"; more come from
// [oauth.clients.<name>] tables in the config file:
//
//	[oauth.clients.antigravity]
//	client_id = "..."
//	client_secret = "..."
//
// They are read from the file only (a name cannot be spelled as one
// environment variable or flag); oauth.default_client picks the one login
// uses.

// DefaultClientName is the name of the client oauth.client_id and
// oauth.client_secret define.
const DefaultClientName = "default"

// OAuthClient is one OAuth client: the id and secret its registrant got.
type OAuthClient struct {
	ClientID     string
	ClientSecret string // secret: never printed
}

// NamedClient is a configured OAuth client with its name.
type NamedClient struct {
	Name         string
	ClientID     string
	ClientSecret string
	Default      bool // the client named by oauth.default_client
}

// OAuthClients returns every configured client: the default client first,
// then the others by name. The client of oauth.client_id and
// oauth.client_secret is listed (as "default") when either is set.
func (c Config) OAuthClients() []NamedClient {
	var out []NamedClient
	if c.OAuth.ClientID != "" || c.OAuth.ClientSecret != "" {
		out = append(out, NamedClient{Name: DefaultClientName, ClientID: c.OAuth.ClientID, ClientSecret: c.OAuth.ClientSecret})
	}
	names := make([]string, 0, len(c.OAuth.Clients))
	for n := range c.OAuth.Clients {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		cl := c.OAuth.Clients[n]
		out = append(out, NamedClient{Name: n, ClientID: cl.ClientID, ClientSecret: cl.ClientSecret})
	}
	for i := range out {
		out[i].Default = out[i].Name == c.defaultClientName()
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Default && !out[j].Default })
	return out
}

func (c Config) defaultClientName() string {
	if c.OAuth.DefaultClient == "" {
		return DefaultClientName
	}
	return c.OAuth.DefaultClient
}

// clientNameRE is what a client's name may hold: it is a TOML table name
// and appears in `accounts list`.
var clientNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// clientKeys are the keys a client table may hold.
var clientKeys = []string{"client_id", "client_secret"}

// loadClients reads the [oauth.clients.<name>] tables of a decoded file.
// It returns nil when there are none.
func loadClients(path, data string, raw map[string]any) (map[string]OAuthClient, error) {
	oauth, _ := raw["oauth"].(map[string]any)
	v, ok := oauth["clients"]
	if !ok {
		return nil, nil
	}
	line := func(k ...string) string {
		if l := keyLine(data, toml.Key(k)); l > 0 {
			return fmt.Sprintf(", line %d", l)
		}
		return ""
	}
	tables, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("config file %s%s: oauth.clients: want a table of clients ([oauth.clients.<name>]), got %s",
			path, line("oauth", "clients"), tomlType(v))
	}
	var errs []error
	out := make(map[string]OAuthClient, len(tables))
	for name, tv := range tables {
		key := "oauth.clients." + toml.Key{name}.String()
		t, ok := tv.(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("config file %s%s: %s: want a table, got %s", path, line("oauth", "clients", name), key, tomlType(tv)))
			continue
		}
		var cl OAuthClient
		for k, fv := range t {
			if !slices.Contains(clientKeys, k) {
				errs = append(errs, fmt.Errorf("config file %s%s: unknown key %s.%s (a client has client_id and client_secret)",
					path, line("oauth", "clients", name, k), key, k))
				continue
			}
			s, ok := fv.(string)
			if !ok {
				errs = append(errs, fmt.Errorf("config file %s%s: %s.%s: want a string, got %s", path, line("oauth", "clients", name, k), key, k, tomlType(fv)))
				continue
			}
			if k == "client_id" {
				cl.ClientID = s
			} else {
				cl.ClientSecret = s
			}
		}
		out[name] = cl
	}
	if len(out) == 0 {
		out = nil
	}
	return out, errors.Join(errs...)
}

// withoutClients drops the keys under oauth.clients, which loadClients
// reads, from the decoder's list of unused keys.
func withoutClients(keys []toml.Key) []toml.Key {
	out := keys[:0:0]
	for _, k := range keys {
		if len(k) >= 2 && k[0] == "oauth" && k[1] == "clients" {
			continue
		}
		out = append(out, k)
	}
	return out
}

// validateClients checks the client tables and oauth.default_client.
func (v *validator) validateClients() {
	c := v.c
	names := make([]string, 0, len(c.OAuth.Clients))
	for n := range c.OAuth.Clients {
		names = append(names, n)
	}
	sort.Strings(names)
	src := v.source("oauth.default_client")
	for _, n := range names {
		cl := c.OAuth.Clients[n]
		key := "oauth.clients." + toml.Key{n}.String()
		if !clientNameRE.MatchString(n) {
			v.errs = append(v.errs, fmt.Errorf("%s: a client's name may hold only letters, digits, '-' and '_'", key))
		}
		if cl.ClientID == "" {
			v.errs = append(v.errs, fmt.Errorf("%s.client_id: missing", key))
		}
		if cl.ClientSecret == "" {
			v.errs = append(v.errs, fmt.Errorf("%s.client_secret: missing (the OAuth client's secret)", key))
		}
		if n == DefaultClientName && (c.OAuth.ClientID != "" || c.OAuth.ClientSecret != "") {
			v.errs = append(v.errs, fmt.Errorf("%s: the client named %q is already oauth.client_id / oauth.client_secret: give this one another name", key, DefaultClientName))
		}
	}
	byID := map[string]string{}
	for _, cl := range c.OAuthClients() {
		if cl.ClientID == "" {
			continue
		}
		if other, dup := byID[cl.ClientID]; dup {
			v.errs = append(v.errs, fmt.Errorf("client id %q is configured twice, as %s and %s: accounts are matched to clients by id",
				cl.ClientID, other, cl.Name))
		}
		byID[cl.ClientID] = cl.Name
	}
	name := c.defaultClientName()
	if name == DefaultClientName {
		return // the legacy keys; Check says how to set them when they are needed
	}
	if _, ok := c.OAuth.Clients[name]; !ok {
		v.errs = append(v.errs, &SettingError{Key: "oauth.default_client", Value: strconv.Quote(name),
			Problem: fmt.Sprintf("no such client: add an [oauth.clients.%s] table, or name one of %v", name, names), Source: src})
	}
}

// printClients writes the client tables' lines for Print.
func printClients(w io.Writer, c Config, src Sources) error {
	for _, cl := range c.OAuthClients() {
		if cl.Name == DefaultClientName && c.OAuth.Clients[DefaultClientName] == (OAuthClient{}) {
			continue // printed as oauth.client_id / client_secret above
		}
		key := "oauth.clients." + toml.Key{cl.Name}.String()
		if _, err := fmt.Fprintf(w, "%s.client_id = %s   # file %s\n%s.client_secret = [set]   # file %s\n",
			key, strconv.Quote(cl.ClientID), src.File, key, src.File); err != nil {
			return fmt.Errorf("print config: %w", err)
		}
	}
	return nil
}
