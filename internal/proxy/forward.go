package proxy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
)

// maxUpstreamBody bounds a non-streaming upstream answer the proxy
// buffers to validate it.
const maxUpstreamBody = 64 << 20

// statusClientGone is logged and counted when the client disconnected
// before an answer (nginx's convention; nothing is sent).
const statusClientGone = 499

// call is one client request, ready to be sent to any account.
type call struct {
	rpc        string // upstream method after the colon
	path       string // or the resource path after "v1internal/" (an operation)
	httpMethod string
	query      url.Values // forwarded query, without the API key
	env        *envelope  // the body, when it is a JSON object
	raw        []byte     // body to forward when env is nil
	model      string
	family     cloudcode.Family
	session    string
	// clientProject is the project the client named, for calls that
	// spend no quota: they stay on the account it belongs to.
	clientProject string
	generation    bool // spends model quota: routed by model
	stream        bool
	setProject    bool // always set project (generation calls)
	gemini        bool // Gemini API: unwrap "response" on the way back
	jsonArray     bool // a stream the client wants as one JSON array, not SSE
	// out writes the answer in the client's shape; forward sets Google's
	// (wrapped for Code Assist, unwrapped for the Gemini API) when nil.
	out AnswerWriter
}

// name is the upstream method, or the path for a call that addresses one.
func (c *call) name() string { return cmp.Or(c.rpc, c.path) }

// body returns the upstream body for an account whose project is
// project (envelope.withProject).
func (c *call) body(project string) []byte {
	if c.env == nil {
		return c.raw
	}
	return c.env.withProject(project, c.setProject)
}

// googleWriter is the writer of Google's shapes for the call.
func (c *call) googleWriter() googleWriter {
	return googleWriter{unwrap: c.gemini, array: c.jsonArray, errorEvents: c.gemini}
}

// outcome is what one client request came to, for the log and counters.
type outcome struct {
	status   int // sent to the client; statusClientGone, statusUpstreamBroke
	account  string
	attempts int
	// abort ends the client's connection without the body's terminator:
	// the stream broke after its first byte.
	abort bool
	// For the ledger: the account of the last attempt, whether the
	// upstream charged it, and its answer's final token usage.
	accountID int64
	charged   bool
	counted   bool // the charge was counted when the upstream accepted it
	tokens    quota.Tokens
}

// resyncWait is the Retry-After when no reset time is known yet: the
// engine is resyncing the accounts that answered.
const resyncWait = 10 * time.Second

// statusUpstreamBroke is counted for a stream the upstream broke after its
// first byte: the client saw 200, then an error event or an aborted
// connection, not an answer.
const statusUpstreamBroke = http.StatusBadGateway

// forward runs a call through the pool and answers the client through
// c.out (Google's shapes when the route set none).
func (s *Server) forward(w http.ResponseWriter, r *http.Request, c *call) {
	start := time.Now()
	fam := ""
	if c.model != "" {
		fam = c.family.String()
		setFamily(w, fam)
	}
	if c.out == nil {
		g := c.googleWriter()
		c.out = &g
	}
	out := s.attempt(w, r, c)
	setOutcome(w, out.status)
	// One line per request: debug only, the volume would drown the rest.
	// Asked first: building the line's arguments costs allocations on
	// every request even when debug is off.
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.Debug("proxied request", "method", c.name(), "model", c.model, "family", fam,
			"account", out.account, "status", out.status, "attempts", out.attempts, "duration", time.Since(start))
	}
	if out.abort {
		panic(http.ErrAbortHandler) // net/http closes the connection as it is
	}
}

