package cloudcode_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// seedFiles returns every sample under testdata/dir.
func seedFiles(f *testing.F, dir string) [][]byte {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seeds in testdata/%s: %v", dir, err)
	}
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzClassify checks that Classify never panics and always keeps its
// promises: nil only for 2xx, one of the typed errors otherwise, and no
// negative delay or reset time before now.
func FuzzClassify(f *testing.F) {
	for _, body := range seedFiles(f, "errors") {
		for _, status := range []int{400, 401, 403, 404, 408, 429, 500, 502, 503} {
			f.Add(status, body, "")
		}
		f.Add(429, body, "120")
		f.Add(503, body, "Fri, 27 Nov 2026 17:00:00 GMT")
	}
	f.Add(429, []byte(`{"error":{"message":"retry in 1e309s"}}`), "1e309")
	f.Add(0, []byte(nil), "-1")
	f.Add(-1, []byte(`[]`), "NaN")

	now := time.Date(2026, 11, 27, 16, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter string) {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		err := cloudcode.Classify(status, h, body, now)
		if status >= 200 && status < 300 {
			if err != nil {
				t.Fatalf("Classify(%d) = %v, want nil", status, err)
			}
			return
		}
		if err == nil {
			t.Fatalf("Classify(%d) = nil", status)
		}
		_ = err.Error()

		var (
			qe  *cloudcode.QuotaExhaustedError
			rl  *cloudcode.RateLimitedError
			ce  *cloudcode.CapacityExhaustedError
			ue  *cloudcode.UnauthorizedError
			ve  *cloudcode.ValidationRequiredError
			fe  *cloudcode.ForbiddenError
			nf  *cloudcode.NotFoundError
			te  *cloudcode.TransientError
			unk *cloudcode.UnknownError
		)
		switch {
		case errors.As(err, &qe):
			if status != 429 {
				t.Fatalf("quota exhausted for status %d", status)
			}
			if !qe.ResetAt.IsZero() && qe.ResetAt.Before(now) {
				t.Fatalf("reset %v before now", qe.ResetAt)
			}
		case errors.As(err, &rl):
			if status != 429 || rl.RetryDelay < 0 {
				t.Fatalf("rate limit %+v for status %d", rl, status)
			}
		case errors.As(err, &ce):
			if ce.RetryDelay < 0 {
				t.Fatalf("negative capacity delay %v", ce.RetryDelay)
			}
		case errors.As(err, &ue):
			if status != 401 {
				t.Fatalf("unauthorized for status %d", status)
			}
		case errors.As(err, &ve), errors.As(err, &fe):
			if status != 403 {
				t.Fatalf("forbidden for status %d", status)
			}
		case errors.As(err, &nf):
			if status != 404 {
				t.Fatalf("not found for status %d", status)
			}
		case errors.As(err, &te):
			if status != 408 && (status < 500 || status > 599) {
				t.Fatalf("transient for status %d", status)
			}
		case errors.As(err, &unk):
		default:
			t.Fatalf("Classify returned untyped %T", err)
		}
	})
}

// FuzzParse checks that the three answer parsers never panic, return a
// result or a MalformedResponseError (never both, never neither), and keep
// their invariants.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"loadcodeassist", "models", "summary", "errors"} {
		for _, b := range seedFiles(f, dir) {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(name string, ok bool, err error) {
			var me *cloudcode.MalformedResponseError
			switch {
			case err == nil && !ok:
				t.Fatalf("%s: no result and no error", name)
			case err != nil && ok:
				t.Fatalf("%s: result and error %v", name, err)
			case err != nil && !errors.As(err, &me):
				t.Fatalf("%s: error %T, want *MalformedResponseError", name, err)
			}
		}
		sub, err := cloudcode.ParseLoadCodeAssist(body)
		check("loadCodeAssist", sub != nil, err)

		cat, err := cloudcode.ParseAvailableModels(body)
		check("fetchAvailableModels", cat != nil, err)
		if cat != nil {
			if !sort.SliceIsSorted(cat.Models, func(i, j int) bool { return cat.Models[i].ID < cat.Models[j].ID }) {
				t.Fatal("models not sorted")
			}
			for _, m := range cat.Models {
				if cloudcode.IsInternalModel(m.ID) {
					t.Fatalf("internal model %q kept", m.ID)
				}
				checkFraction(t, m.Remaining)
			}
		}

		sum, err := cloudcode.ParseQuotaSummary(body)
		check("retrieveUserQuotaSummary", sum != nil, err)
		if sum != nil {
			for _, b := range sum.Buckets {
				checkFraction(t, b.Remaining)
			}
		}
		_ = cloudcode.UnwrapResponse(body)
	})
}

func checkFraction(t *testing.T, f cloudcode.Fraction) {
	t.Helper()
	if f.Known && (f.Value < 0 || f.Value > 1 || f.Value != f.Value) {
		t.Fatalf("fraction %v out of range", f.Value)
	}
	if !f.Known && f.Value != 0 {
		t.Fatalf("unknown fraction carries value %v", f.Value)
	}
}
