package quota

import (
	"sort"
	"sync"
	"time"
)

// Adaptive sync: an account that served traffic since its last sync is
// synced every BusyInterval (30–60 s by default, each account's wait
// spread over that range), not only every Interval: its estimate is then
// never more than a minute of requests away from a figure read. The
// poller does it (one process per database polls); the syncs are bounded
// per account (not more often than the busy interval allows) and in total
// (BusyPerMinute). Idle accounts keep the normal interval. Every
// quota-reading call is counted (MonitorStats.QuotaReads and
// QuotaReadsLastHour, the metrics), so what this costs shows.
//
// The poller also resyncs, soon, an account whose bucket passed its reset
// time since its last sync: until then Check takes that bucket as
// refilled (an estimate), and a sync says what it holds.

// Defaults of the adaptive sync.
const (
	DefaultBusyInterval  = 45 * time.Second
	DefaultBusyPerMinute = 30
	// staleAskEvery bounds how often an account is resynced for a reset
	// time that passed, should the resync fail.
	staleAskEvery = 30 * time.Second
)

// busyState is the adaptive sync's bookkeeping, guarded by mu.
type busyState struct {
	mu     sync.Mutex
	tokens float64   // syncs the total budget allows now
	filled time.Time // when tokens was last topped up (engine clock)
	syncs  int64     // busy syncs asked for
	busy   int       // accounts busy at the last look
}

// busyWait is how long after its last sync a busy account is synced
// again: the busy interval spread over ±1/3 of it (30–60 s for 45 s), by
// the account and its sync time, so accounts do not sync in step and a
// wait is the same however often it is looked at.
func busyWait(interval time.Duration, id int64, lastSync time.Time) time.Duration {
	h := uint64(id)*0x9e3779b97f4a7c15 ^ uint64(lastSync.UnixNano())
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 32
	frac := float64(h%1024) / 1024
	return time.Duration(float64(interval) * (2.0/3 + 2.0/3*frac))
}

// syncBusy asks for the syncs the adaptive sync wants now: busy accounts
// whose wait ran out, most overdue first, within the total budget; and
// accounts with a bucket whose reset time passed since their last sync.
// Only the poller does. The syncs run on the monitor's resync workers
// (ResyncSoon).
func (m *Manager) syncBusy(now time.Time) {
	if !m.poll.leader.Load() {
		return
	}
	type due struct {
		a    *account
		over time.Duration
	}
	var todo []due
	busy := 0
	for _, a := range *m.accts.Load() {
		s := a.snap.Load()
		st := &s.status
		if !syncable(st) || st.UnreadableUntil.After(now) {
			continue
		}
		if stalePast(s, now) {
			if last := a.staleAsked.Load(); last == 0 || now.UnixNano()-last >= int64(staleAskEvery) {
				a.staleAsked.Store(now.UnixNano())
				m.ResyncSoon(a.id)
			}
			continue
		}
		if !a.served() {
			continue
		}
		busy++
		if over := now.Sub(st.LastSync.Add(busyWait(m.opt.BusyInterval, a.id, st.LastSync))); over >= 0 {
			todo = append(todo, due{a, over})
		}
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].over > todo[j].over })
	b := &m.mon.busy
	b.mu.Lock()
	defer b.mu.Unlock()
	b.busy = busy
	per := float64(m.opt.BusyPerMinute)
	if !b.filled.IsZero() {
		b.tokens += now.Sub(b.filled).Minutes() * per
	} else {
		b.tokens = per
	}
	b.tokens = min(b.tokens, per)
	b.filled = now
	for _, d := range todo {
		if b.tokens < 1 {
			break
		}
		b.tokens--
		b.syncs++
		m.ResyncSoon(d.a.id)
	}
}

// stalePast reports whether one of s's buckets passed its reset time
// since the sync that read it.
func stalePast(s *snapshot, now time.Time) bool {
	for i := range s.status.Families {
		fq := &s.status.Families[i]
		for _, r := range []time.Time{fq.FiveHour.ResetTime, fq.Weekly.ResetTime} {
			if refilled(r, now) && r.After(fq.FetchedAt) {
				return true
			}
		}
		for j := range fq.Models {
			if r := fq.Models[j].ResetTime; refilled(r, now) && r.After(fq.FetchedAt) {
				return true
			}
		}
	}
	return false
}

// busyTick is how often (real time) the monitor looks for busy accounts:
// a sixth of the busy interval on the engine's clock, within [100 ms, 5 s].
func (m *Manager) busyTick() time.Duration {
	d := time.Duration(float64(m.opt.BusyInterval) / m.opt.ClockRate / 6)
	return min(max(d, 100*time.Millisecond), 5*time.Second)
}

// readCounter counts quota-reading calls, in total and per minute of the
// last hour.
type readCounter struct {
	mu    sync.Mutex
	total int64
	mins  [60]struct{ min, n int64 }
}

// add counts n calls made at now.
func (r *readCounter) add(now time.Time, n int64) {
	minute := now.Unix() / 60
	r.mu.Lock()
	slot := &r.mins[minute%60]
	if slot.min != minute {
		slot.min, slot.n = minute, 0
	}
	slot.n += n
	r.total += n
	r.mu.Unlock()
}

// counts returns the calls in total and in the hour before now.
func (r *readCounter) counts(now time.Time) (total, hour int64) {
	minute := now.Unix() / 60
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.mins {
		if s.min > minute-60 && s.min <= minute {
			hour += s.n
		}
	}
	return r.total, hour
}
