package quota

import (
	"testing"

	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

func TestModelListed(t *testing.T) {
	e := newEnv(t, cloudcodetest.Options{}, Options{},
		cloudcodetest.AccountSpec{Email: "a@example.com", TierID: "g1-pro-tier"},
		cloudcodetest.AccountSpec{Email: "b@example.com", TierID: "free-tier"})
	if known, listed := e.m.ModelListed("gemini-3-flash"); known || listed {
		t.Fatalf("before any sync: ModelListed = %v, %v; want false, false (no names known yet)", known, listed)
	}
	e.sync("b@example.com")
	for _, tt := range []struct {
		id    string
		known bool
	}{{"gemini-3-flash", true}, {"llama-3", false}, {"", false}} {
		known, listed := e.m.ModelListed(tt.id)
		if known != tt.known || !listed {
			t.Errorf("after a sync: ModelListed(%q) = %v, %v; want %v, true", tt.id, known, listed, tt.known)
		}
	}
}
