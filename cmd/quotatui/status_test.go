package main

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/store"
)

// statusAccounts are the accounts the status tests seed: every one with
// quota for both families, so that a pool with nothing done to it is all
// usable (a free account's Claude/GPT pool is empty by plan: see
// TestStatusJSONMatchesStoreAndSimulator).
var statusAccounts = []cloudcodetest.AccountSpec{
	{Email: "ada@example.com", TierID: "g1-pro-tier"},
	{Email: "grace@example.com", TierID: "g1-ultra-tier"},
	{Email: "linus@example.com", TierID: "standard-tier"},
}

// statusOut is the part of `status --json` the tests read.
type statusOut struct {
	ID       int64  `json:"id"`
	Email    string `json:"email"`
	Label    string `json:"label"`
	Tier     string `json:"tier"`
	State    string `json:"state"`
	Status   string `json:"status"`
	Families map[string]struct {
		Effective  *float64 `json:"effective"`
		FiveHour   *float64 `json:"five_hour"`
		Weekly     *float64 `json:"weekly"`
		Bottleneck string   `json:"bottleneck"`
		Decision   string   `json:"decision"`
	} `json:"families"`
}

func statusSetup(t *testing.T) (*cloudcodetest.Server, string, func(string) string) {
	t.Helper()
	dbPath := filepath.Join(t.TempDir(), "quotatui.db")
	srv, _ := seedSim(t, dbPath, statusAccounts...)
	return srv, dbPath, testEnv(t)
}

