package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	httpMethod string
	query      url.Values // forwarded query, without the API key
	env        map[string]json.RawMessage
	raw        []byte // body to forward when env is nil
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
	jsonArray     bool // Gemini API stream without alt=sse: answer a JSON array
	// answer, when set, writes a 2xx answer in the client's API shape
	// (the Anthropic and OpenAI translators, frontends.go).
	answer answerFunc
}

// body returns the upstream body with every project the client named set
// to the account's: "project", "cloudaicompanionProject" and
// "metadata.duetProject" (Gemini CLI sends the project it got from
// loadCodeAssist, or GOOGLE_CLOUD_PROJECT, in all three). A project left
// from another account would make the upstream answer 403, which the
// reactive path reads as this account being forbidden.
func (c *call) body(project string) ([]byte, error) {
	if c.env == nil {
		return c.raw, nil
	}
	if _, ok := c.env["project"]; ok || c.setProject {
		swapProject(c.env, "project", project)
	}
	if _, ok := c.env["cloudaicompanionProject"]; ok {
		swapProject(c.env, "cloudaicompanionProject", project)
	}
	if raw, ok := c.env["metadata"]; ok {
		var md map[string]json.RawMessage
		if json.Unmarshal(raw, &md) == nil && md != nil {
			if _, ok := md["duetProject"]; ok {
				swapProject(md, "duetProject", project)
				b, err := json.Marshal(md)
				if err != nil {
					return nil, fmt.Errorf("encode upstream metadata: %w", err)
				}
				c.env["metadata"] = b
			}
		}
	}
	b, err := json.Marshal(c.env)
	if err != nil {
		return nil, fmt.Errorf("encode upstream body: %w", err)
	}
	return b, nil
}

// swapProject sets m[key] to the account's project, or removes it when
// the account has none: the client's project must never go out with
// another account's token.
func swapProject(m map[string]json.RawMessage, key, project string) {
	if project == "" {
		delete(m, key)
		return
	}
	p, _ := json.Marshal(project)
	m[key] = p
}

// outcome is what one client request came to, for the log and counters.
type outcome struct {
	status   int
	account  string
	attempts int
}

// forward runs a call through the pool and answers the client.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, c *call) {
	start := time.Now()
	fam := ""
	if c.model != "" {
		fam = c.family.String()
		setFamily(w, fam)
	}
	out := s.attempt(w, r, c)
	lvl := slogLevel(out.status)
	s.log.Log(r.Context(), lvl, "proxied request", "method", c.rpc, "model", c.model, "family", fam,
		"account", out.account, "status", out.status, "attempts", out.attempts, "duration", time.Since(start))
}

// action is what the reactive path decided after an upstream error.
type action uint8

const (
	moveOn    action = iota // try the next account
	retrySame               // try the same account again (once)
	stop                    // the error is the client's: relay it
)

