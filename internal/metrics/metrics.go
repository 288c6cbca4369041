// Package metrics exposes quotatui's state in the Prometheus text format,
// for people who run the proxy headless.
//
// Quota and proxy figures are read from snapshots at scrape time by a
// custom collector, so nothing polls in the background and a scrape always
// sees the same numbers as the dashboard. Only the latency and sync-time
// histograms are fed as things happen, through ObserveUpstreamLatency and
// ObserveSync. Each Metrics has its own registry; the global one is never
// touched, so tests and several servers in one process do not collide.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/quota"
)

// QuotaSource gives quota snapshots; *quota.Manager satisfies it.
type QuotaSource interface {
	GetAllQuotas() []quota.Status
	MonitorStats() quota.MonitorStats
	SyncStats() map[int64]quota.AccountSyncStats
}

// healthSource is a QuotaSource that also reports the engine's own health
// (its database); *quota.Manager is one.
type healthSource interface {
	Health() quota.Health
}

// ProxySource gives the proxy's counters; *proxy.Server satisfies it.
type ProxySource interface {
	Stats() proxy.Stats
}

// Metrics owns a Prometheus registry holding quotatui's series.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler
	latency prometheus.Histogram
	syncs   *prometheus.HistogramVec
}

// New returns Metrics reading q and p at scrape time. Either may be nil,
// in which case its series are left out (a `status`-style tool has no
// proxy, for one). The registry also holds the Go runtime and process
// collectors, whose memory and CPU figures matter for a long-running
// service.
func New(q QuotaSource, p ProxySource) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "quotatui_upstream_latency_seconds",
			Help: "Time from sending a request upstream to its response headers.",
			// Generation calls take seconds to minutes, not milliseconds.
			Buckets: []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}),
		syncs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "quotatui_sync_duration_seconds",
			Help:    "Duration of syncs of all accounts, by result (ok when no account failed).",
			Buckets: []float64{.1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"result"}),
	}
	m.reg.MustRegister(m.latency, m.syncs, &collector{q: q, p: p},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return m
}

// Handler serves the registry in the Prometheus exposition format. A bad
// series is left out and the rest served, rather than the whole scrape
// failing. It returns the same handler on every call.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Registry returns the registry, for callers that add their own series.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveUpstreamLatency records one upstream call's latency. It has the
// signature of proxy.Options.OnUpstreamLatency.
func (m *Metrics) ObserveUpstreamLatency(d time.Duration) {
	m.latency.Observe(d.Seconds())
}

// ObserveSync records how long one sync of all accounts took and whether
// every account succeeded.
func (m *Metrics) ObserveSync(d time.Duration, ok bool) {
	result := "ok"
	if !ok {
		result = "error"
	}
	m.syncs.WithLabelValues(result).Observe(d.Seconds())
}

