package alert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/config"
	"github.com/quotatui/quotatui/internal/quota"
)

// Options configure a Service. Zero fields take the defaults named on each.
type Options struct {
	Clock     clock.Clock  // stamps derived alerts; clock.Real{} (give it the engine's clock)
	Logger    *slog.Logger // slog.Default()
	QueueSize int          // alerts waiting per sink before new ones are dropped; 64
	// RetryBase is the wait after a failed delivery, doubled per failure up
	// to RetryMax; an alert is given up when the next attempt would come
	// later than MaxAge after it was queued.
	RetryBase time.Duration // 2s
	RetryMax  time.Duration // 2m
	MaxAge    time.Duration // 15m
	// ScanEvery is the least time between two reads of every account's
	// snapshot: the engine signals a change per account synced, and one
	// read after a burst of them is enough.
	ScanEvery time.Duration // 500ms
	// NoClient says that no OAuth client is configured: when there are
	// accounts, one oauth_client alert goes out at start.
	NoClient bool
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 64
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 2 * time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 2 * time.Minute
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 15 * time.Minute
	}
	if o.ScanEvery <= 0 {
		o.ScanEvery = 500 * time.Millisecond
	}
	return o
}

// Service watches the quota engine and sends alerts to the configured
// sinks. New subscribes at once, so nothing the engine publishes after it
// is missed; Run does the work until its context ends.
type Service struct {
	eng  Engine
	opt  Options
	feed *quota.Feed
	d    *dispatcher
	w    *watcher

	ran       atomic.Bool
	closeOnce sync.Once

	// flush, set by tests only, asks the watch loop to handle every event
	// waiting in the feed and scan, then close the channel it was sent.
	flush chan chan struct{}
}

// New returns a Service sending to routes, subscribed to eng's feed. Call
// Run, or Close if Run will not be called.
func New(eng Engine, routes []Route, opt Options) *Service {
	opt = opt.withDefaults()
	s := &Service{eng: eng, opt: opt, d: newDispatcher(routes, opt), feed: eng.Subscribe()}
	wantForecast := false
	for _, r := range routes {
		wantForecast = wantForecast || r.Filter.Match(KindForecast)
	}
	s.w = newWatcher(eng, opt.Clock, opt.Logger, wantForecast, s.send)
	return s
}

// send logs an alert and queues it for the sinks that want it.
func (s *Service) send(e Event) {
	to := s.d.dispatch(e)
	if len(to) == 0 {
		s.opt.Logger.Debug("alert (no sink wants it)", "kind", e.Kind, "title", e.Title)
		return
	}
	s.opt.Logger.Info("alert", "kind", e.Kind, "title", e.Title, "sinks", strings.Join(to, ", "))
}

// Run derives alerts from the engine and delivers them until ctx ends. It
// returns nil once every goroutine it started has stopped, and closes the
// service. It may be called once.
func (s *Service) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return errors.New("alert: Run called twice")
	}
	defer s.Close()
	var wg sync.WaitGroup
	wg.Go(func() { s.d.run(ctx) })
	s.watch(ctx)
	wg.Wait()
	return nil
}

// watch reads the engine's feed until ctx ends or the feed is closed.
// Events are handled as they come; snapshot scans follow change signals,
// at most one per ScanEvery.
func (s *Service) watch(ctx context.Context) {
	if s.opt.NoClient && len(s.eng.GetAllQuotas()) > 0 {
		s.send(clientMissing(s.opt.Clock.Now()))
	}
	var (
		lastScan time.Time
		timer    *time.Timer
		timerC   <-chan time.Time
		dropped  uint64
	)
	scan := func() {
		// Events published before the change signal come first: an
		// account's exhausted alert before the pool's.
		s.drainEvents()
		s.w.scan(ctx)
		lastScan = time.Now()
		if d := s.feed.Dropped(); d > dropped {
			s.opt.Logger.Warn("alerts: the engine's event feed overflowed; some low/exhausted/reset alerts were lost",
				"dropped", d-dropped)
			dropped = d
		}
	}
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	scan() // states that hold from before the start (an account needing a login)
	events, changed := s.feed.Events(), s.feed.Changed()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-events:
			if !ok {
				return
			}
			s.w.fromQuota(e)
		case _, ok := <-changed:
			if !ok {
				return
			}
			if timerC != nil {
				continue // a scan is due already
			}
			if wait := s.opt.ScanEvery - time.Since(lastScan); wait > 0 {
				timer = time.NewTimer(wait)
				timerC = timer.C
				continue
			}
			scan()
		case <-timerC:
			timerC = nil
			scan()
		case done := <-s.flush:
			scan()
			close(done)
		}
	}
}

