package tui

import (
	"strings"
	"testing"
)

// The title names the database and, when it is shared, how many instances
// are live on it; a narrow pane drops it before the count.
func TestTitleShowsTheBackend(t *testing.T) {
	for _, tt := range []struct {
		backend   string
		instances int
		width     int
		want      string
	}{
		{"postgres", 2, 120, "· postgres, 2 live"},
		{"sqlite", 0, 120, "· sqlite ·"},
		{"postgres", 3, 40, ""},
	} {
		f := newFixture(t, tt.width, 30, true)
		f.eng.mu.Lock()
		f.eng.mon.Backend, f.eng.mon.Instances = tt.backend, tt.instances
		f.eng.mu.Unlock()
		f.send(statsMsg{now: t0, mon: f.eng.MonitorStats()})
		title := strings.SplitN(f.m.render(), "\n", 2)[0]
		switch {
		case tt.want != "" && !strings.Contains(title, tt.want):
			t.Errorf("%s ×%d at %d columns: title %q, want %q in it", tt.backend, tt.instances, tt.width, title, tt.want)
		case tt.want == "" && (strings.Contains(title, tt.backend) || !strings.Contains(title, "accounts")):
			t.Errorf("at %d columns: title %q, want the count without the database", tt.width, title)
		}
	}
}
