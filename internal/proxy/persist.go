package proxy

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CounterStore keeps named counters across restarts; *store.Store
// satisfies it.
type CounterStore interface {
	Counters(ctx context.Context) (map[string]int64, error)
	SaveCounters(ctx context.Context, c map[string]int64) error
}

// counterAdder is a store that adds to its counters in one statement
// (*pg.Store): instances saving at the same moment then both count.
type counterAdder interface {
	AddCounters(ctx context.Context, delta map[string]int64) error
}

// counterPrefix starts the names of the proxy's counters in the store.
const counterPrefix = "proxy."

// saveTimeout bounds the last save at shutdown.
const saveTimeout = 5 * time.Second

// KeepCounters makes the proxy's counters outlive the process: it adds the
// counters saved by earlier runs to the live ones, then saves them every
// interval and once more when ctx ends, and returns then. A save adds what
// this process counted since its last save to what the store holds, so two
// processes on one database add up rather than overwrite each other (the
// read and the write are not one transaction: a save racing another may
// lose the other's last minute).
func (s *Server) KeepCounters(ctx context.Context, st CounterStore, every time.Duration) error {
	stored, err := st.Counters(ctx)
	if err != nil {
		s.log.Warn("proxy: could not restore the counters; they start at zero", "err", err)
		stored = nil
	}
	s.stats.restore(stored)
	// What the store holds is what has been saved: requests counted before
	// the restore (Serve may already be answering) are in the first save.
	saved := map[string]int64{}
	for k, v := range stored {
		if strings.HasPrefix(k, counterPrefix) && v > 0 {
			saved[k] = v
		}
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := s.saveCounters(ctx, st, saved); err != nil {
				s.log.Warn("proxy: could not save the counters", "err", err)
				continue
			}
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
			defer cancel()
			if err := s.saveCounters(sctx, st, saved); err != nil {
				s.log.Warn("proxy: could not save the counters at shutdown", "err", err)
			}
			return nil
		}
	}
}

// saveCounters adds the counts made since saved to the store and updates
// saved to what it wrote from.
func (s *Server) saveCounters(ctx context.Context, st CounterStore, saved map[string]int64) error {
	now := s.stats.snapshot()
	delta := map[string]int64{}
	for k, v := range now {
		if d := v - saved[k]; d != 0 {
			delta[k] = d
		}
	}
	if len(delta) == 0 {
		return nil
	}
	if ad, ok := st.(counterAdder); ok {
		if err := ad.AddCounters(ctx, delta); err != nil {
			return err
		}
		for k, v := range now {
			saved[k] = v
		}
		return nil
	}
	stored, err := st.Counters(ctx)
	if err != nil {
		return fmt.Errorf("read counters: %w", err)
	}
	out := make(map[string]int64, len(delta))
	for k, d := range delta {
		out[k] = stored[k] + d
	}
	if err := st.SaveCounters(ctx, out); err != nil {
		return err
	}
	for k, v := range now {
		saved[k] = v
	}
	return nil
}

// snapshot returns the counters that persist, by their stored names.
func (c *counters) snapshot() map[string]int64 {
	m := map[string]int64{
		counterPrefix + "requests":           int64(c.requests.Load()),
		counterPrefix + "switches.proactive": int64(c.proactiveSwitches.Load()),
		counterPrefix + "switches.reactive":  int64(c.reactiveSwitches.Load()),
		counterPrefix + "client_429s":        int64(c.client429s.Load()),
		counterPrefix + "upstream_429s":      int64(c.upstream429s.Load()),
		counterPrefix + "client_cancels":     int64(c.clientCancels.Load()),
		counterPrefix + "upstream_breaks":    int64(c.upstreamBreaks.Load()),
	}
	c.mu.Lock()
	for code, n := range c.byStatus {
		m[counterPrefix+"status."+strconv.Itoa(code)] = int64(n)
	}
	for f, n := range c.byFamily {
		m[counterPrefix+"family."+f] = int64(n)
	}
	c.mu.Unlock()
	return m
}

// restore adds stored counters (by their stored names) to the live ones;
// names it does not know are left alone.
func (c *counters) restore(stored map[string]int64) {
	atomics := map[string]func(uint64){
		"requests":           func(n uint64) { c.requests.Add(n) },
		"switches.proactive": func(n uint64) { c.proactiveSwitches.Add(n) },
		"switches.reactive":  func(n uint64) { c.reactiveSwitches.Add(n) },
		"client_429s":        func(n uint64) { c.client429s.Add(n) },
		"upstream_429s":      func(n uint64) { c.upstream429s.Add(n) },
		"client_cancels":     func(n uint64) { c.clientCancels.Add(n) },
		"upstream_breaks":    func(n uint64) { c.upstreamBreaks.Add(n) },
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, v := range stored {
		k, ok := strings.CutPrefix(name, counterPrefix)
		if !ok || v <= 0 {
			continue
		}
		n := uint64(v)
		if add, ok := atomics[k]; ok {
			add(n)
			continue
		}
		if code, ok := strings.CutPrefix(k, "status."); ok {
			if i, err := strconv.Atoi(code); err == nil {
				c.byStatus[i] += n
			}
			continue
		}
		if f, ok := strings.CutPrefix(k, "family."); ok && f != "" {
			c.byFamily[f] += n
		}
	}
}
