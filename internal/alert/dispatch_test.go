package alert

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// flakySink fails its first n sends, then succeeds.
type flakySink struct {
	n        int32
	calls    atomic.Int32
	err      error // returned while failing; default a plain error
	closed   atomic.Bool
	received chan Event
}

func (f *flakySink) Name() string { return "flaky" }

func (f *flakySink) Send(_ context.Context, e Event) error {
	if f.calls.Add(1) <= f.n {
		if f.err != nil {
			return f.err
		}
		return errors.New("hook down")
	}
	if f.received != nil {
		f.received <- e
	}
	return nil
}

func (f *flakySink) Close() error { f.closed.Store(true); return nil }

// hangingSink blocks every send until its context ends, like a webhook
// that never answers and has no timeout.
type hangingSink struct {
	started chan struct{}
	once    sync.Once
}

func (h *hangingSink) Name() string { return "hanging" }

func (h *hangingSink) Send(ctx context.Context, _ Event) error {
	h.once.Do(func() { close(h.started) })
	<-ctx.Done()
	return ctx.Err()
}

// runDispatcher runs d until the returned stop is called; stop waits for
// it to return.
func runDispatcher(d *dispatcher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		d.run(ctx)
		close(done)
	}()
	return func() {
		cancel()
		<-done
	}
}

func testOptions(log *logBuffer) Options {
	o := Options{RetryBase: time.Millisecond, RetryMax: 4 * time.Millisecond, MaxAge: time.Minute, QueueSize: 8}
	if log != nil {
		o.Logger = log.logger()
	} else {
		o.Logger = quiet
	}
	return o.withDefaults()
}

func TestDispatchRetriesUntilDelivered(t *testing.T) {
	var log logBuffer
	f := &flakySink{n: 3, received: make(chan Event, 1)}
	d := newDispatcher([]Route{{Sink: f, Filter: AllKinds}}, testOptions(&log))
	stop := runDispatcher(d)
	if to := d.dispatch(newEvent(KindLow, t0, "t", "m")); len(to) != 1 || to[0] != "flaky" {
		t.Errorf("dispatch went to %v", to)
	}
	e := <-f.received
	if e.Kind != KindLow {
		t.Errorf("delivered %s", e.Kind)
	}
	stop()
	if got := f.calls.Load(); got != 4 {
		t.Errorf("%d attempts, want 3 failures and a success", got)
	}
	st := d.stats()[0]
	if st.Sent != 1 || st.Failed != 0 || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
	if !f.closed.Load() {
		t.Error("the sink was not closed when the dispatcher stopped")
	}
	out := log.String()
	if n := strings.Count(out, "delivery failed, retrying with backoff"); n != 1 {
		t.Errorf("%d warnings for one failing alert, want 1 (retries are debug):\n%s", n, out)
	}
	if !strings.Contains(out, "level=INFO msg=\"alerts: sink delivers again\" sink=flaky kind=low attempts=4") {
		t.Errorf("recovery not logged at INFO:\n%s", out)
	}
}

func TestDispatchPermanentErrorIsNotRetried(t *testing.T) {
	var log logBuffer
	f := &flakySink{n: 100, err: Permanent(errors.New("hook answered 404 Not Found"))}
	d := newDispatcher([]Route{{Sink: f, Filter: AllKinds}}, testOptions(&log))
	stop := runDispatcher(d)
	d.dispatch(newEvent(KindLow, t0, "t", "m"))
	waitFor(t, "the alert to be given up", func() bool { return d.stats()[0].Failed == 1 })
	stop()
	if got := f.calls.Load(); got != 1 {
		t.Errorf("%d attempts, want 1", got)
	}
	if !strings.Contains(log.String(), "level=WARN msg=\"alerts: alert not delivered (retrying would not help)\"") {
		t.Errorf("not logged:\n%s", log.String())
	}
}

