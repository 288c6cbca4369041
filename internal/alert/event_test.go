package alert

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/config"
)

func TestKindsMatchConfig(t *testing.T) {
	// config validates event filters without importing this package: its
	// list must name exactly these kinds.
	var names []string
	for _, k := range Kinds() {
		names = append(names, string(k))
	}
	if want := config.AlertEventKinds(); !slices.Equal(names, want) {
		t.Errorf("alert kinds %v, config accepts %v", names, want)
	}
}

func TestParseFilter(t *testing.T) {
	tests := []struct {
		in      []string
		match   []Kind
		nomatch []Kind
		str     string
		err     string
	}{
		{in: []string{"all"}, match: Kinds(), nomatch: []Kind{KindTest, "bogus"}, str: "all"},
		{in: []string{"low", " exhausted"}, match: []Kind{KindLow, KindExhausted},
			nomatch: []Kind{KindReset, KindPoolExhausted, KindTest}, str: "low,exhausted"},
		{in: []string{"pool_exhausted", "all"}, match: Kinds(), str: "all"},
		{in: []string{"low", "exhaustd"}, err: `unknown alert kind "exhaustd"`},
		{in: nil, err: "no alert kind selected"},
	}
	for _, tt := range tests {
		f, err := ParseFilter(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseFilter(%q) = %v, want error %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tt.in, err)
			continue
		}
		for _, k := range tt.match {
			if !f.Match(k) {
				t.Errorf("filter %q does not match %s", tt.in, k)
			}
		}
		for _, k := range tt.nomatch {
			if f.Match(k) {
				t.Errorf("filter %q matches %s", tt.in, k)
			}
		}
		if f.String() != tt.str {
			t.Errorf("filter %q String = %q, want %q", tt.in, f.String(), tt.str)
		}
	}
}

func TestSeverities(t *testing.T) {
	want := map[Kind]Severity{
		KindLow: SeverityWarning, KindExhausted: SeverityCritical, KindReset: SeverityInfo,
		KindPoolExhausted: SeverityCritical, KindPoolReset: SeverityInfo, KindForecast: SeverityWarning,
		KindNeedsLogin: SeverityWarning, KindVerification: SeverityWarning, KindForbidden: SeverityWarning,
		KindOAuthClient: SeverityWarning, KindTest: SeverityInfo,
	}
	for k, s := range want {
		if got := k.Severity(); got != s {
			t.Errorf("%s severity = %s, want %s", k, got, s)
		}
	}
}

// TestEventSchema pins the webhook's JSON: the README documents exactly
// these names, and receivers depend on them. A change here is a schema
// change.
func TestEventSchema(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	zero := 0.0
	full := newEvent(KindPoolExhausted, at, "gemini: every account is out of quota", "msg")
	full.Account = &Account{ID: 7, Email: "ada@example.com", Label: "ada", Tier: "ULTRA"}
	full.Family = "gemini"
	full.Remaining = &zero
	full.Window = "5h"
	full.ResetAt = at.Add(2 * time.Hour)
	full.Pool = &Pool{Accounts: 3, Usable: 0}
	full.Forecast = &Forecast{EmptyAt: at.Add(time.Hour), BurnPerHour: 0.25}
	full.URL = "https://accounts.example/verify"
	full.Sample = true
	got, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schema":"quotatui.alert/v1","kind":"pool_exhausted","severity":"critical","at":"2026-11-27T12:00:00Z",` +
		`"title":"gemini: every account is out of quota","message":"msg",` +
		`"account":{"id":7,"email":"ada@example.com","label":"ada","tier":"ULTRA"},"family":"gemini",` +
		`"remaining":0,"window":"5h","reset_at":"2026-11-27T14:00:00Z","pool":{"accounts":3,"usable":0},` +
		`"forecast":{"empty_at":"2026-11-27T13:00:00Z","burn_per_hour":0.25},"url":"https://accounts.example/verify","sample":true}`
	if string(got) != want {
		t.Errorf("event JSON\n got %s\nwant %s", got, want)
	}

	// Fields that do not apply are left out; a remaining of 0 is not
	// (proto3 taught us what a missing zero costs).
	bare, _ := json.Marshal(newEvent(KindNeedsLogin, at, "t", "m"))
	if want := `{"schema":"quotatui.alert/v1","kind":"needs_login","severity":"warning","at":"2026-11-27T12:00:00Z","title":"t","message":"m"}`; string(bare) != want {
		t.Errorf("bare event JSON\n got %s\nwant %s", bare, want)
	}
}

func TestSampleCarriesTheAccountFields(t *testing.T) {
	s := Sample(t0)
	if s.Kind != KindTest || !s.Sample || s.Account == nil || s.Remaining == nil || s.ResetAt.IsZero() || s.Family == "" {
		t.Errorf("sample lacks fields a real alert has: %+v", s)
	}
	if AllKinds.Match(s.Kind) {
		t.Error("a filter selects the test kind")
	}
}
