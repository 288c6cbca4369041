package metrics

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/quota"
)

// The real sources must satisfy the interfaces this package declares.
var (
	_ QuotaSource = (*quota.Manager)(nil)
	_ ProxySource = (*proxy.Server)(nil)
)

type fakeQuota struct {
	statuses []quota.Status
	stats    quota.MonitorStats
	syncs    map[int64]quota.AccountSyncStats
	health   quota.Health
}

func (f *fakeQuota) GetAllQuotas() []quota.Status     { return f.statuses }
func (f *fakeQuota) Health() quota.Health             { return f.health }
func (f *fakeQuota) MonitorStats() quota.MonitorStats { return f.stats }
func (f *fakeQuota) SyncStats() map[int64]quota.AccountSyncStats {
	return f.syncs
}

type fakeProxy struct{ stats proxy.Stats }

func (f *fakeProxy) Stats() proxy.Stats { return f.stats }

func known(v float64) cloudcode.Fraction { return cloudcode.Fraction{Value: v, Known: true} }

// Family indexes in quota.Status.Families.
const (
	gem = 0 // cloudcode.FamilyGemini
	cg  = 1 // cloudcode.FamilyClaudeGPT
)

var syncStart = time.Date(2026, 11, 27, 12, 0, 0, 500_000_000, time.UTC)

func fixtures() (*fakeQuota, *fakeProxy) {
	work := quota.Status{AccountID: 1, Email: "a@example.com", Label: "work", Tier: cloudcode.TierPro, State: quota.StateActive}
	work.Families[gem] = quota.FamilyQuota{Family: cloudcode.FamilyGemini,
		FiveHour: quota.BucketQuota{Remaining: known(0.65)}, Weekly: quota.BucketQuota{Remaining: known(0.95)},
		Effective: known(0.65), Decision: quota.Proceed}
	// The 5h figure is unknown; the weekly bucket is nearly empty.
	work.Families[cg] = quota.FamilyQuota{Family: cloudcode.FamilyClaudeGPT,
		Weekly: quota.BucketQuota{Remaining: known(0.05)}, Effective: known(0.05), Decision: quota.LowQuota}
	work.Marks[cg] = quota.Mark{Kind: quota.CooldownMark, Until: syncStart.Add(time.Minute), Reason: "rate limited"}
	work.At = syncStart

	// No label: the email names it. It needs a login, so nothing is usable.
	free := quota.Status{AccountID: 2, Email: "b@example.com", Tier: cloudcode.TierFree, State: quota.StateNeedsLogin}
	free.Families[cg] = quota.FamilyQuota{Family: cloudcode.FamilyClaudeGPT,
		FiveHour: quota.BucketQuota{Remaining: known(0)}, Weekly: quota.BucketQuota{Remaining: known(0.5)},
		Effective: known(0), Decision: quota.Exhausted}

	// Same label as account 1: must not produce duplicate series.
	twin := quota.Status{AccountID: 3, Email: "c@example.com", Label: "work", Tier: cloudcode.TierUltra, State: quota.StateActive,
		Unreadable: "SERVICE_DISABLED: refused", UnreadableCause: "forbidden"}
	twin.Families[gem] = quota.FamilyQuota{Family: cloudcode.FamilyGemini,
		FiveHour: quota.BucketQuota{Remaining: known(1)}, Weekly: quota.BucketQuota{Remaining: known(1)},
		Effective: known(1), Decision: quota.Proceed}

	q := &fakeQuota{
		statuses: []quota.Status{work, free, twin},
		stats: quota.MonitorStats{
			SyncsRun:      7,
			LastSyncStart: syncStart,
			LastSyncTook:  1500 * time.Millisecond,
			Cache:         quota.CacheStats{Hits: 30, Misses: 10, HitRatio: 0.75},
		},
		syncs: map[int64]quota.AccountSyncStats{
			1:  {Successes: 5, Errors: 2, LastError: "boom"},
			2:  {Successes: 7},
			99: {Errors: 4}, // removed since: no label to give it
		},
	}
	p := &fakeProxy{stats: proxy.Stats{
		RequestsByStatus:  map[int]uint64{200: 10, 429: 2, 502: 1},
		RequestsByFamily:  map[string]uint64{"gemini": 8, "claude-gpt": 5},
		InFlight:          3,
		ProactiveSwitches: 4,
		ReactiveSwitches:  1,
		Client429s:        2,
		Upstream429s:      6,
		ClientCancels:     7,
		UpstreamBreaks:    3,
		BufferedBytes:     4096,
		ActiveSessions:    2,
		Paused:            true,
	}}
	return q, p
}