// attempt is the retry loop: pick an account, send, and on an upstream
// error act on it and try the next account, until the attempts run out.
// Retries happen only before the first byte reached the client.
func (s *Server) attempt(w http.ResponseWriter, r *http.Request, c *call) outcome {
	ctx := r.Context()
	limit := 0 // computed at the first failure: the pool size costs a copy
	exclude := map[int64]bool{}
	retried := map[int64]bool{} // accounts already retried once (401, short rate limit)
	var (
		ch      Choice
		lastErr error
		failed  int64 // account of the last failed attempt
		same    bool
		n       int
	)
	for {
		if !same {
			var err error
			if c.generation {
				ch, err = s.tm.pick(ctx, c.model, c.session, exclude)
			} else {
				ch, err = s.tm.pickAny(ctx, c.session, c.clientProject, exclude)
			}
			if err != nil {
				if lastErr != nil && ctx.Err() == nil {
					// Every account left was tried: say what they answered.
					return outcome{status: s.exhaustedAttempts(w, c, lastErr, n), account: ch.Label, attempts: n}
				}
				return outcome{status: s.fail(w, err), attempts: n}
			}
			if failed != 0 && ch.AccountID != failed {
				s.stats.reactiveSwitches.Add(1)
				s.tm.publishSwitch(failed, ch, "reactive: "+short(lastErr))
			}
		}
		same = false
		n++
		body, err := c.body(ch.Project)
		if err != nil {
			ch.Release()
			writeError(w, http.StatusInternalServerError, err.Error())
			return outcome{status: http.StatusInternalServerError, account: ch.Label, attempts: n}
		}
		started := s.clk.Now()
		t0 := time.Now()
		resp, err := s.up.Do(ctx, cloudcode.Request{HTTPMethod: c.httpMethod, RPC: c.rpc, Query: c.query, Body: body, AccessToken: ch.AccessToken})
		s.observe(time.Since(t0))
		if err == nil {
			if c.generation {
				s.tm.spent(gateKey{ch.AccountID, c.family})
			}
			ch.Release() // the upstream has counted the request: the next may re-check
			status, ok := s.respond(w, c, ch, resp, started)
			if ok {
				return outcome{status: status, account: ch.Label, attempts: n}
			}
			err = errUnusableAnswer
		}
		if ctx.Err() != nil {
			ch.Release()
			return outcome{status: statusClientGone, account: ch.Label, attempts: n}
		}
		lastErr = err
		s.log.Debug("upstream attempt failed", "method", c.rpc, "model", c.model, "account", ch.Label, "attempt", n, "err", err)
		act := s.react(ctx, c, &ch, err, retried)
		ch.Release() // after the reaction: a request waiting on the gate sees the mark
		switch act {
		case retrySame:
			same = true
			continue
		case stop:
			return outcome{status: s.relay(w, err), account: ch.Label, attempts: n}
		}
		exclude[ch.AccountID] = true
		failed = ch.AccountID
		if limit == 0 {
			limit = min(s.opt.RetryAttempts, max(len(s.q.GetAllQuotas()), 1))
		}
		if n >= limit {
			return outcome{status: s.exhaustedAttempts(w, c, lastErr, n), account: ch.Label, attempts: n}
		}
	}
}

// errUnusableAnswer is a 2xx whose body is not what the call promises (an
// error page, an empty stream): never passed on as a success.
var errUnusableAnswer = &cloudcode.MalformedResponseError{Status: http.StatusOK, Problem: "the upstream answered 2xx with a body that is not JSON or SSE"}

// react applies the action an upstream error calls for and says what to
// do next. A mark only ever applies to the (account, family) that answered.
func (s *Server) react(ctx context.Context, c *call, ch *Choice, err error, retried map[int64]bool) action {
	now := s.clk.Now()
	id, fam := ch.AccountID, c.family
	marks := fam != cloudcode.FamilyUnknown
	var (
		qe  *cloudcode.QuotaExhaustedError
		rl  *cloudcode.RateLimitedError
		ce  *cloudcode.CapacityExhaustedError
		ue  *cloudcode.UnauthorizedError
		ve  *cloudcode.ValidationRequiredError
		fe  *cloudcode.ForbiddenError
		nf  *cloudcode.NotFoundError
		unk *cloudcode.UnknownError
	)
	switch {
	case errors.As(err, &qe):
		s.count429(qe.Status)
		if !marks {
			return moveOn
		}
		// A zero ResetAt lets the engine use the cached reset (never a
		// cap below what the server said); it publishes the event.
		s.q.MarkExhausted(id, fam, qe.ResetAt, now, qe.Message)
		s.q.ResyncSoon(id)
		return moveOn
	case errors.As(err, &rl):
		s.count429(rl.Status)
		if rl.Bare {
			if marks {
				s.q.MarkCooldown(id, fam, now.Add(s.opt.BareCooldown), "429 without details")
			}
			s.q.ResyncSoon(id)
			return moveOn
		}
		if rl.RetryDelay > 0 && rl.RetryDelay <= 2*time.Second && !retried[id] {
			retried[id] = true
			if sleep(ctx, rl.RetryDelay) != nil {
				return moveOn // the client is gone; the loop notices
			}
			return retrySame
		}
		if marks {
			d := rl.RetryDelay
			if d <= 0 {
				d = s.opt.BareCooldown
			}
			s.q.MarkCooldown(id, fam, now.Add(d), "rate limited")
		}
		return moveOn
	case errors.As(err, &ce):
		s.count429(ce.Status)
		return moveOn // Google's capacity, not the account's quota
	case errors.As(err, &ue):
		if retried[id] {
			return moveOn
		}
		retried[id] = true
		s.tokens.Invalidate(id)
		tok, terr := s.tokens.Token(ctx, id)
		if terr != nil {
			return moveOn
		}
		ch.AccessToken = tok
		return retrySame
	case errors.As(err, &ve):
		s.disable(ctx, ch, quota.StateValidationRequired, ve.Message, ve.URL)
		return moveOn
	case errors.As(err, &fe):
		s.disable(ctx, ch, quota.StateForbidden, fmt.Sprintf("%s: %s", fe.Reason, fe.Message), "")
		return moveOn
	case errors.As(err, &nf):
		return stop
	case errors.As(err, &unk):
		if unk.Status >= 400 && unk.Status < 500 && unk.Status != http.StatusTooManyRequests {
			return stop // the request itself is wrong; every account would say so
		}
		s.count429(unk.Status)
		return moveOn
	default:
		return moveOn
	}
}

