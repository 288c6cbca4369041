package cloudcode_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// sample reads a file under testdata.
func sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantMalformed asserts err is a MalformedResponseError whose problem
// mentions every fragment.
func wantMalformed(t *testing.T, err error, fragments ...string) {
	t.Helper()
	var me *cloudcode.MalformedResponseError
	if !errors.As(err, &me) {
		t.Fatalf("err = %v (%T), want *MalformedResponseError", err, err)
	}
	for _, f := range fragments {
		if !strings.Contains(me.Problem, f) {
			t.Errorf("problem %q does not mention %q", me.Problem, f)
		}
	}
}

func TestParseLoadCodeAssist(t *testing.T) {
	tests := []struct {
		file string
		want cloudcode.Subscription
	}{
		{"pro.json", cloudcode.Subscription{ProjectID: "some-project-12345", Tier: cloudcode.TierPro, TierID: "g1-pro-tier", TierName: "Google AI Pro"}},
		{"ultra.json", cloudcode.Subscription{ProjectID: "ultra-project-777", Tier: cloudcode.TierUltra, TierID: "g1-ultra-tier", TierName: "Google AI Ultra"}},
		{"free.json", cloudcode.Subscription{ProjectID: "free-project-1", Tier: cloudcode.TierFree, TierID: "free-tier", TierName: "Gemini Code Assist for individuals"}},
		// An empty paidTier must not hide currentTier.
		{"project_object.json", cloudcode.Subscription{ProjectID: "object-project-42", Tier: cloudcode.TierFree, TierID: "legacy-tier", TierName: "Legacy"}},
		{"missing_project.json", cloudcode.Subscription{Tier: cloudcode.TierPro, TierID: "g1-plus-tier", TierName: "Google AI Plus"}},
		{"validation_required.json", cloudcode.Subscription{
			Tier: cloudcode.TierFree, TierID: "free-tier", TierName: "Gemini Code Assist for individuals",
			ValidationRequired: true, ValidationURL: "https://accounts.google.com/signin/continue?verify=abc",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := cloudcode.ParseLoadCodeAssist(sample(t, "loadcodeassist/"+tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if *got != tt.want {
				t.Errorf("got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestParseLoadCodeAssistMalformed(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		fragments []string
	}{
		{"project array", string(sample(t, "loadcodeassist/wrong_type.json")), []string{"cloudaicompanionProject", "want string, got array"}},
		{"project id bool", `{"cloudaicompanionProject":{"id":true}}`, []string{"cloudaicompanionProject.id", "got bool"}},
		{"tier not object", `{"paidTier":"g1-pro-tier"}`, []string{"paidTier", "want object, got string"}},
		{"ineligible not array", `{"ineligibleTiers":{}}`, []string{"ineligibleTiers", "want array"}},
		{"html", "<!DOCTYPE html><html></html>", []string{"HTML"}},
		{"empty", "", []string{"empty"}},
		{"array", "[]", []string{"want object, got array"}},
		{"truncated", `{"cloudaicompanionProject":"p`, []string{"not valid JSON"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cloudcode.ParseLoadCodeAssist([]byte(tt.body))
			wantMalformed(t, err, tt.fragments...)
		})
	}
}

func known(v float64) cloudcode.Fraction { return cloudcode.KnownFraction(v) }

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseAvailableModels(t *testing.T) {
	tests := []struct {
		file           string
		wantModels     []cloudcode.ModelQuota
		wantDeprecated map[string]string
	}{
		{
			file: "normal.json",
			wantModels: []cloudcode.ModelQuota{
				{ID: "claude-sonnet-4-6-thinking", DisplayName: "Claude Sonnet 4.6 (Thinking)", Family: cloudcode.FamilyClaudeGPT, Remaining: known(0.4), ResetTime: at("2026-11-27T18:30:00.123Z")},
				{ID: "gemini-3-flash", DisplayName: "Gemini 3 Flash", Family: cloudcode.FamilyGemini, Remaining: known(0.87), ResetTime: at("2026-11-27T19:00:00Z")},
				{ID: "gemini-3-pro-high", DisplayName: "Gemini 3 Pro (High)", Family: cloudcode.FamilyGemini, Remaining: known(1), ResetTime: at("2026-11-27T21:00:00Z")},
				// 0 is a real figure (spent), distinct from unknown.
				{ID: "gpt-oss-120b-medium", DisplayName: "GPT-OSS 120B (Medium)", Family: cloudcode.FamilyClaudeGPT, Remaining: known(0), ResetTime: at("2026-11-27T18:30:00Z")},
			},
			wantDeprecated: map[string]string{"gemini-3-pro-high": "gemini-pro-agent", "gemini-2.5-pro": "gemini-3-pro-high"},
		},
		{
			file: "free_missing_fraction.json",
			wantModels: []cloudcode.ModelQuota{
				// proto3 JSON leaves a 0 out: a quotaInfo that is present
				// without remainingFraction is spent, not unknown.
				{ID: "claude-opus-4-6-thinking", DisplayName: "Claude Opus 4.6 (Thinking)", Family: cloudcode.FamilyClaudeGPT, Remaining: known(0)},
				{ID: "claude-sonnet-4-6-thinking", DisplayName: "Claude Sonnet 4.6 (Thinking)", Family: cloudcode.FamilyClaudeGPT, Remaining: known(0), ResetTime: at("2026-11-27T19:00:00Z")},
				// A bad reset time is unknown; the fraction is still read.
				{ID: "gemini-2.5-flash", DisplayName: "Gemini 2.5 Flash", Family: cloudcode.FamilyGemini, Remaining: known(0.5)},
				// A fraction sent as a string is accepted.
				{ID: "gemini-3-flash", DisplayName: "Gemini 3 Flash", Family: cloudcode.FamilyGemini, Remaining: known(0.25), ResetTime: at("2026-11-27T19:00:00Z")},
				// No quotaInfo at all: unknown.
				{ID: "gpt-oss-120b-medium", DisplayName: "GPT-OSS 120B (Medium)", Family: cloudcode.FamilyClaudeGPT},
			},
		},
		{
			// The prod placeholder parses as what it says; only asking the
			// daily host first avoids it.
			file: "frozen_prod.json",
			wantModels: []cloudcode.ModelQuota{
				{ID: "claude-sonnet-4-6-thinking", DisplayName: "Claude Sonnet 4.6 (Thinking)", Family: cloudcode.FamilyClaudeGPT, Remaining: known(1), ResetTime: at("2026-11-27T21:04:03Z")},
				{ID: "gemini-3-flash", DisplayName: "Gemini 3 Flash", Family: cloudcode.FamilyGemini, Remaining: known(1), ResetTime: at("2026-11-27T21:04:03Z")},
			},
		},
		{file: "empty.json", wantModels: []cloudcode.ModelQuota{}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := cloudcode.ParseAvailableModels(sample(t, "models/"+tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Models, tt.wantModels) {
				t.Errorf("models:\n got %+v\nwant %+v", got.Models, tt.wantModels)
			}
			if !reflect.DeepEqual(got.Deprecated, tt.wantDeprecated) {
				t.Errorf("deprecated = %v, want %v", got.Deprecated, tt.wantDeprecated)
			}
			for _, m := range got.Models {
				if cloudcode.IsInternalModel(m.ID) {
					t.Errorf("internal model %q kept", m.ID)
				}
			}
		})
	}
}

func TestParseAvailableModelsMalformed(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		fragments []string
	}{
		{"models array", string(sample(t, "models/wrong_models_type.json")), []string{"models", "want object, got array"}},
		{"html 200", "<html><body>Sign in</body></html>", []string{"HTML"}},
		{"body array", `[{"models":{}}]`, []string{"want object, got array"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cloudcode.ParseAvailableModels([]byte(tt.body))
			wantMalformed(t, err, tt.fragments...)
		})
	}
}

// One malformed model entry is skipped and reported; the others keep
// their figures (it used to fail the whole sync).
func TestParseAvailableModelsSkipsBadEntries(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		problems []string
	}{
		{"fraction bool", `{"models":{"gemini-3-flash":{"displayName":"Gemini 3 Flash","quotaInfo":{"remainingFraction":true}}}}`, []string{"skipped model gemini-3-flash: models.gemini-3-flash.quotaInfo.remainingFraction: want number, got bool"}},
		{"fraction text", `{"models":{"gemini-3-flash":{"quotaInfo":{"remainingFraction":"lots"}}}}`, []string{`skipped model gemini-3-flash: models.gemini-3-flash.quotaInfo.remainingFraction: want number, got string "lots"`}},
		{"model not object", `{"models":{"gemini-3-flash":7}}`, []string{"skipped model gemini-3-flash: models.gemini-3-flash: want object, got number"}},
		{"model null", `{"models":{"gemini-3-flash":null}}`, []string{"skipped model gemini-3-flash: models.gemini-3-flash: want object, got null"}},
		{"quotaInfo array", `{"models":{"gemini-3-flash":{"quotaInfo":[]}}}`, []string{"skipped model gemini-3-flash: models.gemini-3-flash.quotaInfo: want object, got array"}},
		{"display name object", `{"models":{"gemini-3-flash":{"displayName":{}}}}`, []string{"skipped model gemini-3-flash: models.gemini-3-flash.displayName: want string, got object"}},
		{"deprecated array", `{"models":{},"deprecatedModelIds":[]}`, []string{"ignored deprecatedModelIds: deprecatedModelIds: want object, got array"}},
	}
	good := `"gemini-2.5-flash":{"quotaInfo":{"remainingFraction":0.5,"resetTime":"2026-11-27T19:00:00Z"}}`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := strings.Replace(tt.body, `{"models":{`, `{"models":{`+good+`,`, 1)
			body = strings.Replace(body, `,}`, `}`, 1)
			got, err := cloudcode.ParseAvailableModels([]byte(body))
			if err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			if !reflect.DeepEqual(got.Problems, tt.problems) {
				t.Errorf("problems:\n got %q\nwant %q", got.Problems, tt.problems)
			}
			want := []cloudcode.ModelQuota{{ID: "gemini-2.5-flash", Family: cloudcode.FamilyGemini, Remaining: known(0.5), ResetTime: at("2026-11-27T19:00:00Z")}}
			if !reflect.DeepEqual(got.Models, want) {
				t.Errorf("models = %+v, want the good entry kept", got.Models)
			}
		})
	}
}

// Figures that are not fractions are unknown (never spent, never full)
// and reported; a missing figure in a quotaInfo that is present is 0.
func TestParseFractionRules(t *testing.T) {
	tests := []struct {
		name    string
		qi      string // the quotaInfo member, "" for none
		want    cloudcode.Fraction
		problem string
	}{
		{"no quotaInfo", "", cloudcode.Fraction{}, ""},
		{"empty quotaInfo", `{}`, known(0), ""},
		{"reset only", `{"resetTime":"2026-11-27T19:00:00Z"}`, known(0), ""},
		{"null fraction", `{"remainingFraction":null}`, known(0), ""},
		{"zero written", `{"remainingFraction":0}`, known(0), ""},
		{"coarse step", `{"remainingFraction":0.2}`, known(0.2), ""},
		{"full", `{"remainingFraction":1}`, known(1), ""},
		{"float noise above 1", `{"remainingFraction":1.0000000001}`, known(1), ""},
		{"string", `{"remainingFraction":"0.6"}`, known(0.6), ""},
		{"NaN", `{"remainingFraction":"NaN"}`, cloudcode.Fraction{}, "models.m.quotaInfo.remainingFraction: NaN is not a fraction; read as unknown"},
		{"Infinity", `{"remainingFraction":"Infinity"}`, cloudcode.Fraction{}, "models.m.quotaInfo.remainingFraction: +Inf is not a fraction; read as unknown"},
		{"negative", `{"remainingFraction":-0.5}`, cloudcode.Fraction{}, "models.m.quotaInfo.remainingFraction: -0.5 is negative; read as unknown"},
		{"above one", `{"remainingFraction":1.5}`, cloudcode.Fraction{}, "models.m.quotaInfo.remainingFraction: 1.5 is above 1; read as unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entry := `{}`
			if tt.qi != "" {
				entry = `{"quotaInfo":` + tt.qi + `}`
			}
			got, err := cloudcode.ParseAvailableModels([]byte(`{"models":{"m":` + entry + `}}`))
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Models) != 1 || got.Models[0].Remaining != tt.want {
				t.Errorf("remaining = %+v, want %+v", got.Models, tt.want)
			}
			var wantProblems []string
			if tt.problem != "" {
				wantProblems = []string{tt.problem}
			}
			if !reflect.DeepEqual(got.Problems, wantProblems) {
				t.Errorf("problems = %q, want %q", got.Problems, wantProblems)
			}
			// The same rules hold for a quota summary bucket.
			if tt.qi == "" {
				return
			}
			sum, err := cloudcode.ParseQuotaSummary([]byte(`{"groups":[{"displayName":"Gemini Models","buckets":[` +
				strings.Replace(strings.Replace(tt.qi, "{", `{"bucketId":"gemini-weekly",`, 1), ",}", "}", 1) + `]}]}`))
			if err != nil {
				t.Fatal(err)
			}
			if b, ok := sum.Bucket(cloudcode.FamilyGemini, cloudcode.WindowWeekly); !ok || b.Remaining != tt.want {
				t.Errorf("bucket = %+v (%v), want %+v", b, ok, tt.want)
			}
			if (len(sum.Problems) > 0) != (tt.problem != "") {
				t.Errorf("summary problems = %q", sum.Problems)
			}
		})
	}
}