func TestDispatchGivesUpAfterMaxAge(t *testing.T) {
	var log logBuffer
	f := &flakySink{n: 1 << 30}
	o := testOptions(&log)
	o.MaxAge = 20 * time.Millisecond
	d := newDispatcher([]Route{{Sink: f, Filter: AllKinds}}, o)
	stop := runDispatcher(d)
	d.dispatch(newEvent(KindLow, t0, "t", "m"))
	waitFor(t, "the alert to be given up", func() bool { return d.stats()[0].Failed == 1 })
	stop()
	if f.calls.Load() < 2 {
		t.Errorf("%d attempts, want retries before giving up", f.calls.Load())
	}
	if !strings.Contains(log.String(), "alerts: alert not delivered, giving up") {
		t.Errorf("giving up not logged:\n%s", log.String())
	}
}

func TestDispatchHangingSinkBlocksNoOne(t *testing.T) {
	var log logBuffer
	o := testOptions(&log)
	hang := &hangingSink{started: make(chan struct{})}
	rec := &recorder{}
	d := newDispatcher([]Route{
		{Sink: hang, Filter: AllKinds},
		{Sink: rec, Filter: mustFilter(t, "low")},
	}, o)
	stop := runDispatcher(d)
	d.dispatch(newEvent(KindExhausted, t0, "first", "m"))
	<-hang.started // the hanging sink holds its first alert from now on

	const extra = 50
	for range extra {
		d.dispatch(newEvent(KindExhausted, t0, "more", "m")) // would block here if dispatch waited
	}
	for range 3 {
		d.dispatch(newEvent(KindLow, t0, "low", "m"))
	}
	waitFor(t, "the other sink's alerts", func() bool { return len(rec.events()) == 3 })
	hs := d.stats()[0]
	// One in flight, a full queue, the rest dropped and counted.
	if want := uint64(extra + 3 - o.QueueSize); hs.Dropped != want || hs.Pending != int64(o.QueueSize)+1 {
		t.Errorf("hanging sink stats %+v, want %d dropped and %d pending", hs, want, o.QueueSize+1)
	}
	if n := strings.Count(log.String(), "sink queue full"); n != 1 {
		t.Errorf("%d queue-full warnings for one run of drops, want 1:\n%s", n, log.String())
	}
	stop()
	// The queue and the alert cut short in its send.
	if !strings.Contains(log.String(), "alerts: stopping with alerts not delivered\" sink=hanging count=9") {
		t.Errorf("undelivered alerts at stop not reported:\n%s", log.String())
	}
	if rs := d.stats()[1]; rs.Sent != 3 || rs.Dropped != 0 {
		t.Errorf("other sink stats %+v", rs)
	}
}

func TestDispatchReportsTheEndOfADropRun(t *testing.T) {
	var log logBuffer
	o := testOptions(&log)
	o.QueueSize = 1
	f := &flakySink{}
	d := newDispatcher([]Route{{Sink: f, Filter: AllKinds}}, o)
	// Not running: the queue fills and stays full.
	d.dispatch(newEvent(KindLow, t0, "1", "m"))
	d.dispatch(newEvent(KindLow, t0, "2", "m"))
	d.dispatch(newEvent(KindLow, t0, "3", "m"))
	<-d.qs[0].ch // make room
	d.dispatch(newEvent(KindLow, t0, "4", "m"))
	if !strings.Contains(log.String(), "alerts: sink queue has room again\" sink=flaky dropped=2") {
		t.Errorf("end of the drop run not reported:\n%s", log.String())
	}
}

func TestBackoffDoublesToTheCap(t *testing.T) {
	d := newDispatcher(nil, Options{RetryBase: time.Second, RetryMax: 10 * time.Second}.withDefaults())
	var got []time.Duration
	for a := 1; a <= 6; a++ {
		got = append(got, d.backoff(a))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("backoff %v, want %v", got, want)
		}
	}
}

func mustFilter(t *testing.T, names ...string) Filter {
	t.Helper()
	f, err := ParseFilter(names)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