func (s *Server) count429(status int) {
	if status == http.StatusTooManyRequests {
		s.stats.upstream429s.Add(1)
	}
}

// disable marks an account that needs a person; the engine publishes the
// event the dashboard shows.
func (s *Server) disable(ctx context.Context, ch *Choice, st quota.AccountState, reason, link string) {
	if err := s.q.MarkForbidden(context.WithoutCancel(ctx), ch.AccountID, st, reason, link); err != nil {
		s.log.Warn("could not mark account", "account", ch.Label, "state", st, "err", err)
	}
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

// fail answers a request for which no account could be picked.
func (s *Server) fail(w http.ResponseWriter, err error) int {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return statusClientGone
	}
	var na *NoAccountError
	if errors.As(err, &na) {
		if na.Accounts == 0 || na.Unavailable {
			writeError(w, http.StatusServiceUnavailable, na.Error())
			return http.StatusServiceUnavailable
		}
		ra := na.RetryAfter()
		if ra <= 0 {
			ra = s.opt.BareCooldown
		}
		setRetryAfter(w, ra)
		// Details as Google sends them: without them Gemini CLI takes
		// the 429 for a blip and retries ten times over minutes.
		writeErrorDetails(w, http.StatusTooManyRequests, na.Error(), waitDetails(ra, na.Reset))
		return http.StatusTooManyRequests
	}
	writeError(w, http.StatusInternalServerError, fmt.Sprintf("quotatui could not pick an account: %v", err))
	return http.StatusInternalServerError
}

// exhaustedAttempts answers a request whose every attempt failed.
func (s *Server) exhaustedAttempts(w http.ResponseWriter, c *call, lastErr error, n int) int {
	var (
		qe *cloudcode.QuotaExhaustedError
		rl *cloudcode.RateLimitedError
		ce *cloudcode.CapacityExhaustedError
	)
	what := c.model
	if what == "" {
		what = c.rpc
	}
	prefix := fmt.Sprintf("quotatui tried %d account(s) for %s and none could answer; ", n, what)
	switch {
	case errors.As(lastErr, &qe), errors.As(lastErr, &rl):
		// When the pool is now spent, say when a retry can work.
		if c.generation {
			if na := s.tm.poolSpent(c.model); na != nil {
				return s.fail(w, na)
			}
		}
		d := s.opt.BareCooldown
		if rl != nil && rl.RetryDelay > 0 {
			d = rl.RetryDelay
		}
		setRetryAfter(w, d)
		writeErrorDetails(w, http.StatusTooManyRequests, prefix+"the last answered: "+lastErr.Error(), waitDetails(d, time.Time{}))
		return http.StatusTooManyRequests
	case errors.As(lastErr, &ce):
		d := max(ce.RetryDelay, time.Second)
		setRetryAfter(w, d)
		writeErrorDetails(w, http.StatusServiceUnavailable, prefix+"Google is out of capacity for this model: "+ce.Message, capacityDetails(d))
		return http.StatusServiceUnavailable
	default:
		writeError(w, http.StatusBadGateway, prefix+"the last error was: "+lastErr.Error())
		return http.StatusBadGateway
	}
}

// relay passes an error that is the client's own (a bad request, an
// unknown model) back in Google's envelope.
func (s *Server) relay(w http.ResponseWriter, err error) int {
	code, msg := http.StatusBadRequest, err.Error()
	var (
		nf  *cloudcode.NotFoundError
		unk *cloudcode.UnknownError
	)
	switch {
	case errors.As(err, &nf):
		code, msg = http.StatusNotFound, "the upstream answered 404: "+nf.Message
	case errors.As(err, &unk):
		code, msg = unk.Status, unk.Message
	}
	writeError(w, code, msg)
	return code
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
