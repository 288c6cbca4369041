package quota

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/store"
)

// maxPendingEvents bounds the events waiting to be written to the store;
// beyond it the oldest unwritten events are kept and new ones dropped.
const maxPendingEvents = 4096

// hub fans updates out to subscribers without ever blocking the publisher,
// and queues events for batched persistence.
type hub struct {
	mu    sync.RWMutex
	feeds map[*Feed]struct{}

	pendMu      sync.Mutex
	pending     []Event
	marks       map[markKey]store.Mark // latest change per (account, family), to write
	pendDropped atomic.Uint64
	// kick asks the monitor to write the queued marks now (a mark must
	// reach the other processes at once).
	kick chan struct{}
}

// markKey names one (account, family) mark.
type markKey struct {
	account int64
	family  cloudcode.Family
}

// queueMark records a mark change for the next store write; a later
// change of the same (account, family) replaces an unwritten one.
func (h *hub) queueMark(id int64, f cloudcode.Family, mk Mark) {
	sm := store.Mark{AccountID: id, Family: f.String(), Until: mk.Until, Since: mk.Since, Reason: mk.Reason}
	switch mk.Kind {
	case CooldownMark:
		sm.Kind = store.MarkCooldown
	case ExhaustedMark:
		sm.Kind = store.MarkExhausted
	}
	h.pendMu.Lock()
	if h.marks == nil {
		h.marks = map[markKey]store.Mark{}
	}
	h.marks[markKey{id, f}] = sm
	h.pendMu.Unlock()
	select {
	case h.kick <- struct{}{}:
	default: // a write is already asked for; it takes this mark too
	}
}

// requeueMarks puts back marks whose write failed, unless a later change
// of the same (account, family) was queued meanwhile.
func (h *hub) requeueMarks(ms []store.Mark) {
	h.pendMu.Lock()
	defer h.pendMu.Unlock()
	if h.marks == nil {
		h.marks = map[markKey]store.Mark{}
	}
	for _, m := range ms {
		k := markKey{m.AccountID, cloudcode.ParseFamily(m.Family)}
		if _, newer := h.marks[k]; !newer {
			h.marks[k] = m
		}
	}
}

// takeMarks removes and returns the mark changes awaiting the store.
func (h *hub) takeMarks() []store.Mark {
	h.pendMu.Lock()
	defer h.pendMu.Unlock()
	if len(h.marks) == 0 {
		return nil
	}
	out := make([]store.Mark, 0, len(h.marks))
	for _, m := range h.marks {
		out = append(out, m)
	}
	h.marks = nil
	return out
}

func (h *hub) init() {
	h.feeds = map[*Feed]struct{}{}
	h.kick = make(chan struct{}, 1)
}

// Feed is one subscriber's view of the manager's updates. Changed is a
// coalescing signal (read the new state with GetAllQuotas); Events carries
// discrete events through a bounded buffer that drops and counts when full.
type Feed struct {
	h       *hub
	changed chan struct{}
	events  chan Event
	dropped atomic.Uint64
	once    sync.Once
}

// Subscribe returns a new Feed. Close it when done.
func (m *Manager) Subscribe() *Feed {
	f := &Feed{
		h:       &m.hub,
		changed: make(chan struct{}, 1),
		events:  make(chan Event, m.opt.EventBuffer),
	}
	m.hub.mu.Lock()
	m.hub.feeds[f] = struct{}{}
	m.hub.mu.Unlock()
	return f
}

// Changed is signalled when any account's Status changed. Signals coalesce:
// one receive may stand for many changes.
func (f *Feed) Changed() <-chan struct{} { return f.changed }

// Events returns the discrete events. It is closed by Close.
func (f *Feed) Events() <-chan Event { return f.events }

// Dropped counts the events this feed lost because its buffer was full.
func (f *Feed) Dropped() uint64 { return f.dropped.Load() }

// Close unsubscribes f and closes its channels. It is safe to call more
// than once.
func (f *Feed) Close() {
	f.once.Do(func() {
		f.h.mu.Lock()
		delete(f.h.feeds, f)
		close(f.changed)
		close(f.events)
		f.h.mu.Unlock()
	})
}

// signal tells every subscriber that some Status changed.
func (h *hub) signal() {
	h.mu.RLock()
	for f := range h.feeds {
		select {
		case f.changed <- struct{}{}:
		default: // a signal is already waiting: coalesce
		}
	}
	h.mu.RUnlock()
}

// broadcast sends e to every subscriber without blocking.
func (h *hub) broadcast(e Event) {
	h.mu.RLock()
	for f := range h.feeds {
		select {
		case f.events <- e:
		default:
			f.dropped.Add(1)
		}
	}
	h.mu.RUnlock()
}

// Publish sends e to every subscriber and queues it for the store. It never
// blocks. The proxy publishes its account switches through it. Queued
// events are written with the next sync or by the monitor every few
// seconds.
func (m *Manager) Publish(e Event) {
	if e.At.IsZero() {
		e.At = m.clock.Now()
	}
	if e.Account == "" && e.AccountID != 0 {
		if a := m.lookup(e.AccountID); a != nil {
			e.Account = a.snap.Load().status.Label
		}
	}
	m.hub.broadcast(e)
	if persisted(e.Kind) {
		m.hub.queue(e)
	}
}

// persisted reports whether events of kind k are kept in the store. Sync
// start/finish and quota changes are too frequent to be worth keeping.
func persisted(k EventKind) bool {
	switch k {
	case EventSyncStarted, EventSyncFinished, EventQuotaChanged:
		return false
	}
	return true
}

// queue adds e to the events awaiting persistence.
func (h *hub) queue(e Event) {
	h.pendMu.Lock()
	if len(h.pending) < maxPendingEvents {
		h.pending = append(h.pending, e)
	} else {
		h.pendDropped.Add(1)
	}
	h.pendMu.Unlock()
}

// takePending removes and returns the events awaiting persistence.
func (h *hub) takePending() []Event {
	h.pendMu.Lock()
	p := h.pending
	h.pending = nil
	h.pendMu.Unlock()
	return p
}

// flushEvents writes the queued events and mark changes to the store.
func (m *Manager) flushEvents(ctx context.Context) {
	p := m.hub.takePending()
	mks := m.hub.takeMarks()
	if len(p) == 0 && len(mks) == 0 {
		return
	}
	if err := m.st.Write(ctx, store.Batch{At: m.clock.Now(), Events: toStoreEvents(p), Marks: mks}); err != nil {
		m.log.Warn("quota: persist events and marks", "events", len(p), "marks", len(mks), "err", err)
		var skipped *store.SkippedError
		if !errors.As(err, &skipped) && (store.Batch{Marks: mks}).Check() == nil {
			// Nothing was written: the marks go with the next write
			// (the events are dropped, as before, rather than piled up).
			m.hub.requeueMarks(mks)
		}
	}
}

// toStoreEvents converts events to their stored form.
func toStoreEvents(es []Event) []store.Event {
	out := make([]store.Event, len(es))
	for i, e := range es {
		fam := ""
		if e.Family != 0 {
			fam = e.Family.String()
		}
		out[i] = store.Event{At: e.At, AccountID: e.AccountID, Kind: e.Kind.String(), Family: fam, Message: e.Message}
	}
	return out
}

// PendingDropped counts events that were not persisted because the queue
// awaiting the store was full.
func (m *Manager) PendingDropped() uint64 { return m.hub.pendDropped.Load() }