// The series read from snapshots.
var (
	descRemaining = prometheus.NewDesc("quotatui_remaining_fraction",
		"Remaining quota fraction per account, model family and window (5h, weekly, effective = the lowest that applies). Unknown values are absent.",
		[]string{"account", "family", "window"}, nil)
	descDecision = prometheus.NewDesc("quotatui_decision",
		"1 for the account's current decision for the family (Proceed, LowQuota, Exhausted, Unknown), 0 for the others.",
		[]string{"account", "family", "decision"}, nil)
	descUsable = prometheus.NewDesc("quotatui_account_usable",
		"1 when the account can take requests for the family: active, no cooldown or exhaustion mark, not exhausted.",
		[]string{"account", "family"}, nil)
	descUnreadable = prometheus.NewDesc("quotatui_quota_unreadable",
		"1 while the account's quota cannot be read (the account stays routable on the reactive path); cause is forbidden (403), rate_limited (429), no_project or other.",
		[]string{"account", "cause"}, nil)
	descHealthy = prometheus.NewDesc("quotatui_healthy",
		"1 when quotatui itself is healthy, 0 when its database cannot be written or its file was deleted (see the log and /healthz for why).",
		nil, nil)
	descAccount = prometheus.NewDesc("quotatui_account_info",
		"Always 1; labels carry the account's tier and state.",
		[]string{"account", "tier", "state"}, nil)
	descSyncs = prometheus.NewDesc("quotatui_syncs_total",
		"Syncs of all accounts run by the monitor.", nil, nil)
	descSyncErrors = prometheus.NewDesc("quotatui_sync_errors_total",
		"Failed syncs per account.", []string{"account"}, nil)
	descLastSyncTook = prometheus.NewDesc("quotatui_last_sync_duration_seconds",
		"Duration of the last completed sync of all accounts.", nil, nil)
	descLastSyncAt = prometheus.NewDesc("quotatui_last_sync_timestamp_seconds",
		"Unix time the last sync of all accounts started.", nil, nil)
	descCacheHitRatio = prometheus.NewDesc("quotatui_cache_hit_ratio",
		"Quota checks answered from the cache, as a fraction of all checks since start.", nil, nil)
	descCacheHits = prometheus.NewDesc("quotatui_cache_hits_total",
		"Quota checks answered from the cache.", nil, nil)
	descCacheMisses = prometheus.NewDesc("quotatui_cache_misses_total",
		"Quota checks that had to ask the upstream.", nil, nil)

	descRequests = prometheus.NewDesc("quotatui_proxy_requests_total",
		"Client requests by the HTTP status sent back.", []string{"status"}, nil)
	descRequestsByFamily = prometheus.NewDesc("quotatui_proxy_requests_by_family_total",
		"Client requests by model family.", []string{"family"}, nil)
	descInFlight = prometheus.NewDesc("quotatui_proxy_in_flight",
		"Client requests being served now.", nil, nil)
	descSwitches = prometheus.NewDesc("quotatui_proxy_switches_total",
		"Account switches: proactive (before the request went out) or reactive (after an upstream error).",
		[]string{"kind"}, nil)
	descClient429 = prometheus.NewDesc("quotatui_proxy_client_429_total",
		"429 responses passed on to clients.", nil, nil)
	descUpstream429 = prometheus.NewDesc("quotatui_proxy_upstream_429_total",
		"429 responses received from the upstream.", nil, nil)
	descClientCancels = prometheus.NewDesc("quotatui_proxy_client_cancels_total",
		"Client requests whose client left before its answer was complete (also counted as status 499).", nil, nil)
	descUpstreamBreaks = prometheus.NewDesc("quotatui_proxy_upstream_breaks_total",
		"Streams the upstream cut or stalled after their first byte, ended to the client as broken (also counted as status 502).", nil, nil)
	descBufferedBytes = prometheus.NewDesc("quotatui_proxy_buffered_bytes",
		"Bytes of client bodies held now for replays on other accounts (bounded by proxy.buffer_limit).", nil, nil)
	descSessions = prometheus.NewDesc("quotatui_proxy_active_sessions",
		"Conversations currently bound to an account.", nil, nil)
	descPaused = prometheus.NewDesc("quotatui_proxy_paused",
		"1 while the proxy is paused from the dashboard.", nil, nil)
)

// decisions lists every decision, so quotatui_decision is a complete state
// set that alerts can match on with == 1.
var decisions = [...]quota.Decision{quota.Proceed, quota.LowQuota, quota.Exhausted, quota.Unknown}

// collector reads the sources' snapshots at each scrape.
type collector struct {
	q QuotaSource
	p ProxySource
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descRemaining, descDecision, descUsable, descUnreadable, descHealthy, descAccount, descSyncs, descSyncErrors,
		descLastSyncTook, descLastSyncAt, descCacheHitRatio, descCacheHits, descCacheMisses,
		descRequests, descRequestsByFamily, descInFlight, descSwitches, descClient429,
		descUpstream429, descClientCancels, descUpstreamBreaks, descBufferedBytes, descSessions, descPaused,
	} {
		ch <- d
	}
	for _, d := range usageDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	if c.q != nil {
		c.collectQuota(ch)
	}
	if c.p != nil {
		c.collectProxy(ch)
	}
}