func TestStatusJSONMatchesStoreAndSimulator(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "quotatui.db")
	// One account per tier: the free one has no Claude/GPT quota (Google
	// gives free accounts none), so status exits 3 (exhausted).
	srv, _ := seedSim(t, dbPath, append(statusAccounts[:2:2], cloudcodetest.AccountSpec{Email: "linus@example.com", TierID: "free-tier"})...)
	env := testEnv(t)
	// ada's weekly bucket is the bottleneck, grace's 5-hour one.
	srv.SetRemaining("ada@example.com", cloudcode.FamilyGemini, cloudcode.Window5h, 0.6)
	srv.SetRemaining("ada@example.com", cloudcode.FamilyGemini, cloudcode.WindowWeekly, 0.4)
	srv.SetRemaining("grace@example.com", cloudcode.FamilyClaudeGPT, cloudcode.Window5h, 0.3)
	srv.SetRemaining("grace@example.com", cloudcode.FamilyClaudeGPT, cloudcode.WindowWeekly, 0.8)

	r := runCLI(t, env, "", append([]string{"status", "--json"}, simFlags(srv, dbPath)...)...)
	if r.code != exitExhausted {
		t.Fatalf("status --json exited %d, want %d (the free account's empty Claude pool); stderr: %s", r.code, exitExhausted, r.stderr)
	}
	var got []statusOut
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("status --json output does not parse: %v\n%s", err, r.stdout)
	}

	st, err := store.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored, err := st.Accounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(stored) {
		t.Fatalf("status lists %d accounts, the store holds %d", len(got), len(stored))
	}
	byEmail := map[string]statusOut{}
	for _, s := range got {
		byEmail[s.Email] = s
	}
	wantTier := map[string]string{"ada@example.com": "PRO", "grace@example.com": "ULTRA", "linus@example.com": "FREE"}
	for _, a := range stored {
		s, ok := byEmail[a.Email]
		if !ok {
			t.Errorf("%s is in the store but not in status", a.Email)
			continue
		}
		if s.ID != a.ID || s.Label != a.Label {
			t.Errorf("%s: status id %d label %q; store id %d label %q", a.Email, s.ID, s.Label, a.ID, a.Label)
		}
		// The sync detected the tier and persisted it: both agree with the
		// simulator's plan.
		if s.Tier != wantTier[a.Email] || a.Tier != wantTier[a.Email] {
			t.Errorf("%s: tier in status %q, in store %q; want %q", a.Email, s.Tier, a.Tier, wantTier[a.Email])
		}
		wantStatus := "OK"
		if s.Tier == "FREE" {
			wantStatus = "EXHAUSTED"
		}
		if s.State != string(store.StateActive) || s.Status != wantStatus {
			t.Errorf("%s: state %q status %q; want active %s", a.Email, s.State, s.Status, wantStatus)
		}
	}

	tests := []struct {
		email, family        string
		effective, five      float64
		weekly               float64
		bottleneck, decision string
	}{
		{"ada@example.com", "gemini", 0.4, 0.6, 0.4, "weekly", "Proceed"},
		{"grace@example.com", "claude-gpt", 0.3, 0.3, 0.8, "5h", "Proceed"},
		{"linus@example.com", "gemini", 1, 1, 1, "", "Proceed"},
		{"linus@example.com", "claude-gpt", 0, 0, 0, "", "Exhausted"},
	}
	for _, tt := range tests {
		fam, ok := byEmail[tt.email].Families[tt.family]
		if !ok {
			t.Errorf("%s: no %s family in %+v", tt.email, tt.family, byEmail[tt.email].Families)
			continue
		}
		for _, v := range []struct {
			name string
			got  *float64
			want float64
		}{{"effective", fam.Effective, tt.effective}, {"five_hour", fam.FiveHour, tt.five}, {"weekly", fam.Weekly, tt.weekly}} {
			if v.got == nil || math.Abs(*v.got-v.want) > 1e-6 {
				t.Errorf("%s %s %s = %v; want %v", tt.email, tt.family, v.name, deref(v.got), v.want)
			}
		}
		// With both buckets full either may be named the bottleneck.
		if tt.bottleneck != "" && fam.Bottleneck != tt.bottleneck {
			t.Errorf("%s %s bottleneck %q; want %q", tt.email, tt.family, fam.Bottleneck, tt.bottleneck)
		}
		if fam.Decision != tt.decision {
			t.Errorf("%s %s decision %q; want %q", tt.email, tt.family, fam.Decision, tt.decision)
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// statusExitCases are the pools whose exit status status is tested with,
// by syncing itself and through a running serve.
var statusExitCases = []struct {
	name  string
	setup func(*cloudcodetest.Server)
	want  int
	word  string // expected in the table output
}{
	{"all usable", func(*cloudcodetest.Server) {}, exitOK, "OK"},
	{"one exhausted", func(s *cloudcodetest.Server) { s.Drain("linus@example.com", cloudcode.FamilyGemini) }, exitExhausted, "EXHAUSTED"},
	{"one needs login", func(s *cloudcodetest.Server) { s.RevokeRefreshToken("grace@example.com") }, exitNeedsHuman, "NEEDS LOGIN"},
	{"both", func(s *cloudcodetest.Server) {
		s.Drain("linus@example.com", cloudcode.FamilyGemini)
		s.RevokeRefreshToken("grace@example.com")
	}, exitBoth, "NEEDS LOGIN"},
	// Every sync fails: nothing shown is current, which is not "usable".
	{"sync failing", func(s *cloudcodetest.Server) {
		s.SetHostDown(cloudcodetest.HostDaily, 503)
		s.SetHostDown(cloudcodetest.HostProd, 503)
	}, exitSyncFailed, "SYNC ERROR"},
	// A failing sync outranks the others: their figures are not current.
	{"sync failing and one needs login", func(s *cloudcodetest.Server) {
		s.RevokeRefreshToken("grace@example.com")
		s.SetHostDown(cloudcodetest.HostDaily, 503)
		s.SetHostDown(cloudcodetest.HostProd, 503)
	}, exitSyncFailed, "NEEDS LOGIN"},
}

func TestStatusExitCodes(t *testing.T) {
	for _, tt := range statusExitCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, dbPath, env := statusSetup(t)
			tt.setup(srv)
			for _, format := range [][]string{{"status", "--json"}, {"status"}} {
				r := runCLI(t, env, "", append(format, simFlags(srv, dbPath)...)...)
				if r.code != tt.want {
					t.Errorf("%s exited %d; want %d\nstdout: %s\nstderr: %s", strings.Join(format, " "), r.code, tt.want, r.stdout, r.stderr)
				}
				if len(format) == 2 {
					var got []statusOut
					if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got) != len(statusAccounts) {
						t.Errorf("status --json: %d accounts, err %v\n%s", len(got), err, r.stdout)
					}
					continue
				}
				for _, label := range []string{"ada", "grace", "linus"} {
					if !strings.Contains(r.stdout, " "+label+" ") {
						t.Errorf("the status table has no row for %s:\n%s", label, r.stdout)
					}
				}
				if !strings.Contains(r.stdout, tt.word) {
					t.Errorf("the status table does not say %s:\n%s", tt.word, r.stdout)
				}
			}
		})
	}
}
