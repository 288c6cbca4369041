package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/store"
)

// TestSecretFlagsWarn (issue 11.12): a secret given as a flag is visible
// to every user in the process list: quotatui says so and names the
// environment variable to use; given in the environment, it says nothing.
func TestSecretFlagsWarn(t *testing.T) {
	const key = "flag-api-key-0123456789"
	r := runCLI(t, testEnv(t), "", "config", "--proxy-api-key", key, "--oauth-client-secret", "flag-secret-value")
	if r.code != 0 {
		t.Fatalf("config exited %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"proxy.api_key was given as the flag --proxy-api-key", "set QUOTATUI_PROXY_API_KEY",
		"oauth.client_secret was given as the flag --oauth-client-secret", "set QUOTATUI_OAUTH_CLIENT_SECRET",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, key) {
		t.Error("the warning printed the key")
	}
	r = runCLI(t, testEnv(t, "QUOTATUI_PROXY_API_KEY="+key), "", "config")
	if strings.Contains(r.stderr, "warning") {
		t.Errorf("a key from the environment warned:\n%s", r.stderr)
	}
}

// TestServeKeepsCounters (issue 12.5): `serve` saves the proxy's counters
// when it stops, and the next `serve` on the database starts from them.
func TestServeKeepsCounters(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "quotatui.db")
	srv, _ := seedSim(t, dbPath, cloudcodetest.AccountSpec{Email: "ada@example.com", TierID: "g1-pro-tier"})
	const key = "counters-test-key"
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	const body = `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`
	for round, want := range []int64{2, 4} {
		s := startServe(t, append(simFlags(srv, dbPath), "--proxy-listen", "127.0.0.1:0", "--proxy-api-key", key)...)
		for range 2 {
			if code := post(t, c, s.url+"/v1beta/models/gemini-3-flash:generateContent", key, "s", body); code != http.StatusOK {
				t.Fatalf("round %d: status %d", round, code)
			}
		}
		tr.CloseIdleConnections()
		if code := s.stop(t); code != 0 {
			t.Fatalf("serve exited %d: %s", code, s.stderr.String())
		}
		st, err := store.Open(context.Background(), dbPath)
		if err != nil {
			t.Fatal(err)
		}
		got, err := st.Counters(context.Background())
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got["proxy.requests"] != want || got["proxy.status.200"] != want {
			t.Errorf("round %d: stored counters %v, want %d requests answered 200", round, got, want)
		}
	}
}
