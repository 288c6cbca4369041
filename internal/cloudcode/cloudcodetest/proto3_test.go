package cloudcodetest_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// defaults lists the paths in a decoded JSON tree that hold a value proto3
// JSON never writes: 0, "", false, null, [] or {} as an object member.
// List elements are exempt (a repeated field keeps its zeros).
func defaults(v any, path string, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, m := range x {
			p := path + "." + k
			if k == "args" {
				continue // a Struct: arbitrary JSON, written as it is
			}
			switch y := m.(type) {
			case nil:
				*out = append(*out, p+" = null")
			case bool:
				if !y {
					*out = append(*out, p+" = false")
				}
			case string:
				if y == "" {
					*out = append(*out, p+` = ""`)
				}
			case json.Number:
				if f, err := y.Float64(); err == nil && f == 0 {
					*out = append(*out, p+" = "+y.String())
				}
			case []any:
				if len(y) == 0 {
					*out = append(*out, p+" = []")
				}
			case map[string]any:
				if len(y) == 0 {
					*out = append(*out, p+" = {}")
				}
			}
			defaults(m, p, out)
		}
	case []any:
		for i, e := range x {
			defaults(e, fmt.Sprintf("%s[%d]", path, i), out)
		}
	}
}

// checkProto3 fails the test for every default value in body.
func checkProto3(t *testing.T, what string, body []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		t.Fatalf("%s: not JSON (%v): %s", what, err, body)
	}
	var bad []string
	defaults(tree, "", &bad)
	for _, b := range bad {
		t.Errorf("%s: %s would not be sent by Google (proto3 JSON leaves defaults out)", what, b)
	}
}

// Every answer of every method, including the generation answers and
// their usage metadata, is encoded as proto3 JSON.
func TestAnswersAreProto3JSON(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{StreamChunks: 2})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "proto@example.com", TierID: "free-tier"})
	// Zeros to leave out: an empty 5h bucket, an empty weekly bucket.
	s.srv.SetRemaining(acct.Email, cloudcode.FamilyGemini, cloudcode.WindowWeekly, 0)
	s.srv.Drain(acct.Email, cloudcode.FamilyClaudeGPT)
	project := `{"project":"` + acct.Project + `"}`
	calls := []struct{ method, rpc, body string }{
		{http.MethodPost, "loadCodeAssist", `{"metadata":{"ideType":"ANTIGRAVITY"}}`},
		{http.MethodPost, "fetchAvailableModels", project},
		{http.MethodPost, "retrieveUserQuotaSummary", project},
		{http.MethodPost, "countTokens", `{"request":{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}}`},
		{http.MethodPost, "listExperiments", project},
		{http.MethodPost, "retrieveUserQuota", project},
		{http.MethodPost, "fetchAdminControls", project},
		{http.MethodPost, "recordCodeAssistMetrics", project},
		{http.MethodPost, "onboardUser", `{"tierId":"free-tier"}`},
		{http.MethodGet, "getCodeAssistGlobalUserSetting", ""},
		{http.MethodPost, "setCodeAssistGlobalUserSetting", `{"freeTierDataCollectionOptin":false}`},
	}
	for _, c := range calls {
		status, body := s.raw(t, c.method, c.rpc, acct.AccessToken, []byte(c.body))
		if status != http.StatusOK {
			t.Errorf("%s: status %d: %s", c.rpc, status, body)
			continue
		}
		checkProto3(t, c.rpc, body)
	}
	// Generation: a thinking-free Gemini model has no thoughts to count.
	s.srv.SetRemaining(acct.Email, cloudcode.FamilyGemini, cloudcode.WindowWeekly, 1)
	status, body := s.raw(t, http.MethodPost, "generateContent", acct.AccessToken, genBody(acct.Project, "gemini-3.1-flash-lite"))
	if status != http.StatusOK {
		t.Fatalf("generateContent: %d %s", status, body)
	}
	checkProto3(t, "generateContent", body)
	status, body = s.raw(t, http.MethodPost, "streamGenerateContent", acct.AccessToken, genBody(acct.Project, "gemini-3-flash"))
	if status != http.StatusOK {
		t.Fatalf("streamGenerateContent: %d %s", status, body)
	}
	checkProto3(t, "streamGenerateContent (array)", body)

	req, _ := http.NewRequest(http.MethodPost, s.srv.BaseURLs()[0]+":streamGenerateContent?alt=sse", bytes.NewReader(genBody(acct.Project, "gemini-3-flash")))
	req.Header.Set("Authorization", "Bearer "+acct.AccessToken)
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	events := 0
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			events++
			checkProto3(t, fmt.Sprintf("SSE event %d", events), []byte(data))
		}
	}
	if events != 2 {
		t.Errorf("%d SSE events, want 2", events)
	}
}

