// Package cloudcode is a typed client for Google's Cloud Code v1internal
// API as Antigravity uses it: subscription and tier detection, per-model
// quota, the grouped 5-hour and weekly quota summary, and raw generation
// calls that the proxy forwards. It classifies every error response into a
// typed error and tries the configured hosts in order.
package cloudcode
