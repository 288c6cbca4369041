package cloudcode_test

import (
	"net/http"
	"testing"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// BenchmarkClassify measures classifying the richest error body (the
// proxy runs it on every upstream error).
func BenchmarkClassify(b *testing.B) {
	body := sample(b, "errors/quota_exhausted.json")
	h := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		if cloudcode.Classify(429, h, body, classifyNow) == nil {
			b.Fatal("nil error")
		}
	}
}

// BenchmarkParseAvailableModels measures parsing a catalogue, which every
// account sync does.
func BenchmarkParseAvailableModels(b *testing.B) {
	body := sample(b, "models/normal.json")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cloudcode.ParseAvailableModels(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseQuotaSummary measures parsing the bucket summary, which
// every account sync does.
func BenchmarkParseQuotaSummary(b *testing.B) {
	body := sample(b, "summary/top_level.json")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cloudcode.ParseQuotaSummary(body); err != nil {
			b.Fatal(err)
		}
	}
}
