package auth

import (
	"errors"
	"strings"
	"testing"

	"github.com/quotatui/quotatui/internal/config"
)

func TestCheckSaysHowToConfigure(t *testing.T) {
	tests := []struct {
		name    string
		cfg     OAuthConfig
		missing string
	}{
		{"both missing", OAuthConfig{}, "client id and client secret"},
		{"secret missing", OAuthConfig{ClientID: "id"}, "client secret"},
		{"id blank", OAuthConfig{ClientID: " ", ClientSecret: "s"}, "client id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Check()
			if !errors.Is(err, ErrNoClient) {
				t.Fatalf("Check() = %v, want ErrNoClient", err)
			}
			for _, want := range []string{tt.missing + " missing", EnvClientID, EnvClientSecret, "[oauth]", `client_id = "..."`,
				`client_secret = "..."`, "quotatui config", "ships no OAuth client secret"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Check() error lacks %q:\n%v", want, err)
				}
			}
		})
	}
	if err := (OAuthConfig{ClientID: "id", ClientSecret: "s"}).Check(); err != nil {
		t.Errorf("Check() with both set = %v", err)
	}
}

func TestWithDefaults(t *testing.T) {
	c := OAuthConfig{}.WithDefaults()
	if c.AuthURL != DefaultAuthURL || c.TokenURL != DefaultTokenURL || c.UserInfoURL != DefaultUserInfoURL {
		t.Errorf("default URLs = %q %q %q", c.AuthURL, c.TokenURL, c.UserInfoURL)
	}
	want := []string{"cloud-platform", "userinfo.email", "userinfo.profile", "cclog", "experimentsandconfigs", "openid"}
	joined := strings.Join(c.Scopes, " ")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("default scopes lack %s", w)
		}
	}
	custom := OAuthConfig{TokenURL: "http://127.0.0.1:1/token", Scopes: []string{"x"}}.WithDefaults()
	if custom.TokenURL != "http://127.0.0.1:1/token" || len(custom.Scopes) != 1 {
		t.Errorf("WithDefaults overrode configured values: %+v", custom)
	}
}

func TestFromConfig(t *testing.T) {
	var c config.Config
	c.OAuth.ClientID, c.OAuth.ClientSecret, c.OAuth.TokenURL = "id", "secret", "http://127.0.0.1:9/token"
	got := FromConfig(c)
	if got.ClientID != "id" || got.ClientSecret != "secret" || got.TokenURL != "http://127.0.0.1:9/token" ||
		got.AuthURL != DefaultAuthURL || len(got.Scopes) != len(DefaultScopes) {
		t.Errorf("FromConfig = %+v", got)
	}
	if got.Check() != nil {
		t.Errorf("Check() = %v", got.Check())
	}
}