// attempt is the forwarding loop: pick an account, send, and on an upstream
// error judge it, act on it and try the next account, until the attempts
// run out. Retries happen only before the first byte reached the client.
// Short-lived refusals (rate limits, timeouts) do not use up attempts:
// when every usable account is only cooling down, the request waits for
// the first to come back, up to Options.MaxWait in all.
func (s *Server) attempt(w http.ResponseWriter, r *http.Request, c *call) (out outcome) {
	ctx := r.Context()
	limit := 0 // computed at the first failure: the pool size costs a copy
	// Made at the first failure: most requests succeed at once, and a nil
	// map reads as empty.
	var (
		exclude map[int64]bool
		cooling map[int64]bool // left out after a short-lived refusal
		retried map[int64]bool // accounts already retried once (401, short rate limit)
	)
	var (
		ch      Choice
		lastErr error
		failed  int64 // account of the last failed attempt
		same    bool
		n, hard int // attempts, and those that used up the allowance
		waited  time.Duration
	)
	// The ledger's record names the last account tried, charged or not,
	// however the request ended. It is entered before the request stops
	// counting as in flight on that account (the last units: select.go),
	// so the estimate has fallen by the time another may take its place.
	var lastID int64
	var lastCharged, lastCounted bool
	defer func() {
		if out.accountID == 0 {
			out.accountID, out.charged, out.counted = lastID, lastCharged, lastCounted
		}
		s.record(r, c, out)
		ch.Done()
	}()
	for {
		if !same {
			ch.Done()
			var err error
			if c.generation {
				ch, err = s.tm.pick(ctx, c.model, c.session, exclude)
			} else {
				ch, err = s.tm.pickAny(ctx, c.session, c.clientProject, exclude)
			}
			if err != nil {
				if ctx.Err() != nil {
					return outcome{status: statusClientGone, attempts: n}
				}
				if d, ok := s.coolingWait(err, s.opt.MaxWait-waited); ok {
					waited += d
					if sleep(ctx, d) != nil {
						return outcome{status: statusClientGone, attempts: n}
					}
					for id := range cooling {
						delete(exclude, id)
					}
					clear(cooling)
					continue
				}
				var e *ClientError
				if lastErr != nil {
					// Every account left was tried: say what they answered.
					e = s.exhaustedAttempts(c, lastErr, n)
				} else {
					e = s.fail(err)
				}
				c.out.WriteError(w, e)
				return outcome{status: e.Status, account: ch.Label, attempts: n}
			}
			if failed != 0 && ch.AccountID != failed {
				s.stats.reactiveSwitches.Add(1)
				s.tm.publishSwitch(failed, ch, "reactive: "+short(lastErr))
			}
		}
		same = false
		n++
		res := s.send(ctx, w, c, &ch)
		lastID, lastCharged, lastCounted = ch.AccountID, res.charged, ch.counted
		if res.done {
			ch.Release()
			if res.err != nil {
				// The stream broke after its first byte: nothing to retry,
				// but the account may still deserve a mark (a stall).
				s.apply(ctx, c, &ch, s.judge(res.err, c, true))
			}
			return outcome{status: res.status, account: ch.Label, attempts: n, abort: res.abort,
				accountID: ch.AccountID, charged: res.charged, counted: ch.counted, tokens: res.tokens}
		}
		err := res.err
		if ctx.Err() != nil {
			ch.Release()
			return outcome{status: statusClientGone, account: ch.Label, attempts: n}
		}
		if res.charged {
			// The upstream charged an answer the client cannot use (not
			// JSON, an empty stream): the unit is spent though the
			// request moves on.
			s.record(r, c, outcome{status: http.StatusBadGateway, accountID: ch.AccountID, charged: true, counted: ch.counted})
			lastCharged = false
		}
		lastErr = err
		s.log.Debug("upstream attempt failed", "method", c.name(), "model", c.model, "account", ch.Label, "attempt", n, "err", err)
		v := s.judge(err, c, retried[ch.AccountID])
		if v.Status == http.StatusTooManyRequests {
			s.stats.upstream429s.Add(1)
		}
		if v.next == retrySame {
			retried = setID(retried, ch.AccountID)
			if v.Effect == quota.EffectRetry && v.Delay > 0 && sleep(ctx, v.Delay) != nil {
				v.next = moveOn // the client is gone; the loop notices
			}
		}
		if !s.apply(ctx, c, &ch, v) {
			v.next = moveOn
		}
		ch.Release() // after the reaction: a request waiting on the gate sees the mark
		switch v.next {
		case retrySame:
			same = true
			continue
		case relay:
			e := s.relay(err)
			c.out.WriteError(w, e)
			return outcome{status: e.Status, account: ch.Label, attempts: n}
		}
		exclude = setID(exclude, ch.AccountID)
		failed = ch.AccountID
		if v.ShortLived {
			cooling = setID(cooling, ch.AccountID)
			continue
		}
		hard++
		if limit == 0 {
			limit = min(s.opt.RetryAttempts, max(len(s.q.GetAllQuotas()), 1))
		}
		if hard >= limit {
			e := s.exhaustedAttempts(c, lastErr, n)
			c.out.WriteError(w, e)
			return outcome{status: e.Status, account: ch.Label, attempts: n}
		}
	}
}

// setID adds id to the set m, making it when it is nil.
func setID(m map[int64]bool, id int64) map[int64]bool {
	if m == nil {
		m = map[int64]bool{}
	}
	m[id] = true
	return m
}

// waitStep bounds one wait for a cooling account, so that a cooldown that
// ends early (a success elsewhere, another clock) is noticed.
const waitStep = 250 * time.Millisecond

