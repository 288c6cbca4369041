package quota

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/store"
)

// One poller per database. Several processes may run on one database (a
// dashboard beside a serve, two serves). If each polled every account, the
// upstream would see every quota read twice. So the processes elect one
// poller through a Lease: it runs the monitor's rounds and writes the
// figures; the others read them from the store whenever its sync counter
// moves, and poll only when the poller is gone (its lease expired) or on
// demand (a cache miss, R, a resync after a 429 — an on-demand read is
// made wherever it is needed).

// Lease elects the one process on a database that polls the upstream.
// *store.Store implements it with a lease row renewed by a heartbeat; a
// PostgreSQL store would hold a session-level advisory lock
// (pg_try_advisory_lock) on a dedicated connection instead, renewed by
// simply keeping the connection, and release it with pg_advisory_unlock.
type Lease interface {
	// TryLease takes the lease for holder, or renews it if holder has
	// it, until now+ttl, and reports whether holder holds it.
	TryLease(ctx context.Context, holder string, now time.Time, ttl time.Duration) (bool, error)
	// ReleaseLease gives the lease up if holder has it.
	ReleaseLease(ctx context.Context, holder string) error
}

// Defaults of the poller election; real time, since processes share no
// other clock.
const (
	DefaultLeaseTTL  = 20 * time.Second
	DefaultLeaseBeat = 5 * time.Second
)

// pollerState is this process's part in the election.
type pollerState struct {
	holder   string
	leader   atomic.Bool
	wake     chan struct{} // signalled when this process became the poller
	seenSync atomic.Int64  // the store's sync version last read
}

func (p *pollerState) init(holder string) {
	p.holder = holder
	p.wake = make(chan struct{}, 1)
	p.seenSync.Store(-1)
}

// newHolder names this process in the lease: host, pid and a random part,
// so a log line says which process polls.
func newHolder() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b) // never fails
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b))
}

// beat takes or renews the lease and logs a change of role. When the
// lease cannot be read or written (the database is not writable, say) the
// process polls itself: with no way to agree, reading every account twice
// is better than nobody reading them.
func (m *Manager) beat(ctx context.Context) {
	ok, err := m.st.TryLease(ctx, m.poll.holder, time.Now(), m.opt.LeaseTTL)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		m.log.Warn("quota: the poller lease cannot be taken or renewed; this process polls itself meanwhile", "err", err)
		ok = true
	}
	switch was := m.poll.leader.Swap(ok); {
	case ok && !was:
		m.log.Info("quota: this process polls the upstream for the database", "holder", m.poll.holder)
		select {
		case m.poll.wake <- struct{}{}:
		default:
		}
	case !ok && was:
		m.log.Info("quota: another process polls the upstream now; this one reads its figures", "holder", m.poll.holder)
	}
}

// release gives the lease up when this process stops, so another takes
// over at once.
func (m *Manager) release(ctx context.Context) {
	if !m.poll.leader.Swap(false) {
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeWriteTimeout)
	defer cancel()
	if err := m.st.ReleaseLease(wctx, m.poll.holder); err != nil {
		m.log.Warn("quota: release the poller lease", "err", err)
	}
}

// IsPoller reports whether this process holds the poller lease.
func (m *Manager) IsPoller() bool { return m.poll.leader.Load() }

// loadFigures adopts the figures and sync outcomes the poller wrote, when
// its sync counter moved since the last read (or always, with force). It
// returns how many accounts got newer figures.
func (m *Manager) loadFigures(ctx context.Context, force bool) (int, error) {
	v, err := m.st.SyncVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("quota: read the poller's figures: %w", err)
	}
	if !force && v == m.poll.seenSync.Load() {
		return 0, nil
	}
	rows, err := m.st.Accounts(ctx)
	if err != nil {
		return 0, fmt.Errorf("quota: read the poller's figures: %w", err)
	}
	latest, err := m.st.Latest(ctx)
	if err != nil {
		return 0, fmt.Errorf("quota: read the poller's figures: %w", err)
	}
	byAccount := make(map[int64][]store.Sample, len(rows))
	for _, smp := range latest {
		byAccount[smp.AccountID] = append(byAccount[smp.AccountID], smp)
	}
	n := 0
	for _, r := range rows {
		if a := m.lookup(r.ID); a != nil && m.adoptFigures(a, r, byAccount[r.ID]) {
			n++
		}
	}
	m.poll.seenSync.Store(v)
	m.hub.signal()
	return n, nil
}