// scrape fetches the handler's output and parses it as Prometheus would.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape status %d: %s", rec.Code, rec.Body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse scrape: %v", err)
	}
	return fams
}

// sample finds the one sample of name whose labels are exactly labels.
func sample(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (*dto.Metric, bool) {
	fam, ok := fams[name]
	if !ok {
		return nil, false
	}
	for _, m := range fam.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		if maps.Equal(got, labels) {
			return m, true
		}
	}
	return nil, false
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return -1
}

type L = map[string]string

func TestScrape(t *testing.T) {
	q, p := fixtures()
	m := New(q, p)
	m.ObserveUpstreamLatency(300 * time.Millisecond)
	m.ObserveUpstreamLatency(2 * time.Second)
	m.ObserveSync(1500*time.Millisecond, true)
	m.ObserveSync(2*time.Second, false)
	fams := scrape(t, m)

	tests := []struct {
		name   string
		labels L
		typ    dto.MetricType
		want   float64
	}{
		{"quotatui_remaining_fraction", L{"account": "work", "family": "gemini", "window": "5h"}, dto.MetricType_GAUGE, 0.65},
		{"quotatui_remaining_fraction", L{"account": "work", "family": "gemini", "window": "weekly"}, dto.MetricType_GAUGE, 0.95},
		{"quotatui_remaining_fraction", L{"account": "work", "family": "gemini", "window": "effective"}, dto.MetricType_GAUGE, 0.65},
		{"quotatui_remaining_fraction", L{"account": "work", "family": "claude-gpt", "window": "weekly"}, dto.MetricType_GAUGE, 0.05},
		{"quotatui_remaining_fraction", L{"account": "work", "family": "claude-gpt", "window": "effective"}, dto.MetricType_GAUGE, 0.05},
		// A known 0 is exported: exhausted is not unknown.
		{"quotatui_remaining_fraction", L{"account": "b@example.com", "family": "claude-gpt", "window": "5h"}, dto.MetricType_GAUGE, 0},
		{"quotatui_remaining_fraction", L{"account": "b@example.com", "family": "claude-gpt", "window": "effective"}, dto.MetricType_GAUGE, 0},
		{"quotatui_remaining_fraction", L{"account": "work#3", "family": "gemini", "window": "effective"}, dto.MetricType_GAUGE, 1},

		{"quotatui_decision", L{"account": "work", "family": "gemini", "decision": "Proceed"}, dto.MetricType_GAUGE, 1},
		{"quotatui_decision", L{"account": "work", "family": "gemini", "decision": "LowQuota"}, dto.MetricType_GAUGE, 0},
		{"quotatui_decision", L{"account": "work", "family": "claude-gpt", "decision": "LowQuota"}, dto.MetricType_GAUGE, 1},
		{"quotatui_decision", L{"account": "work", "family": "claude-gpt", "decision": "Proceed"}, dto.MetricType_GAUGE, 0},
		{"quotatui_decision", L{"account": "b@example.com", "family": "claude-gpt", "decision": "Exhausted"}, dto.MetricType_GAUGE, 1},
		{"quotatui_decision", L{"account": "b@example.com", "family": "gemini", "decision": "Unknown"}, dto.MetricType_GAUGE, 1},

		{"quotatui_account_usable", L{"account": "work", "family": "gemini"}, dto.MetricType_GAUGE, 1},
		{"quotatui_account_usable", L{"account": "work", "family": "claude-gpt"}, dto.MetricType_GAUGE, 0},      // cooldown mark
		{"quotatui_account_usable", L{"account": "b@example.com", "family": "gemini"}, dto.MetricType_GAUGE, 0}, // needs login
		{"quotatui_account_usable", L{"account": "work#3", "family": "gemini"}, dto.MetricType_GAUGE, 1},
		{"quotatui_account_info", L{"account": "b@example.com", "tier": "FREE", "state": "needs_login"}, dto.MetricType_GAUGE, 1},
		{"quotatui_quota_unreadable", L{"account": "work#3", "cause": "forbidden"}, dto.MetricType_GAUGE, 1},
		{"quotatui_healthy", L{}, dto.MetricType_GAUGE, 1},

		{"quotatui_syncs_total", L{}, dto.MetricType_COUNTER, 7},
		{"quotatui_sync_errors_total", L{"account": "work"}, dto.MetricType_COUNTER, 2},
		{"quotatui_sync_errors_total", L{"account": "b@example.com"}, dto.MetricType_COUNTER, 0},
		{"quotatui_last_sync_duration_seconds", L{}, dto.MetricType_GAUGE, 1.5},
		{"quotatui_last_sync_timestamp_seconds", L{}, dto.MetricType_GAUGE, float64(syncStart.Unix()) + 0.5},
		{"quotatui_cache_hit_ratio", L{}, dto.MetricType_GAUGE, 0.75},
		{"quotatui_cache_hits_total", L{}, dto.MetricType_COUNTER, 30},
		{"quotatui_cache_misses_total", L{}, dto.MetricType_COUNTER, 10},

		{"quotatui_proxy_requests_total", L{"status": "200"}, dto.MetricType_COUNTER, 10},
		{"quotatui_proxy_requests_total", L{"status": "429"}, dto.MetricType_COUNTER, 2},
		{"quotatui_proxy_requests_total", L{"status": "502"}, dto.MetricType_COUNTER, 1},
		{"quotatui_proxy_requests_by_family_total", L{"family": "gemini"}, dto.MetricType_COUNTER, 8},
		{"quotatui_proxy_requests_by_family_total", L{"family": "claude-gpt"}, dto.MetricType_COUNTER, 5},
		{"quotatui_proxy_in_flight", L{}, dto.MetricType_GAUGE, 3},
		{"quotatui_proxy_switches_total", L{"kind": "proactive"}, dto.MetricType_COUNTER, 4},
		{"quotatui_proxy_switches_total", L{"kind": "reactive"}, dto.MetricType_COUNTER, 1},
		{"quotatui_proxy_client_429_total", L{}, dto.MetricType_COUNTER, 2},
		{"quotatui_proxy_upstream_429_total", L{}, dto.MetricType_COUNTER, 6},
		{"quotatui_proxy_client_cancels_total", L{}, dto.MetricType_COUNTER, 7},
		{"quotatui_proxy_upstream_breaks_total", L{}, dto.MetricType_COUNTER, 3},
		{"quotatui_proxy_buffered_bytes", L{}, dto.MetricType_GAUGE, 4096},
		{"quotatui_proxy_active_sessions", L{}, dto.MetricType_GAUGE, 2},
		{"quotatui_proxy_paused", L{}, dto.MetricType_GAUGE, 1},
	}
	for _, tt := range tests {
		s, ok := sample(fams, tt.name, tt.labels)
		if !ok {
			t.Errorf("no sample %s%v", tt.name, tt.labels)
			continue
		}
		if typ := fams[tt.name].GetType(); typ != tt.typ {
			t.Errorf("%s has type %v, want %v", tt.name, typ, tt.typ)
		}
		if got := value(s); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}

	// Unknown fractions are absent, never exported as 0.
	for _, labels := range []L{
		{"account": "work", "family": "claude-gpt", "window": "5h"},
		{"account": "b@example.com", "family": "gemini", "window": "5h"},
		{"account": "b@example.com", "family": "gemini", "window": "weekly"},
		{"account": "b@example.com", "family": "gemini", "window": "effective"},
	} {
		if _, ok := sample(fams, "quotatui_remaining_fraction", labels); ok {
			t.Errorf("unknown fraction exported: quotatui_remaining_fraction%v", labels)
		}
	}
	if n := len(fams["quotatui_remaining_fraction"].GetMetric()); n != 3+2+3+3 {
		t.Errorf("%d remaining_fraction samples, want 11 (only the known ones)", n)
	}
	// Every decision is listed for every (account, family), exactly one at 1.
	ones := map[string]int{}
	for _, s := range fams["quotatui_decision"].GetMetric() {
		var acct, fam string
		for _, lp := range s.GetLabel() {
			switch lp.GetName() {
			case "account":
				acct = lp.GetValue()
			case "family":
				fam = lp.GetValue()
			}
		}
		ones[acct+"/"+fam] += int(value(s))
	}
	if len(fams["quotatui_decision"].GetMetric()) != 3*2*4 || len(ones) != 6 {
		t.Errorf("decision series: %d samples over %d pairs, want 24 over 6", len(fams["quotatui_decision"].GetMetric()), len(ones))
	}
	for pair, n := range ones {
		if n != 1 {
			t.Errorf("%s has %d decisions at 1, want exactly 1", pair, n)
		}
	}
	// An account gone from the snapshot has no sync-error series.
	if n := len(fams["quotatui_sync_errors_total"].GetMetric()); n != 2 {
		t.Errorf("%d sync_errors_total series, want 2 (accounts 1 and 2)", n)
	}

	lat := fams["quotatui_upstream_latency_seconds"]
	if lat.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("upstream latency type %v, want histogram", lat.GetType())
	}
	h := lat.GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 2.3 {
		t.Errorf("latency histogram count %d sum %v, want 2 and 2.3", h.GetSampleCount(), h.GetSampleSum())
	}
	for _, b := range h.GetBucket() {
		want := uint64(0)
		if b.GetUpperBound() >= 0.3 {
			want++
		}
		if b.GetUpperBound() >= 2 {
			want++
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("latency bucket le=%v has %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	for _, result := range []string{"ok", "error"} {
		s, ok := sample(fams, "quotatui_sync_duration_seconds", L{"result": result})
		if !ok || s.GetHistogram().GetSampleCount() != 1 {
			t.Errorf("sync_duration_seconds{result=%q} missing or wrong count", result)
		}
	}
	// The runtime collectors are there for headless use.
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("go_goroutines missing")
	}
}

