// Package proxy is quotatui's local HTTP proxy: it takes Code Assist and
// Gemini API requests from the user's tools, picks an account with quota
// left for the model, swaps in that account's token and project, and
// switches accounts before a request would fail.
package proxy

import "time"

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
	ActiveSessions    int
	RoutedTo          map[string]string // family -> label of the account a new session would get now
	LatencyP50        time.Duration     // upstream latency, recent window
	LatencyP99        time.Duration
}