// The one test that reads the simulator's raw bytes: an empty bucket and
// an exhausted model carry a reset time and no remainingFraction at all,
// exactly as Google sends them.
func TestZeroFractionIsLeftOut(t *testing.T) {
	s := newSim(t, cloudcodetest.Options{})
	acct := s.srv.AddAccount(cloudcodetest.AccountSpec{Email: "zero@example.com", TierID: "g1-pro-tier"})
	s.srv.SetRemaining(acct.Email, cloudcode.FamilyGemini, cloudcode.WindowWeekly, 0)
	s.srv.Drain(acct.Email, cloudcode.FamilyClaudeGPT)
	project := []byte(`{"project":"` + acct.Project + `"}`)

	_, body := s.raw(t, http.MethodPost, "retrieveUserQuotaSummary", acct.AccessToken, project)
	var sum struct {
		Groups []struct {
			Buckets []map[string]json.RawMessage `json:"buckets"`
		} `json:"groups"`
		QuotaSummary *struct {
			Groups []struct {
				Buckets []map[string]json.RawMessage `json:"buckets"`
			} `json:"groups"`
		} `json:"quotaSummary"`
	}
	if err := json.Unmarshal(body, &sum); err != nil {
		t.Fatal(err)
	}
	groups := sum.Groups
	if sum.QuotaSummary != nil {
		groups = sum.QuotaSummary.Groups
	}
	empty := map[string]bool{}
	for _, g := range groups {
		for _, b := range g.Buckets {
			var id string
			json.Unmarshal(b["bucketId"], &id)
			_, hasFraction := b["remainingFraction"]
			_, hasReset := b["resetTime"]
			if !hasReset {
				t.Errorf("bucket %s has no resetTime: %v", id, b)
			}
			if !hasFraction {
				empty[id] = true
			}
		}
	}
	want := map[string]bool{"gemini-weekly": true, "3p-5h": true}
	if fmt.Sprint(empty) != fmt.Sprint(want) {
		t.Errorf("buckets sent without remainingFraction: %v, want %v (raw %s)", empty, want, body)
	}
	if bytes.Contains(body, []byte(`"remainingFraction":0`)) {
		t.Errorf("a 0 fraction was written out: %s", body)
	}

	_, body = s.raw(t, http.MethodPost, "fetchAvailableModels", acct.AccessToken, project)
	var cat struct {
		Models map[string]struct {
			QuotaInfo map[string]json.RawMessage `json:"quotaInfo"`
		} `json:"models"`
	}
	if err := json.Unmarshal(body, &cat); err != nil {
		t.Fatal(err)
	}
	qi := cat.Models["claude-sonnet-4-6-thinking"].QuotaInfo
	if _, ok := qi["remainingFraction"]; ok || qi["resetTime"] == nil {
		t.Errorf("exhausted model's quotaInfo = %v, want only a resetTime", qi)
	}
	if bytes.Contains(body, []byte(`"remainingFraction":0,`)) || bytes.Contains(body, []byte(`"remainingFraction":0}`)) {
		t.Errorf("a 0 fraction was written out: %s", body)
	}
}
