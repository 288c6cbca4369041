package auth

import "testing"

// What a headless user pastes is either sent as a code or refused with a
// reason before anything is sent.
func TestParsePasted(t *testing.T) {
	tests := []struct {
		line     string
		code     string // "" when refused
		state    string
		errCode  string
		refused  bool
		barePast bool // accepted as a bare code (no state to check)
	}{
		{line: "http://127.0.0.1:4242/oauth-callback?code=4/0AeaY-x_1&state=s1", code: "4/0AeaY-x_1", state: "s1"},
		{line: "?code=4/abc12345&state=s2", code: "4/abc12345", state: "s2"},
		{line: "code=4/abc12345&state=s3", code: "4/abc12345", state: "s3"},
		{line: "http://127.0.0.1:4242/oauth-callback?error=access_denied&state=s4", errCode: "access_denied", state: "s4"},
		{line: "4/0AeaYSHxyz_-.~", code: "4/0AeaYSHxyz_-.~", barePast: true},
		{line: "4%2F0AeaYSHxyz", code: "4/0AeaYSHxyz", barePast: true},
		{line: "the code is on the other screen", refused: true},
		{line: "yes", refused: true},
		{line: "https://accounts.google.com/o/oauth2/v2/auth?client_id=x&scope=openid", refused: true},
		{line: "http://127.0.0.1:4242/oauth-callback", refused: true},
		{line: "code=%zz", refused: true},
		{line: "4/abc<script>", refused: true},
	}
	for _, tt := range tests {
		res, err := parsePasted(tt.line)
		if tt.refused {
			if err == nil {
				t.Errorf("%q accepted as code %q; want it refused", tt.line, res.code)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q refused: %v", tt.line, err)
			continue
		}
		if res.code != tt.code || res.state != tt.state || res.errCode != tt.errCode {
			t.Errorf("%q read as code %q state %q error %q; want %q %q %q", tt.line, res.code, res.state, res.errCode, tt.code, tt.state, tt.errCode)
		}
		if tt.barePast && !res.pasted {
			t.Errorf("%q: a bare code must be accepted without a state", tt.line)
		}
	}
}
