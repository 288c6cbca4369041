package config

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

const clientsFile = `
[oauth]
client_id = "mine.apps.googleusercontent.com"
client_secret = "my-secret"
default_client = "default"

[oauth.clients.antigravity]
client_id = "ag.apps.googleusercontent.com"
client_secret = "ag-secret"

[oauth.clients.gemini-cli]
client_id = "cli.apps.googleusercontent.com"
client_secret = "cli-secret"
`

// Several OAuth clients can be configured: [oauth.clients.<name>] tables
// beside the default client of oauth.client_id / oauth.client_secret.
func TestOAuthClients(t *testing.T) {
	c, src, err := load(t, nil, nil, clientsFile)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]OAuthClient{
		"antigravity": {ClientID: "ag.apps.googleusercontent.com", ClientSecret: "ag-secret"},
		"gemini-cli":  {ClientID: "cli.apps.googleusercontent.com", ClientSecret: "cli-secret"},
	}
	if !reflect.DeepEqual(c.OAuth.Clients, want) {
		t.Errorf("clients = %+v, want %+v", c.OAuth.Clients, want)
	}
	all := c.OAuthClients()
	if len(all) != 3 || all[0].Name != "default" || all[0].ClientID != "mine.apps.googleusercontent.com" || !all[0].Default ||
		all[1].Name != "antigravity" || all[1].Default || all[2].Name != "gemini-cli" {
		t.Errorf("OAuthClients() = %+v, want default first, then by name", all)
	}
	var b bytes.Buffer
	if err := Print(&b, c, src); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, line := range []string{`oauth.clients.antigravity.client_id = "ag.apps.googleusercontent.com"`, "oauth.clients.antigravity.client_secret = [set]"} {
		if !strings.Contains(out, line) {
			t.Errorf("Print lacks %q:\n%s", line, out)
		}
	}
	if strings.Contains(out, "ag-secret") || strings.Contains(out, "cli-secret") {
		t.Errorf("Print shows a client secret:\n%s", out)
	}

	// A named client can be the default, without the legacy keys.
	c, _, err = load(t, nil, nil, "[oauth]\ndefault_client = \"antigravity\"\n[oauth.clients.antigravity]\nclient_id = \"a\"\nclient_secret = \"s\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if all := c.OAuthClients(); len(all) != 1 || all[0].Name != "antigravity" || !all[0].Default {
		t.Errorf("OAuthClients() = %+v, want antigravity as the default", all)
	}
}

func TestOAuthClientErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []string
	}{
		{"no secret", "[oauth.clients.ag]\nclient_id = \"a\"\n", []string{"oauth.clients.ag.client_secret", "missing"}},
		{"no id", "[oauth.clients.ag]\nclient_secret = \"s\"\n", []string{"oauth.clients.ag.client_id", "missing"}},
		{"unknown key", "[oauth.clients.ag]\nclient_id = \"a\"\nclient_secret = \"s\"\nsecret = \"x\"\n", []string{"line 4", "unknown key oauth.clients.ag.secret"}},
		{"not a table", "[oauth]\nclients = 3\n", []string{"oauth.clients", "want a table"}},
		{"wrong type", "[oauth.clients.ag]\nclient_id = 7\nclient_secret = \"s\"\n", []string{"oauth.clients.ag.client_id", "want a string"}},
		{"bad name", "[oauth.clients.\"a b\"]\nclient_id = \"a\"\nclient_secret = \"s\"\n", []string{`oauth.clients."a b"`, "letters, digits"}},
		{"same id twice", "[oauth]\nclient_id = \"a\"\nclient_secret = \"s\"\n[oauth.clients.ag]\nclient_id = \"a\"\nclient_secret = \"t\"\n", []string{"client id \"a\"", "default", "ag"}},
		{"default twice", "[oauth]\nclient_id = \"a\"\nclient_secret = \"s\"\n[oauth.clients.default]\nclient_id = \"b\"\nclient_secret = \"t\"\n", []string{"oauth.clients.default", "oauth.client_id"}},
		{"default unknown", "[oauth]\ndefault_client = \"nope\"\n", []string{"oauth.default_client", "nope", "no such client"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := load(t, nil, nil, tt.file)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
