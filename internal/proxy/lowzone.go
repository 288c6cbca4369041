package proxy

import (
	"cmp"
	"context"
	"errors"
	"sync"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
)

type gateKey struct {
	account int64
	family  cloudcode.Family
}

// lowZone keeps an account in the LowQuota zone to one request at a time
// and predicts, between the engine's syncs, when an account enters it.
type lowZone struct {
	low float64 // the low-zone threshold

	mu sync.Mutex
	// gates allow one request at a time on an (account, family) in the
	// LowQuota zone: with the fresh check before each, concurrent requests
	// cannot together spend more than the account has left.
	gates map[gateKey]chan struct{}
	// usage predicts what an (account, family) has left between the
	// engine's syncs, from the requests sent since its last figure.
	usage map[gateKey]*usage
}

func newLowZone(low float64) *lowZone {
	return &lowZone{low: low, gates: map[gateKey]chan struct{}{}, usage: map[gateKey]*usage{}}
}

// usage is what the proxy spent on an (account, family) since the engine's
// figure last changed, and what one request costs, learned from how much
// the figure fell over the requests sent.
type usage struct {
	fraction float64 // the engine's figure when last seen
	sent     int     // requests answered 2xx since
	cost     float64 // fraction per request (moving average); 0 until learned
}

// predict lowers a Proceed to LowQuota when the requests sent since the
// engine's figure, at the learned cost each, bring it into the low zone:
// between two syncs a busy account can drain its whole low zone, and the
// pre-request check must see that coming. fresh says the figure was just
// fetched, so the requests before it are already in it.
func (z *lowZone) predict(k gateKey, c quota.Check, fresh bool) quota.Check {
	if !c.Remaining.Known {
		return c
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	u := z.usage[k]
	if u == nil {
		z.usage[k] = &usage{fraction: c.Remaining.Value}
		return c
	}
	if v := c.Remaining.Value; v != u.fraction || fresh {
		if u.sent > 0 && v < u.fraction {
			obs := (u.fraction - v) / float64(u.sent)
			u.cost = cmp.Or(u.cost, obs)*0.5 + obs*0.5
		}
		u.fraction, u.sent = v, 0
	}
	if c.Decision == quota.Proceed && u.cost > 0 && c.Remaining.Value-u.cost*float64(u.sent) < z.low {
		c.Decision, c.Reason = quota.LowQuota, "low quota (predicted from the requests sent since the last sync)"
	}
	return c
}

// spent counts a request the upstream accepted on an (account, family).
func (z *lowZone) spent(k gateKey) {
	z.mu.Lock()
	if u := z.usage[k]; u != nil {
		u.sent++
	}
	z.mu.Unlock()
}

// errBusy says a low-zone account is serving another request.
var errBusy = errors.New("account busy in the low zone")

// acquire takes the low-zone gate of an (account, family), waiting for
// the request that holds it to reach the upstream, or with wait false
// returning errBusy at once.
func (z *lowZone) acquire(ctx context.Context, k gateKey, wait bool) (func(), error) {
	z.mu.Lock()
	g, ok := z.gates[k]
	if !ok {
		g = make(chan struct{}, 1)
		z.gates[k] = g
	}
	z.mu.Unlock()
	var once sync.Once
	release := func() { once.Do(func() { <-g }) }
	if !wait {
		select {
		case g <- struct{}{}:
			return release, nil
		default:
			return nil, errBusy
		}
	}
	select {
	case g <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
