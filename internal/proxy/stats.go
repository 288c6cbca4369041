// Package proxy is quotatui's local HTTP proxy: it takes Code Assist and
// Gemini API requests from the user's tools, picks an account with quota
// left for the model, swaps in that account's token and project, and
// switches accounts before a request would fail.
package proxy

import (
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Stats is a snapshot of the proxy's counters, pulled by the dashboard on
// a tick. It is a copy.
type Stats struct {
	Listen            string
	Paused            bool
	Started           time.Time
	Requests          uint64            // client requests received
	RequestsByStatus  map[int]uint64    // by status sent to the client
	RequestsByFamily  map[string]uint64 // by cloudcode.Family.String()
	InFlight          int64
	ProactiveSwitches uint64 // a session moved before its request went out
	ReactiveSwitches  uint64 // a request retried on another account after an upstream error
	Client429s        uint64 // 429s passed to clients
	Upstream429s      uint64 // 429s received from the upstream
	// ClientCancels counts requests whose client left before its answer
	// was complete (also in RequestsByStatus as 499).
	ClientCancels uint64
	// UpstreamBreaks counts streams the upstream cut or stalled after
	// their first byte (also in RequestsByStatus as 502).
	UpstreamBreaks uint64
	ActiveSessions int
	BufferedBytes  int64             // client bodies held for replays right now
	RoutedTo       map[string]string // family -> label of the account a new session would get now
	LatencyP50     time.Duration     // upstream latency, recent window
	LatencyP99     time.Duration
}

// latencyWindow is how many recent upstream latencies the percentiles
// cover: enough for a stable p99, small enough to copy on every pull.
const latencyWindow = 1024

// counters holds the live figures behind Stats. Hot counters are atomics;
// the maps and the latency ring share one mutex.
type counters struct {
	requests          atomic.Uint64
	inFlight          atomic.Int64
	proactiveSwitches atomic.Uint64
	reactiveSwitches  atomic.Uint64
	client429s        atomic.Uint64
	upstream429s      atomic.Uint64
	clientCancels     atomic.Uint64
	upstreamBreaks    atomic.Uint64

	mu       sync.Mutex
	byStatus map[int]uint64
	byFamily map[string]uint64
	ring     [latencyWindow]time.Duration
	ringN    int // samples written, ever
}

func newCounters() *counters {
	return &counters{byStatus: map[int]uint64{}, byFamily: map[string]uint64{}}
}

func (c *counters) finished(status int, family string) {
	switch status {
	case 429:
		c.client429s.Add(1)
	case statusClientGone:
		c.clientCancels.Add(1)
	}
	c.mu.Lock()
	c.byStatus[status]++
	if family != "" {
		c.byFamily[family]++
	}
	c.mu.Unlock()
}

func (c *counters) observe(d time.Duration) {
	c.mu.Lock()
	c.ring[c.ringN%latencyWindow] = d
	c.ringN++
	c.mu.Unlock()
}

// fill copies the counters into st.
func (c *counters) fill(st *Stats) {
	st.Requests = c.requests.Load()
	st.InFlight = c.inFlight.Load()
	st.ProactiveSwitches = c.proactiveSwitches.Load()
	st.ReactiveSwitches = c.reactiveSwitches.Load()
	st.Client429s = c.client429s.Load()
	st.Upstream429s = c.upstream429s.Load()
	st.ClientCancels = c.clientCancels.Load()
	st.UpstreamBreaks = c.upstreamBreaks.Load()
	c.mu.Lock()
	st.RequestsByStatus = maps.Clone(c.byStatus)
	st.RequestsByFamily = maps.Clone(c.byFamily)
	n := min(c.ringN, latencyWindow)
	lat := make([]time.Duration, n)
	copy(lat, c.ring[:n])
	c.mu.Unlock()
	st.LatencyP50 = percentile(lat, 0.50)
	st.LatencyP99 = percentile(lat, 0.99)
}

// percentile sorts d in place and returns its p-th percentile (nearest
// rank), zero for no samples.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(math.Ceil(p*float64(len(d)))) - 1
	return d[max(i, 0)]
}
