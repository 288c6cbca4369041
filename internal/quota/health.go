package quota

import (
	"strings"

	"github.com/quotatui/quotatui/internal/store"
)

// Health is the engine's own condition, for the places that must tell the
// operator the pool may be degraded: the proxy's /healthz and the message
// of its 503 answers, the dashboard, metrics and `status`. It is about
// quotatui itself (its database), not about the accounts.
type Health struct {
	// Problems says what is wrong, one sentence each, e.g. "database not
	// writable since 12:03:04: ... (disk full)" or "database file deleted:
	// ...". None when healthy.
	Problems []string
}

// OK reports whether there is no problem.
func (h Health) OK() bool { return len(h.Problems) == 0 }

// String joins the problems for a one-line message ("ok" when none).
func (h Health) String() string {
	if h.OK() {
		return "ok"
	}
	return strings.Join(h.Problems, "; ")
}

// healthSource is what a store that reports its health offers;
// *store.Store does.
type healthSource interface {
	Health() store.Health
	CheckFile() error
}

// Health returns the engine's condition now. It does no I/O: the
// database's writes report failures as they happen, and the monitor looks
// at the file every second.
func (m *Manager) Health() Health {
	hs, ok := m.st.(healthSource)
	if !ok {
		return Health{}
	}
	return Health{Problems: hs.Health().Problems()}
}

// watchHealth looks at the database file and logs a change of the
// engine's health: a problem at WARN when it starts, at INFO when it ends.
func (m *Manager) watchHealth() {
	hs, ok := m.st.(healthSource)
	if !ok {
		return
	}
	if err := hs.CheckFile(); err != nil {
		m.log.Warn("quota: look at the database file", "err", err)
	}
	h := m.Health().String()
	if prev := m.lastHealth.Swap(&h); prev == nil || *prev == h {
		return
	}
	if h == "ok" {
		m.log.Info("quota: the database works again")
		return
	}
	m.log.Warn("quota: the database is in trouble", "problems", h)
	m.Publish(Event{At: m.clock.Now(), Kind: EventAccountError, Message: h})
}
