package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
)

// The spend ledger's series (issues 14 and 16.3): what the proxy served,
// the estimate between syncs, and what reading quota costs.

// usageSource is a QuotaSource that also counts what the proxy completed
// per account and model; *quota.Manager is one.
type usageSource interface {
	UsageTotals() []quota.ModelUsage
}

var (
	descTokens = prometheus.NewDesc("quotatui_tokens_total",
		"Tokens of the answers the proxy served since start (usageMetadata), by account, family, model and type: prompt, candidates (output), thoughts, cached (the part of prompt read from the cache). Failed requests count none.",
		[]string{"account", "family", "model", "type"}, nil)
	descUsageRequests = prometheus.NewDesc("quotatui_usage_requests_total",
		"Requests the proxy completed since start, by account, family, model and result: answered, or error (the client got no complete answer).",
		[]string{"account", "family", "model", "result"}, nil)
	descCharged = prometheus.NewDesc("quotatui_usage_charged_total",
		"Requests the upstream accepted (they spent quota, answered or not), by account, family and model.",
		[]string{"account", "family", "model"}, nil)
	descEstimated = prometheus.NewDesc("quotatui_remaining_estimated",
		"1 while the account's quotatui_remaining_fraction for the family is an estimate since the last sync (the requests served since counted at their learned cost), 0 when it is the synced figure.",
		[]string{"account", "family"}, nil)
	descRequestsSinceSync = prometheus.NewDesc("quotatui_requests_since_sync",
		"Requests the proxies served on the account for the family since its figures were synced (what the estimate counts).",
		[]string{"account", "family"}, nil)
	descQuotaReads = prometheus.NewDesc("quotatui_quota_reads_total",
		"Quota-reading calls to the upstream (loadCodeAssist, fetchAvailableModels, retrieveUserQuotaSummary) since start.", nil, nil)
	descQuotaReadsHour = prometheus.NewDesc("quotatui_quota_reads_last_hour",
		"Quota-reading calls to the upstream in the last hour: what syncing (adaptive sync included) costs.", nil, nil)
	descBusySyncs = prometheus.NewDesc("quotatui_busy_syncs_total",
		"Syncs made early because the account served traffic since its last sync (adaptive sync).", nil, nil)
	descBusyAccounts = prometheus.NewDesc("quotatui_busy_accounts",
		"Accounts that served traffic since their last sync.", nil, nil)
	descEstimateError = prometheus.NewDesc("quotatui_estimate_error_mean_abs",
		"Mean absolute difference between the estimates and the synced figures that replaced them (a fraction), over quotatui_estimate_readings_total readings.", nil, nil)
	descEstimateReadings = prometheus.NewDesc("quotatui_estimate_readings_total",
		"Synced figures compared with the estimate they replaced.", nil, nil)
)

var usageDescs = []*prometheus.Desc{
	descTokens, descUsageRequests, descCharged, descEstimated, descRequestsSinceSync,
	descQuotaReads, descQuotaReadsHour, descBusySyncs, descBusyAccounts, descEstimateError, descEstimateReadings,
}

// collectEstimates sends whether each account's figures are estimated.
func collectEstimates(ch chan<- prometheus.Metric, statuses []quota.Status, labels map[int64]string) {
	for _, s := range statuses {
		acct := labels[s.AccountID]
		for i, f := range cloudcode.Families {
			fq := &s.Families[i]
			ch <- gauge(descEstimated, b2f(fq.Estimated), acct, f.String())
			ch <- gauge(descRequestsSinceSync, float64(fq.Requests), acct, f.String())
		}
	}
}

// collectLedger sends the monitor's quota-reading figures and, when the
// source keeps them, the usage counters.
func (c *collector) collectLedger(ch chan<- prometheus.Metric, ms quota.MonitorStats, labels map[int64]string) {
	ch <- counter(descQuotaReads, float64(ms.QuotaReads))
	ch <- gauge(descQuotaReadsHour, float64(ms.QuotaReadsLastHour))
	ch <- counter(descBusySyncs, float64(ms.BusySyncs))
	ch <- gauge(descBusyAccounts, float64(ms.Busy))
	ch <- counter(descEstimateReadings, float64(ms.Estimate.Readings))
	if ms.Estimate.Readings > 0 {
		ch <- gauge(descEstimateError, ms.Estimate.MeanAbs)
	}
	us, ok := c.q.(usageSource)
	if !ok {
		return
	}
	for _, u := range us.UsageTotals() {
		acct := usageAccount(labels, u.AccountID)
		t := u.Tokens
		for _, v := range []struct {
			typ string
			n   int64
		}{{"prompt", t.Prompt}, {"candidates", t.Candidates}, {"thoughts", t.Thoughts}, {"cached", t.Cached}} {
			ch <- counter(descTokens, float64(v.n), acct, u.Family, u.Model, v.typ)
		}
		ch <- counter(descUsageRequests, float64(u.Requests), acct, u.Family, u.Model, "answered")
		ch <- counter(descUsageRequests, float64(u.Errors), acct, u.Family, u.Model, "error")
		ch <- counter(descCharged, float64(u.Charged), acct, u.Family, u.Model)
	}
}

// usageAccount names an account for the usage series: its label as the
// other series have it; "#id" once it is removed (its counters stay);
// "none" for requests no account was chosen for.
func usageAccount(labels map[int64]string, id int64) string {
	if id == 0 {
		return "none"
	}
	if l, ok := labels[id]; ok {
		return l
	}
	return "#" + strconv.FormatInt(id, 10)
}