// drainEvents handles the events waiting in the feed without blocking.
func (s *Service) drainEvents() {
	for {
		select {
		case e, ok := <-s.feed.Events():
			if !ok {
				return
			}
			s.w.fromQuota(e)
		default:
			return
		}
	}
}

// Close unsubscribes from the engine. Run calls it on return; call it
// yourself only when Run is never called. It is safe to call twice.
func (s *Service) Close() {
	s.closeOnce.Do(s.feed.Close)
}

// Stats returns each sink's counters, in route order.
func (s *Service) Stats() []SinkStats { return s.d.stats() }

// FromConfig builds the sinks the configuration turns on, in the order
// desktop, webhook, command, each with its filter. None is not an error
// (nil routes). notifier is the desktop's; nil means the system's. A bad
// setting is an error naming it.
func FromConfig(c config.Alerts, notifier Notifier) ([]Route, error) {
	var (
		routes []Route
		errs   []error
	)
	add := func(key string, events []string, build func() (Sink, error)) {
		f, err := ParseFilter(events)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.events: %w", key, err))
			return
		}
		sink, err := build()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
			return
		}
		routes = append(routes, Route{Sink: sink, Filter: f})
	}
	if c.Desktop.Enabled {
		add("alerts.desktop", c.Desktop.Events, func() (Sink, error) {
			n := notifier
			if n == nil {
				var err error
				if n, err = defaultNotifier(); err != nil {
					return nil, err
				}
			}
			return NewDesktop(n), nil
		})
	}
	if c.Webhook.URL != "" {
		add("alerts.webhook", c.Webhook.Events, func() (Sink, error) {
			return NewWebhook(WebhookOptions{URL: c.Webhook.URL, Format: c.Webhook.Format, Token: c.Webhook.Token,
				Timeout: c.Webhook.Timeout, Client: &http.Client{Transport: http.DefaultTransport}})
		})
	}
	if c.Command.Run != "" {
		add("alerts.command", c.Command.Events, func() (Sink, error) {
			return NewCommand(CommandOptions{Run: c.Command.Run, Timeout: c.Command.Timeout})
		})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return routes, nil
}

// Result is one sink's answer to a test alert.
type Result struct {
	Sink string
	Err  error
	Took time.Duration
}

// Test sends e once to every route's sink, all at once and whatever their
// filters, without retrying, and returns the results in route order. It
// closes the sinks afterwards.
func Test(ctx context.Context, routes []Route, e Event) []Result {
	out := make([]Result, len(routes))
	var wg sync.WaitGroup
	for i, r := range routes {
		wg.Go(func() {
			t0 := time.Now()
			err := r.Sink.Send(ctx, e)
			out[i] = Result{Sink: r.Sink.Name(), Err: err, Took: time.Since(t0)}
		})
	}
	wg.Wait()
	for _, r := range routes {
		if c, ok := r.Sink.(io.Closer); ok {
			_ = c.Close()
		}
	}
	return out
}

// ErrNoSinks is returned by RunTest when no sink is configured.
var ErrNoSinks = errors.New("no alert sink is configured: set alerts.desktop.enabled, alerts.webhook.url or alerts.command.run (see the README's Alerts section)")

// RunTest is `quotatui alerts test`: it sends one sample alert to every
// sink c configures and writes one line per sink to w. It fails when no
// sink is configured, when the configuration is bad, or when any sink
// failed.
func RunTest(ctx context.Context, w io.Writer, c config.Alerts, now time.Time) error {
	routes, err := FromConfig(c, nil)
	if err != nil {
		return err
	}
	if len(routes) == 0 {
		return ErrNoSinks
	}
	results := Test(ctx, routes, Sample(now))
	width := 0
	for _, r := range results {
		width = max(width, len(r.Sink))
	}
	failed := 0
	var b strings.Builder
	for _, r := range results {
		took := r.Took.Round(time.Millisecond)
		if r.Err != nil {
			failed++
			fmt.Fprintf(&b, "%-*s  FAILED after %s: %v\n", width, r.Sink, took, r.Err)
		} else {
			fmt.Fprintf(&b, "%-*s  ok (%s)\n", width, r.Sink, took)
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("alerts test: %w", err)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d alert sinks failed", failed, len(results))
	}
	return nil
}