func (c *collector) collectQuota(ch chan<- prometheus.Metric) {
	statuses := c.q.GetAllQuotas()
	labels := accountLabels(statuses)
	for _, s := range statuses {
		acct := labels[s.AccountID]
		ch <- gauge(descAccount, 1, acct, s.Tier.String(), string(s.State))
		if s.Unreadable != "" {
			ch <- gauge(descUnreadable, 1, acct, s.UnreadableCause)
		}
		for i, f := range cloudcode.Families {
			fq := s.Families[i]
			fam := f.String()
			for _, w := range []struct {
				name string
				v    cloudcode.Fraction
			}{{"5h", fq.FiveHour.Remaining}, {"weekly", fq.Weekly.Remaining}, {"effective", fq.Effective}} {
				// Unknown is not 0 %: leave the series out rather than
				// alert on an empty account that is not empty.
				if w.v.Known {
					ch <- gauge(descRemaining, w.v.Value, acct, fam, w.name)
				}
			}
			for _, d := range decisions {
				ch <- gauge(descDecision, b2f(fq.Decision == d), acct, fam, d.String())
			}
			// The engine's own predicate, on the snapshot's time and the
			// user's thresholds: metrics never judge an account otherwise.
			ch <- gauge(descUsable, b2f(s.FamilyCheck(f, s.At).Usable), acct, fam)
		}
	}

	collectEstimates(ch, statuses, labels)

	if hs, ok := c.q.(healthSource); ok {
		ch <- gauge(descHealthy, b2f(hs.Health().OK()))
	}
	ms := c.q.MonitorStats()
	ch <- counter(descSyncs, float64(ms.SyncsRun))
	for id, st := range c.q.SyncStats() {
		if acct, ok := labels[id]; ok {
			ch <- counter(descSyncErrors, float64(st.Errors), acct)
		}
	}
	if ms.SyncsRun > 0 {
		ch <- gauge(descLastSyncTook, ms.LastSyncTook.Seconds())
	}
	if !ms.LastSyncStart.IsZero() {
		ch <- gauge(descLastSyncAt, float64(ms.LastSyncStart.UnixNano())/1e9)
	}
	ch <- gauge(descCacheHitRatio, ms.Cache.HitRatio)
	ch <- counter(descCacheHits, float64(ms.Cache.Hits))
	ch <- counter(descCacheMisses, float64(ms.Cache.Misses))
	c.collectLedger(ch, ms, labels)
}

func (c *collector) collectProxy(ch chan<- prometheus.Metric) {
	st := c.p.Stats()
	for status, n := range st.RequestsByStatus {
		ch <- counter(descRequests, float64(n), strconv.Itoa(status))
	}
	for fam, n := range st.RequestsByFamily {
		ch <- counter(descRequestsByFamily, float64(n), fam)
	}
	ch <- gauge(descInFlight, float64(st.InFlight))
	ch <- counter(descSwitches, float64(st.ProactiveSwitches), "proactive")
	ch <- counter(descSwitches, float64(st.ReactiveSwitches), "reactive")
	ch <- counter(descClient429, float64(st.Client429s))
	ch <- counter(descUpstream429, float64(st.Upstream429s))
	ch <- counter(descClientCancels, float64(st.ClientCancels))
	ch <- counter(descUpstreamBreaks, float64(st.UpstreamBreaks))
	ch <- gauge(descBufferedBytes, float64(st.BufferedBytes))
	ch <- gauge(descSessions, float64(st.ActiveSessions))
	ch <- gauge(descPaused, b2f(st.Paused))
}

// accountLabels names each account for the "account" label: its label,
// else its email, else its id. Two accounts with the same label would make
// duplicate series, which fail a scrape, so later ones get their id added.
// Tokens are never part of a label.
func accountLabels(statuses []quota.Status) map[int64]string {
	out := make(map[int64]string, len(statuses))
	seen := make(map[string]bool, len(statuses))
	for _, s := range statuses {
		name := s.Label
		if name == "" {
			name = s.Email
		}
		for name == "" || seen[name] {
			name += "#" + strconv.FormatInt(s.AccountID, 10)
		}
		seen[name] = true
		out[s.AccountID] = name
	}
	return out
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return constMetric(d, prometheus.GaugeValue, v, labels)
}

func counter(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return constMetric(d, prometheus.CounterValue, v, labels)
}

// constMetric builds one sample. A label the exposition format refuses
// (invalid UTF-8 in an account label, say) becomes an invalid metric,
// which the handler reports while serving the rest, instead of a panic.
func constMetric(d *prometheus.Desc, t prometheus.ValueType, v float64, labels []string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(d, t, v, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