func TestParseAvailableModelsIgnoresInternalModelTypes(t *testing.T) {
	// An internal model of an odd shape must not fail the catalogue: it is
	// dropped before it is read.
	got, err := cloudcode.ParseAvailableModels([]byte(`{"models":{"chat_1":"x","tab_2":[],"gemini-3-flash":{}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Models) != 1 || got.Models[0].ID != "gemini-3-flash" || got.Models[0].Remaining.Known {
		t.Errorf("models = %+v, want only gemini-3-flash with unknown quota", got.Models)
	}
}

func TestParseQuotaSummary(t *testing.T) {
	tests := []struct {
		file string
		want []cloudcode.Bucket
	}{
		{"top_level.json", []cloudcode.Bucket{
			{Group: "Gemini Models", Family: cloudcode.FamilyGemini, BucketID: "gemini-5h", Window: cloudcode.Window5h, Remaining: known(0.65), ResetTime: at("2026-11-27T19:00:00Z")},
			{Group: "Gemini Models", Family: cloudcode.FamilyGemini, BucketID: "gemini-weekly", Window: cloudcode.WindowWeekly, Remaining: known(0.95), ResetTime: at("2026-12-01T00:00:00Z")},
			{Group: "Claude and GPT models", Family: cloudcode.FamilyClaudeGPT, BucketID: "3p-5h", Window: cloudcode.Window5h, Remaining: known(0.5), ResetTime: at("2026-11-27T18:00:00Z")},
			{Group: "Claude and GPT models", Family: cloudcode.FamilyClaudeGPT, BucketID: "3p-weekly", Window: cloudcode.WindowWeekly, Remaining: known(0), ResetTime: at("2026-12-02T12:00:00Z")},
		}},
		{"wrapped.json", []cloudcode.Bucket{
			// Family and window from the bucket id when the group name
			// and window field say nothing.
			{Group: "Quota group", Family: cloudcode.FamilyGemini, BucketID: "gemini-5h", Window: cloudcode.Window5h, Remaining: known(0.3), ResetTime: at("2026-11-27T19:00:00Z")},
			// No remainingFraction in a bucket that is present: 0 left.
			{Group: "Quota group", Family: cloudcode.FamilyGemini, BucketID: "gemini-weekly", Window: cloudcode.WindowWeekly, Remaining: known(0), ResetTime: at("2026-12-01T00:00:00Z")},
			{Family: cloudcode.FamilyClaudeGPT, BucketID: "3p-5h", Window: cloudcode.Window5h, Remaining: known(1)},
			{Family: cloudcode.FamilyClaudeGPT, BucketID: "3p-weekly", Window: cloudcode.WindowWeekly, Remaining: known(0.2)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := cloudcode.ParseQuotaSummary(sample(t, "summary/"+tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Buckets, tt.want) {
				t.Errorf("buckets:\n got %+v\nwant %+v", got.Buckets, tt.want)
			}
		})
	}
}

func TestParseQuotaSummaryLookup(t *testing.T) {
	got, err := cloudcode.ParseQuotaSummary(sample(t, "summary/top_level.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, ok := got.Bucket(cloudcode.FamilyClaudeGPT, cloudcode.WindowWeekly)
	if !ok || !b.Remaining.Known || b.Remaining.Value != 0 {
		t.Errorf("Claude weekly bucket = %+v, %v; want known 0", b, ok)
	}
}

func TestParseQuotaSummaryMalformed(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		fragments []string
	}{
		{"groups string", `{"groups":"none"}`, []string{"groups", "got string"}},
		{"wrapped groups object", `{"quotaSummary":{"groups":{}}}`, []string{"quotaSummary.groups", "got object"}},
		{"wrapper array", `{"quotaSummary":[]}`, []string{"quotaSummary", "got array"}},
		{"not json", `Service Unavailable`, []string{"not valid JSON"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cloudcode.ParseQuotaSummary([]byte(tt.body))
			wantMalformed(t, err, tt.fragments...)
		})
	}
}

// A malformed group or bucket is skipped and reported; the rest is kept.
func TestParseQuotaSummarySkipsBadEntries(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		problems []string
	}{
		{"buckets object", `{"groups":[{"displayName":"Gemini Models","buckets":{"bucketId":"gemini-5h"}}]}`, []string{"skipped groups[0]: groups[0].buckets: want array, got object"}},
		{"fraction object", `{"groups":[{"buckets":[{"bucketId":"gemini-5h","remainingFraction":{}}]}]}`, []string{"skipped groups[0].buckets[0]: groups[0].buckets[0].remainingFraction: want number, got object"}},
		{"group string", `{"groups":["x"]}`, []string{"skipped groups[0]: groups[0]: want object, got string"}},
		{"bucket null", `{"groups":[{"buckets":[null]}]}`, []string{"skipped groups[0].buckets[0]: groups[0].buckets[0]: want object, got null"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := strings.Replace(tt.body, `"groups":[`, `"groups":[{"displayName":"Claude and GPT models","buckets":[{"bucketId":"3p-weekly","remainingFraction":0.4}]},`, 1)
			got, err := cloudcode.ParseQuotaSummary([]byte(body))
			if err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			for i := range tt.problems {
				tt.problems[i] = strings.ReplaceAll(tt.problems[i], "groups[0]", "groups[1]")
			}
			if !reflect.DeepEqual(got.Problems, tt.problems) {
				t.Errorf("problems:\n got %q\nwant %q", got.Problems, tt.problems)
			}
			if b, ok := got.Bucket(cloudcode.FamilyClaudeGPT, cloudcode.WindowWeekly); !ok || b.Remaining != known(0.4) {
				t.Errorf("the good bucket was lost: %+v", got.Buckets)
			}
		})
	}
}

func TestUnwrapResponse(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"wrapped", `{"response":{"candidates":[]},"traceId":"t"}`, `{"candidates":[]}`},
		{"count tokens wrapped", `{"response":{"totalTokens":12}}`, `{"totalTokens":12}`},
		{"plain", `{"totalTokens":12}`, `{"totalTokens":12}`},
		{"response not object", `{"response":"text"}`, `{"response":"text"}`},
		{"not json", `data: x`, `data: x`},
		{"empty", ``, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(cloudcode.UnwrapResponse([]byte(tt.body))); got != tt.want {
				t.Errorf("UnwrapResponse(%s) = %s, want %s", tt.body, got, tt.want)
			}
		})
	}
}