// adoptFigures takes the poller's outcome for one account: its error and
// unreadable quota always, its figures only when they were fetched after
// the ones this process has (an older figure never replaces a newer one).
// Warnings fire for this process's subscribers; the poller stores them.
func (m *Manager) adoptFigures(a *account, r store.Account, samples []store.Sample) bool {
	fresh := m.freshFor()
	var fired []Event
	adopted := false
	a.mu.Lock()
	a.updateLocked(func(s *snapshot) {
		st := &s.status
		st.LastError, st.Unreadable, st.UnreadableCause, st.UnreadableUntil = r.SyncError, r.Unreadable, r.UnreadableCause, r.UnreadableUntil
		if r.SyncedAt.IsZero() || !r.SyncedAt.After(st.LastSync) {
			return
		}
		adopted = true
		fams := familiesFromSamples(samples, r.SyncedAt)
		for i := range fams {
			if !onGrid(&fams[i]) {
				a.fine[i] = true
			}
			fams[i].Coarse = !a.fine[i]
			fams[i].Decision = decideFigure(fams[i].Effective, m.opt.Thresholds, fams[i].Coarse)
			fired = append(fired, a.transition(i, &fams[i], st.Label, st.Marks[i], r.SyncedAt)...)
			// The poller learned from these figures; here they only move
			// the estimates' anchors.
			m.moveAnchors(a, s, i, &fams[i], r.SyncedAt, a.ownAt(i, r.SyncedAt), false)
			st.Families[i] = fams[i]
			s.expires[i] = r.SyncedAt.Add(fresh)
		}
		st.LastSync = r.SyncedAt
	})
	a.mu.Unlock()
	for _, e := range fired {
		m.hub.broadcast(e)
	}
	return adopted
}

// familiesFromSamples rebuilds the families from the stored 5h and weekly
// figures of one sync (those seen at or after at; older rows are from
// earlier syncs). The models' own figures are not stored: the family's 5h
// bucket stands for them, as it does when the summary has no 5h bucket.
func familiesFromSamples(samples []store.Sample, at time.Time) [len(cloudcode.Families)]FamilyQuota {
	var out [len(cloudcode.Families)]FamilyQuota
	for i, f := range cloudcode.Families {
		fq := FamilyQuota{Family: f, FetchedAt: at}
		for _, smp := range samples {
			if cloudcode.ParseFamily(smp.Family) != f || smp.LastSeen.Before(at) {
				continue
			}
			b := BucketQuota{Remaining: cloudcode.KnownFraction(smp.Fraction), ResetTime: smp.ResetTime}
			switch cloudcode.Window(smp.Window) {
			case cloudcode.Window5h:
				fq.FiveHour = b
			case cloudcode.WindowWeekly:
				fq.Weekly = b
			}
		}
		var eff Check
		consider(&eff, fq.FiveHour.Remaining, cloudcode.Window5h, fq.FiveHour.ResetTime)
		consider(&eff, fq.Weekly.Remaining, cloudcode.WindowWeekly, fq.Weekly.ResetTime)
		fq.Effective, fq.Bottleneck, fq.ResetTime = eff.Remaining, eff.Bottleneck, eff.ResetTime
		out[i] = fq
	}
	return out
}

// RefreshAll brings every account's figures up to date the cheapest way:
// when another process polls the database (it holds a live lease), by
// reading the figures it wrote; otherwise by a SyncAll under the lease, so
// no other process polls at the same time. A one-shot command (quotatui
// status) calls it instead of SyncAll.
func (m *Manager) RefreshAll(ctx context.Context) SyncResult {
	ok, err := m.st.TryLease(ctx, m.poll.holder, time.Now(), m.opt.LeaseTTL)
	if err != nil || ok {
		if ok {
			defer func() {
				wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeWriteTimeout)
				defer cancel()
				if err := m.st.ReleaseLease(wctx, m.poll.holder); err != nil {
					m.log.Warn("quota: release the poller lease", "err", err)
				}
			}()
		}
		return m.SyncAll(ctx)
	}
	started, wall := m.clock.Now(), time.Now()
	res := SyncResult{Started: started, Errors: map[int64]error{}}
	if _, err := m.loadFigures(ctx, true); err != nil {
		m.log.Warn("quota: read the poller's figures, syncing instead", "err", err)
		return m.SyncAll(ctx)
	}
	for _, a := range m.sortedAccounts() {
		// The poller may have just started, or not come round to an account
		// added since: a one-shot answer must not show figures that old.
		if s := a.snap.Load(); syncable(&s.status) && s.status.LastSync.Add(m.freshFor()).Before(started) {
			return m.SyncAll(ctx)
		}
	}
	for _, a := range m.sortedAccounts() {
		st := a.snap.Load().status
		switch {
		case !syncable(&st):
			res.Skipped++
		case st.LastError != "":
			res.Errors[a.id] = errors.New(st.LastError)
		default:
			res.OK++
		}
	}
	res.Took = time.Since(wall)
	return res
}