func TestScrapeReadsFreshSnapshots(t *testing.T) {
	q, p := fixtures()
	m := New(q, p)
	before := scrape(t, m)
	q.statuses[0].Families[gem].Effective = known(0.4)
	p.stats.Client429s = 9
	after := scrape(t, m)
	labels := L{"account": "work", "family": "gemini", "window": "effective"}
	b, _ := sample(before, "quotatui_remaining_fraction", labels)
	a, _ := sample(after, "quotatui_remaining_fraction", labels)
	if value(b) != 0.65 || value(a) != 0.4 {
		t.Errorf("effective fraction before/after = %v/%v, want 0.65/0.4", value(b), value(a))
	}
	c, _ := sample(after, "quotatui_proxy_client_429_total", L{})
	if value(c) != 9 {
		t.Errorf("client 429s = %v after change, want 9", value(c))
	}
}

func TestNilSources(t *testing.T) {
	fams := scrape(t, New(nil, nil))
	for name := range fams {
		if strings.HasPrefix(name, "quotatui_") && !slices.Contains([]string{
			"quotatui_upstream_latency_seconds", "quotatui_sync_duration_seconds",
		}, name) {
			t.Errorf("series %s exported without a source", name)
		}
	}
}

func TestNoSyncYet(t *testing.T) {
	q := &fakeQuota{}
	fams := scrape(t, New(q, nil))
	for _, name := range []string{"quotatui_last_sync_duration_seconds", "quotatui_last_sync_timestamp_seconds"} {
		if _, ok := fams[name]; ok {
			t.Errorf("%s exported before any sync", name)
		}
	}
	if s, ok := sample(fams, "quotatui_syncs_total", L{}); !ok || value(s) != 0 {
		t.Error("quotatui_syncs_total should be 0 before any sync")
	}
}