// coolingWait says how long to wait before picking again when no account
// can be picked because the soonest usable one is only cooling down, and
// that soon enough for what is left of the request's budget.
func (s *Server) coolingWait(err error, budget time.Duration) (time.Duration, bool) {
	var na *NoAccountError
	if !errors.As(err, &na) || !na.Cooling || na.Unavailable || budget <= 0 {
		return 0, false
	}
	d := max(na.Reset.Sub(s.clk.Now()), time.Millisecond)
	if d > budget {
		return 0, false
	}
	return min(d, waitStep), true
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) observe(d time.Duration) {
	s.stats.observe(d)
	if s.opt.OnUpstreamLatency != nil {
		s.opt.OnUpstreamLatency(d)
	}
}

// fail is the answer to a request for which no account could be picked.
func (s *Server) fail(err error) *ClientError {
	var na *NoAccountError
	if errors.As(err, &na) {
		if na.Accounts == 0 || na.Unavailable {
			msg := na.Error()
			if h := s.q.Health(); !h.OK() {
				// The database's trouble may be why (tokens or states
				// that cannot be saved): say so where the user looks.
				msg += "; quotatui's own trouble: " + h.String()
			}
			return &ClientError{Status: http.StatusServiceUnavailable, Message: msg}
		}
		ra := na.RetryAfter()
		if ra <= 0 {
			ra = resyncWait
		}
		// Details as Google sends them: without them Gemini CLI takes
		// the 429 for a blip and retries ten times over minutes.
		return &ClientError{Status: http.StatusTooManyRequests, Message: na.Error(), RetryAfter: ra, Details: waitDetails(ra, na.Reset)}
	}
	return &ClientError{Status: http.StatusInternalServerError, Message: fmt.Sprintf("quotatui could not pick an account: %v", err)}
}

// exhaustedAttempts is the answer to a request whose every attempt failed.
func (s *Server) exhaustedAttempts(c *call, lastErr error, n int) *ClientError {
	var (
		qe *cloudcode.QuotaExhaustedError
		rl *cloudcode.RateLimitedError
		ce *cloudcode.CapacityExhaustedError
	)
	what := c.model
	if what == "" {
		what = c.name()
	}
	prefix := fmt.Sprintf("quotatui tried %d account(s) for %s and none could answer; ", n, what)
	switch {
	case errors.As(lastErr, &qe), errors.As(lastErr, &rl):
		// Say when a retry can work, from what the accounts are now.
		if c.generation {
			if na := s.tm.poolSpent(c.model); na != nil {
				return s.fail(na)
			}
		}
		d := s.opt.CooldownFirst
		if rl != nil && rl.RetryDelay > 0 {
			d = rl.RetryDelay
		}
		msg := prefix + "the last answered: " + lastErr.Error()
		if rl != nil {
			msg = fmt.Sprintf("rate-limited: the upstream asked the %d account(s) quotatui tried for %s to slow down; retry in %s",
				n, what, shortDuration(max(d, time.Second)))
		}
		return &ClientError{Status: http.StatusTooManyRequests, Message: msg, RetryAfter: d, Details: waitDetails(d, time.Time{})}
	case errors.As(lastErr, &ce):
		d := max(ce.RetryDelay, time.Second)
		return &ClientError{Status: http.StatusServiceUnavailable, Message: prefix + "Google is out of capacity for this model: " + ce.Message,
			RetryAfter: d, Details: capacityDetails(d)}
	default:
		return &ClientError{Status: http.StatusBadGateway, Message: prefix + "the last error was: " + lastErr.Error()}
	}
}

// relay is the answer to an upstream error that is the client's own (a
// bad request, an unknown model, a passthrough call the upstream refuses):
// the upstream's status, message and reason.
func (s *Server) relay(err error) *ClientError {
	var (
		nf  *cloudcode.NotFoundError
		fe  *cloudcode.ForbiddenError
		ve  *cloudcode.ValidationRequiredError
		unk *cloudcode.UnknownError
	)
	switch {
	case errors.As(err, &nf):
		return &ClientError{Status: nf.Status, Message: "the upstream answered 404: " + nf.Message}
	case errors.As(err, &fe):
		return &ClientError{Status: fe.Status, Message: fe.Message, Details: []any{cloudcode.NewErrorInfo(fe.Reason, nil)}}
	case errors.As(err, &ve):
		return &ClientError{Status: ve.Status, Message: ve.Message,
			Details: []any{cloudcode.NewErrorInfo("VALIDATION_REQUIRED", map[string]string{"validation_link": ve.URL})}}
	case errors.As(err, &unk):
		return &ClientError{Status: unk.Status, Message: unk.Message}
	case errors.Is(err, errEventTooLarge):
		return &ClientError{Status: http.StatusBadGateway, Message: err.Error()}
	}
	return &ClientError{Status: http.StatusBadRequest, Message: err.Error()}
}

// short returns an error's text for an event message.
func short(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:117] + "..."
	}
	return msg
}
