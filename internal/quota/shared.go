package quota

import (
	"context"
	"os"
	"sync/atomic"
	"time"

	"github.com/quotatui/quotatui/internal/store"
)

// Several instances on one shared database (PostgreSQL) learn of each
// other's changes as they are committed instead of by polling the
// counters: the store announces them (changeSource), and the monitor's
// housekeeping acts on them at once: a mark set elsewhere is in force here
// within milliseconds, new figures are adopted, and after the store lost
// its announcements for a while everything is read afresh. The 1-second
// look at the counters stays, for SQLite and as a safety net.

// changeSource is a store that announces what any process committed
// (*pg.Store).
type changeSource interface {
	// Changed is signalled (coalesced) when something changed;
	// TakeChanges says what.
	Changed() <-chan struct{}
	TakeChanges() store.Change
}

// presence is a store that keeps the running instances' heartbeats
// (*pg.Store), for the dashboard's header and status.
type presence interface {
	// Heartbeat records in as alive and returns every live instance.
	Heartbeat(ctx context.Context, in store.Instance) ([]store.Instance, error)
	// Leave removes holder's heartbeat.
	Leave(ctx context.Context, holder string) error
}

// backendNamer is a store that names its kind ("sqlite", "postgres").
type backendNamer interface{ Backend() string }

// sharedState is the monitor's view of the other instances.
type sharedState struct {
	started   time.Time
	instances atomic.Pointer[[]store.Instance] // live instances at the last heartbeat; nil: unknown
}

// Backend names the kind of database the engine runs on ("sqlite",
// "postgres"), "" when the store does not say.
func (m *Manager) Backend() string {
	if b, ok := m.st.(backendNamer); ok {
		return b.Backend()
	}
	return ""
}

// Instances returns the instances live on the database at the last
// heartbeat (the monitor beats every few seconds), by start time; nil
// when the store keeps no heartbeats (SQLite) or the monitor has not run.
func (m *Manager) Instances() []store.Instance {
	if p := m.shared.instances.Load(); p != nil {
		return *p
	}
	return nil
}

// heartbeat tells a shared database this instance is alive and whether it
// polls, and learns who else is.
func (m *Manager) heartbeat(ctx context.Context) {
	p, ok := m.st.(presence)
	if !ok {
		return
	}
	host, _ := os.Hostname()
	live, err := p.Heartbeat(ctx, store.Instance{Holder: m.poll.holder, Host: host, PID: os.Getpid(),
		Started: m.shared.started, Poller: m.poll.leader.Load()})
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("quota: the heartbeat on the shared database failed", "err", err)
		}
		return
	}
	prev := m.shared.instances.Swap(&live)
	if prev == nil || len(*prev) != len(live) {
		m.log.Info("quota: instances live on the database", "count", len(live))
		m.hub.signal()
	}
}

// leave removes this instance's heartbeat when the monitor stops.
func (m *Manager) leave(ctx context.Context) {
	p, ok := m.st.(presence)
	if !ok {
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeWriteTimeout)
	defer cancel()
	if err := p.Leave(wctx, m.poll.holder); err != nil {
		m.log.Warn("quota: remove this instance's heartbeat", "err", err)
	}
	m.shared.instances.Store(nil)
}

// changes returns the store's announcements, nil when it makes none.
func (m *Manager) changes() (<-chan struct{}, changeSource) {
	cs, ok := m.st.(changeSource)
	if !ok {
		return nil, nil
	}
	return cs.Changed(), cs
}

// onChanges acts on what another process (or this one) committed: marks
// and accounts are reloaded, figures adopted; after lost announcements,
// both in full.
func (m *Manager) onChanges(ctx context.Context, c store.Change) {
	lost := c&store.ChangeLost != 0
	switch {
	case lost:
		if err := m.Reload(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("quota: reload after the store's announcements were lost", "err", err)
		}
	case c&store.ChangeAccounts != 0:
		m.reloadIfChanged(ctx)
	}
	if lost || c&store.ChangeSync != 0 {
		// The poller too: a resync made by another instance is newer than
		// its own figures, and everyone must see it.
		if _, err := m.loadFigures(ctx, lost); err != nil && ctx.Err() == nil {
			m.log.Warn("quota: read the figures another instance wrote", "err", err)
		}
	}
}
