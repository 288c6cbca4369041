package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/quota"
)

// A database that cannot be written (or was deleted) is said in the
// monitor panel, wide and narrow, in place of the cache's hit ratio.
func TestMonitorPanelShowsDatabaseTrouble(t *testing.T) {
	for _, width := range []int{120, 60} {
		f := newFixture(t, width, 40, true)
		ms := f.eng.MonitorStats()
		ms.Health = quota.Health{Problems: []string{"database not writable since 16:00:05: disk full"}}
		f.send(statsMsg{now: t0.Add(10 * time.Second), mon: ms, pstats: f.prx.Stats(), hasProxy: true})
		if v := f.view(); !strings.Contains(v, "database not writable") {
			t.Errorf("width %d: the view does not say the database is not writable:\n%s", width, v)
		}
	}
}