func TestAccountLabels(t *testing.T) {
	tests := []struct {
		name     string
		statuses []quota.Status
		want     map[int64]string
	}{
		{"label over email", []quota.Status{{AccountID: 1, Email: "a@x", Label: "main"}}, map[int64]string{1: "main"}},
		{"email when no label", []quota.Status{{AccountID: 1, Email: "a@x"}}, map[int64]string{1: "a@x"}},
		{"id when nothing", []quota.Status{{AccountID: 4}}, map[int64]string{4: "#4"}},
		{"duplicates get the id", []quota.Status{{AccountID: 1, Label: "x"}, {AccountID: 2, Label: "x"}, {AccountID: 3, Label: "x#2"}},
			map[int64]string{1: "x", 2: "x#2", 3: "x#2#3"}},
	}
	for _, tt := range tests {
		if got := accountLabels(tt.statuses); !maps.Equal(got, tt.want) {
			t.Errorf("%s: accountLabels = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestInvalidLabelDoesNotBreakScrape(t *testing.T) {
	q, p := fixtures()
	q.statuses[1].Email = "bad\xffutf8"
	fams := scrape(t, New(q, p))
	if _, ok := sample(fams, "quotatui_proxy_client_429_total", L{}); !ok {
		t.Error("the other series were lost with one bad label")
	}
}

// BenchmarkScrape measures one full scrape (collect, encode) with 1000
// accounts, the size the product targets.
func BenchmarkScrape(b *testing.B) {
	q, p := fixtures()
	base := q.statuses[0]
	q.statuses = q.statuses[:0]
	for i := range 1000 {
		s := base
		s.AccountID = int64(i + 1)
		s.Label = "acct-" + strconv.Itoa(i)
		q.statuses = append(q.statuses, s)
	}
	h := New(q, p).Handler()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

// An unhealthy engine (its database cannot be written) shows in metrics.
func TestScrapeUnhealthy(t *testing.T) {
	q, p := fixtures()
	q.health = quota.Health{Problems: []string{"database not writable since 12:00:00: disk full"}}
	fams := scrape(t, New(q, p))
	if m, ok := sample(fams, "quotatui_healthy", L{}); !ok || m.GetGauge().GetValue() != 0 {
		t.Errorf("quotatui_healthy = %v (%v), want 0", m, ok)
	}
}

// The usable series is the engine's predicate (quota.Status.FamilyCheck):
// a mark that ended is no longer in force, and the states added later
// (needs_client, client_mismatch) are unusable. The copy metrics had
// judged both differently.
func TestUsableIsTheEnginesPredicate(t *testing.T) {
	at := syncStart
	ended := quota.Status{AccountID: 1, Label: "ended", State: quota.StateActive, EngineState: quota.StateActive, At: at}
	ended.Families[gem] = quota.FamilyQuota{Family: cloudcode.FamilyGemini, Effective: known(0.8), Decision: quota.Proceed}
	ended.Marks[gem] = quota.Mark{Kind: quota.CooldownMark, Until: at.Add(-time.Second)}
	client := quota.Status{AccountID: 2, Label: "client", State: quota.StateNeedsClient, EngineState: quota.StateNeedsClient, At: at}
	client.Families[gem] = quota.FamilyQuota{Family: cloudcode.FamilyGemini, Effective: known(0.8), Decision: quota.Proceed}
	fams := scrape(t, New(&fakeQuota{statuses: []quota.Status{ended, client}}, nil))
	for _, tt := range []struct {
		account string
		want    float64
	}{{"ended", 1}, {"client", 0}} {
		m, ok := sample(fams, "quotatui_account_usable", L{"account": tt.account, "family": "gemini"})
		if !ok || m.GetGauge().GetValue() != tt.want {
			t.Errorf("%s usable = %v (%v), want %v", tt.account, m.GetGauge().GetValue(), ok, tt.want)
		}
	}
}
