package auth

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"access token", "got ya29.a0AfB_byC-1234.xyz back", "got [REDACTED] back"},
		{"refresh token", "token 1//0gABCdef-ghi_jkl rejected", "token [REDACTED] rejected"},
		{"bearer header", "Authorization: Bearer abc.def-123", "Authorization: Bearer [REDACTED]"},
		{"bearer lower case", "authorization: bearer abc", "authorization: bearer [REDACTED]"},
		{"json refresh_token", `{"refresh_token": "anything at all", "email":"a@b.c"}`, `{"refresh_token": "[REDACTED]", "email":"a@b.c"}`},
		{"json access_token", `{"access_token":"short","expires_in":3599}`, `{"access_token":"[REDACTED]","expires_in":3599}`},
		{"json escaped quote", `{"access_token":"a\"b","x":1}`, `{"access_token":"[REDACTED]","x":1}`},
		{"json client_secret", `{"client_secret":"GOCSPX-abc"}`, `{"client_secret":"[REDACTED]"}`},
		{"form body", "grant_type=refresh_token&refresh_token=zzz&client_id=x", "grant_type=refresh_token&refresh_token=[REDACTED]&client_id=x"},
		{"callback code", "/oauth-callback?state=s&code=4/0AbCdEfGhIjKlMn&scope=x", "/oauth-callback?state=s&code=[REDACTED]&scope=x"},
		{"code_challenge kept", "code_challenge=abc&code_challenge_method=S256", "code_challenge=abc&code_challenge_method=S256"},
		{"jwt", "id eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl end", "id [REDACTED] end"},
		{"long base64url run", "key AIzaSyD-0123456789abcdefghijklmnopqrstuv here", "key [REDACTED] here"},
		{"plain text untouched", "quota exhausted until 2026-11-27T19:00:00Z (HTTP 429): Resets in 9h22m20s.", "quota exhausted until 2026-11-27T19:00:00Z (HTTP 429): Resets in 9h22m20s."},
		{"email and project untouched", "account 3 (alice@example.com) project alice-project-12345", "account 3 (alice@example.com) project alice-project-12345"},
		{"error code number untouched", `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}}`, `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedactToken(t *testing.T) {
	tok := "1//0gSecretRefreshToken"
	fp := RedactToken(tok)
	if strings.Contains(fp, "Secret") || strings.Contains(fp, tok[:6]) {
		t.Errorf("fingerprint %q reveals the token", fp)
	}
	if fp != RedactToken(tok) || fp == RedactToken(tok+"x") {
		t.Error("fingerprint not stable or not distinctive")
	}
	if RedactToken("") != "(none)" {
		t.Errorf("RedactToken(\"\") = %q", RedactToken(""))
	}
}

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

func TestRedactingHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewRedactingHandler(slog.NewTextHandler(&buf, nil)))
	log = log.With("pre", "Bearer ya29.pre-attr")
	log.WithGroup("g").Info("sent ya29.in-message",
		"body", `{"refresh_token":"1//in-json"}`,
		"err", errors.New("failed for 1//in-error"),
		"who", stringer{"ya29.in-stringer"},
		slog.Group("grp", "tok", "1//in-group"),
		"n", 42,
	)
	out := buf.String()
	for _, secret := range []string{"ya29.pre-attr", "ya29.in-message", "1//in-json", "1//in-error", "ya29.in-stringer", "1//in-group"} {
		if strings.Contains(out, secret) {
			t.Errorf("log line leaks %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "g.n=42") || !strings.Contains(out, "[REDACTED]") {
		t.Errorf("log line lost structure:\n%s", out)
	}
}
