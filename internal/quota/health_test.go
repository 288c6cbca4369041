package quota

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// The engine reports a database it cannot write, and one deleted under
// it, for /healthz, the 503 message and the dashboard; the monitor logs
// the change at WARN.
func TestHealth(t *testing.T) {
	log, buf := newLog()
	e := newEnv(t, cloudcodetest.Options{}, Options{Logger: log}, cloudcodetest.AccountSpec{Email: "a@example.com", TierID: "g1-pro-tier"})
	ctx := context.Background()
	if h := e.m.Health(); !h.OK() || h.String() != "ok" {
		t.Fatalf("fresh: %+v", h)
	}
	if err := e.st.SetReadOnly(ctx, true); err != nil {
		t.Fatal(err)
	}
	e.m.SyncAll(ctx) // its write fails
	if h := e.m.Health(); h.OK() || !strings.Contains(h.String(), "database not writable") {
		t.Errorf("after a failed write: %q", h.String())
	}
	if err := e.st.SetReadOnly(ctx, false); err != nil {
		t.Fatal(err)
	}
	e.m.SyncAll(ctx)
	if h := e.m.Health(); !h.OK() {
		t.Errorf("writable again: %q", h.String())
	}

	e.runMonitor(t)
	if err := os.Remove(e.st.Path()); err != nil {
		t.Fatal(err)
	}
	within(t, 3*time.Second, "the deleted database noticed and logged", func() bool {
		return strings.Contains(e.m.Health().String(), "database file deleted") &&
			strings.Contains(buf.String(), "level=WARN") && strings.Contains(buf.String(), "database file deleted")
	})
}
