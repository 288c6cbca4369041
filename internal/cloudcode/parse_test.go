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
				{ID: "claude-opus-4-6-thinking", DisplayName: "Claude Opus 4.6 (Thinking)", Family: cloudcode.FamilyClaudeGPT},
				{ID: "claude-sonnet-4-6-thinking", DisplayName: "Claude Sonnet 4.6 (Thinking)", Family: cloudcode.FamilyClaudeGPT, ResetTime: at("2026-11-27T19:00:00Z")},
				// A bad reset time is unknown; the fraction is still read.
				{ID: "gemini-2.5-flash", DisplayName: "Gemini 2.5 Flash", Family: cloudcode.FamilyGemini, Remaining: known(0.5)},
				// A fraction sent as a string is accepted.
				{ID: "gemini-3-flash", DisplayName: "Gemini 3 Flash", Family: cloudcode.FamilyGemini, Remaining: known(0.25), ResetTime: at("2026-11-27T19:00:00Z")},
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
		{"fraction bool", string(sample(t, "models/wrong_fraction_type.json")), []string{"models.gemini-3-flash.quotaInfo.remainingFraction", "got bool"}},
		{"fraction text", `{"models":{"gemini-3-flash":{"quotaInfo":{"remainingFraction":"lots"}}}}`, []string{"remainingFraction", "lots"}},
		{"model not object", `{"models":{"gemini-3-flash":7}}`, []string{"models.gemini-3-flash", "got number"}},
		{"quotaInfo array", `{"models":{"gemini-3-flash":{"quotaInfo":[]}}}`, []string{"quotaInfo", "got array"}},
		{"deprecated array", `{"models":{},"deprecatedModelIds":[]}`, []string{"deprecatedModelIds"}},
		{"html 200", "<html><body>Sign in</body></html>", []string{"HTML"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cloudcode.ParseAvailableModels([]byte(tt.body))
			wantMalformed(t, err, tt.fragments...)
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
			{Group: "Quota group", Family: cloudcode.FamilyGemini, BucketID: "gemini-weekly", Window: cloudcode.WindowWeekly, ResetTime: at("2026-12-01T00:00:00Z")},
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
		{"buckets object", string(sample(t, "summary/wrong_buckets_type.json")), []string{"groups[0].buckets", "want array, got object"}},
		{"groups string", `{"groups":"none"}`, []string{"groups", "got string"}},
		{"wrapped groups object", `{"quotaSummary":{"groups":{}}}`, []string{"quotaSummary.groups", "got object"}},
		{"wrapper array", `{"quotaSummary":[]}`, []string{"quotaSummary", "got array"}},
		{"fraction object", `{"groups":[{"buckets":[{"bucketId":"gemini-5h","remainingFraction":{}}]}]}`, []string{"groups[0].buckets[0].remainingFraction"}},
		{"not json", `Service Unavailable`, []string{"not valid JSON"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cloudcode.ParseQuotaSummary([]byte(tt.body))
			wantMalformed(t, err, tt.fragments...)
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
