package alert

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// SinkStats counts one sink's alerts since the service started.
type SinkStats struct {
	Sink    string // Sink.Name()
	Filter  string // the kinds it wants, as Filter.String writes them
	Sent    uint64 // delivered
	Failed  uint64 // given up on: a permanent error, or retried past Options.MaxAge
	Dropped uint64 // not queued because the sink's queue was full
	Pending int64  // queued or being delivered now
}

// queued is an alert waiting in a sink's queue, with the wall time it came
// in (its age bounds the retries).
type queued struct {
	e  Event
	at time.Time
}

// sinkQueue is one sink's bounded queue and its counters. Its worker is
// the only reader.
type sinkQueue struct {
	route Route
	ch    chan queued

	sent, failed, dropped atomic.Uint64
	pending               atomic.Int64 // queued or in delivery
	interrupted           atomic.Int64 // taken from the queue but cut short by the stop

	mu     sync.Mutex
	streak uint64 // alerts dropped since the queue last had room

	failing bool // the last attempt failed; touched by the worker only
}

// dispatcher hands alerts to each sink's queue without ever blocking, and
// runs one worker per sink that delivers them, retrying with backoff.
type dispatcher struct {
	log *slog.Logger
	opt Options
	qs  []*sinkQueue
}

func newDispatcher(routes []Route, opt Options) *dispatcher {
	d := &dispatcher{log: opt.Logger, opt: opt}
	for _, r := range routes {
		d.qs = append(d.qs, &sinkQueue{route: r, ch: make(chan queued, opt.QueueSize)})
	}
	return d
}

// dispatch queues e for every sink whose filter wants it and returns the
// names of those sinks. It never blocks: a full queue drops e and counts
// it, with a warning at the first drop of a run and at its end.
func (d *dispatcher) dispatch(e Event) []string {
	var to []string
	for _, q := range d.qs {
		if q.route.Filter.Match(e.Kind) {
			q.offer(e, d.log)
			to = append(to, q.route.Sink.Name())
		}
	}
	return to
}

func (q *sinkQueue) offer(e Event, log *slog.Logger) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending.Add(1)
	select {
	case q.ch <- queued{e: e, at: time.Now()}:
		if q.streak > 0 {
			log.Warn("alerts: sink queue has room again", "sink", q.route.Sink.Name(), "dropped", q.streak)
			q.streak = 0
		}
	default:
		q.pending.Add(-1)
		q.dropped.Add(1)
		if q.streak == 0 {
			log.Warn("alerts: sink queue full, dropping alerts until it drains",
				"sink", q.route.Sink.Name(), "kind", e.Kind, "queue", cap(q.ch))
		}
		q.streak++
	}
}

// run delivers queued alerts until ctx ends, then closes the sinks that
// hold resources. It returns when every worker has stopped.
func (d *dispatcher) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, q := range d.qs {
		wg.Go(func() { d.work(ctx, q) })
	}
	wg.Wait()
	for _, q := range d.qs {
		if n := len(q.ch) + int(q.interrupted.Load()); n > 0 {
			d.log.Warn("alerts: stopping with alerts not delivered", "sink", q.route.Sink.Name(), "count", n)
		}
		d.close(q.route.Sink)
	}
}

// close releases a sink's resources (the desktop's D-Bus connection).
func (d *dispatcher) close(s Sink) {
	if c, ok := s.(io.Closer); ok {
		if err := c.Close(); err != nil {
			d.log.Warn("alerts: close sink", "sink", s.Name(), "err", err)
		}
	}
}

func (d *dispatcher) work(ctx context.Context, q *sinkQueue) {
	for {
		select {
		case <-ctx.Done():
			return
		case item := <-q.ch:
			d.deliver(ctx, q, item)
			q.pending.Add(-1)
		}
	}
}

// deliver sends one alert, retrying with exponential backoff until it is
// delivered, the error is permanent, or it would be older than MaxAge at
// the next attempt (an alert that late is noise). The first failure and
// the giving up are warnings; the retries between are debug.
func (d *dispatcher) deliver(ctx context.Context, q *sinkQueue, item queued) {
	name := q.route.Sink.Name()
	for attempt := 1; ; attempt++ {
		err := q.route.Sink.Send(ctx, item.e)
		if err == nil {
			q.sent.Add(1)
			if q.failing {
				d.log.Info("alerts: sink delivers again", "sink", name, "kind", item.e.Kind, "attempts", attempt)
				q.failing = false
			} else {
				d.log.Debug("alerts: delivered", "sink", name, "kind", item.e.Kind)
			}
			return
		}
		if ctx.Err() != nil {
			q.interrupted.Add(1) // stopping: run reports what was left
			return
		}
		q.failing = true
		wait := d.backoff(attempt)
		switch {
		case IsPermanent(err):
			q.failed.Add(1)
			d.log.Warn("alerts: alert not delivered (retrying would not help)", "sink", name, "kind", item.e.Kind, "err", err)
			return
		case time.Since(item.at)+wait > d.opt.MaxAge:
			q.failed.Add(1)
			d.log.Warn("alerts: alert not delivered, giving up", "sink", name, "kind", item.e.Kind,
				"attempts", attempt, "err", err)
			return
		case attempt == 1:
			d.log.Warn("alerts: delivery failed, retrying with backoff", "sink", name, "kind", item.e.Kind,
				"retry_in", wait.String(), "err", err)
		default:
			d.log.Debug("alerts: delivery failed again", "sink", name, "kind", item.e.Kind, "attempt", attempt,
				"retry_in", wait.String(), "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			q.interrupted.Add(1)
			return
		case <-t.C:
		}
	}
}

// backoff is the wait after the attempt-th failure: RetryBase doubled per
// failure, capped at RetryMax.
func (d *dispatcher) backoff(attempt int) time.Duration {
	w := d.opt.RetryBase
	for i := 1; i < attempt && w < d.opt.RetryMax; i++ {
		w *= 2
	}
	return min(w, d.opt.RetryMax)
}

// stats returns each sink's counters, in route order.
func (d *dispatcher) stats() []SinkStats {
	out := make([]SinkStats, len(d.qs))
	for i, q := range d.qs {
		out[i] = SinkStats{
			Sink: q.route.Sink.Name(), Filter: q.route.Filter.String(),
			Sent: q.sent.Load(), Failed: q.failed.Load(), Dropped: q.dropped.Load(), Pending: q.pending.Load(),
		}
	}
	return out
}
