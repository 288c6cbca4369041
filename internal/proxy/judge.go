package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/quota"
)

// action is what the forwarding loop does next after an upstream error.
type action uint8

const (
	moveOn    action = iota // try the next account
	retrySame               // try the same account again (once)
	relay                   // the answer is the client's own: pass it on
)

// markKind is what an upstream error changes about the account.
type markKind uint8

const (
	markNone      markKind = iota
	markExhausted          // the family is spent until a reset
	markCooldown           // the family rests a short while
	markState              // the account needs a person (forbidden, validation)
)

// verdict is what one upstream error means for the request and for the
// account that answered it. judge makes it; apply carries it out.
type verdict struct {
	next     action
	delay    time.Duration // wait before retrySame
	refresh  bool          // refresh the access token before retrySame
	mark     markKind
	resetAt  time.Time     // markExhausted: the server's reset (zero: the engine's cached one)
	cooldown time.Duration // markCooldown: the server's delay; 0 for the account's growing backoff
	state    quota.AccountState
	reason   string // for the mark, the event and the log
	link     string // the validation URL
	// verify asks that markState be applied only when a fresh quota read
	// of the account is refused too: a PERMISSION_DENIED on one request
	// alone may be about that request.
	verify bool
	resync bool // resync the account's quota at once
	// soft says the refusal is short-lived (a rate limit, a timeout): it
	// does not use up one of the request's attempts.
	soft bool
	// suspect ranks the account last until it answers again (a timeout).
	suspect bool
}

// accountReasons are the 403 reasons that name the account itself, so one
// generation call proves the account unusable.
var accountReasons = map[string]bool{"SERVICE_DISABLED": true}

// judge is the one place where the proxy decides what an upstream error
// means. Only a generation call may mark an account: every other
// passthrough call is the client's own business, and the upstream's
// answer to it is relayed and changes nothing (a client must not be able
// to switch accounts off with a request that any account refuses).
// again says the account was already retried once in this request.
func judge(err error, c *call, again bool) verdict {
	gen := c.generation
	var (
		qe  *cloudcode.QuotaExhaustedError
		rl  *cloudcode.RateLimitedError
		ce  *cloudcode.CapacityExhaustedError
		ue  *cloudcode.UnauthorizedError
		ve  *cloudcode.ValidationRequiredError
		fe  *cloudcode.ForbiddenError
		nf  *cloudcode.NotFoundError
		unk *cloudcode.UnknownError
		te  *timeoutError
	)
	switch {
	case errors.As(err, &qe):
		if !gen {
			return verdict{next: moveOn}
		}
		return verdict{next: moveOn, mark: markExhausted, resetAt: qe.ResetAt, reason: qe.Message, resync: true}
	case errors.As(err, &rl):
		switch {
		case rl.Bare:
			// Not proof of anything: a short cooldown that grows while
			// it repeats, and a resync to learn the truth.
			if !gen {
				return verdict{next: moveOn, soft: true}
			}
			return verdict{next: moveOn, mark: markCooldown, reason: "429 without details", resync: true, soft: true}
		case rl.RetryDelay > 0 && rl.RetryDelay <= 2*time.Second && !again:
			return verdict{next: retrySame, delay: rl.RetryDelay}
		case !gen:
			return verdict{next: moveOn, soft: true}
		}
		return verdict{next: moveOn, mark: markCooldown, cooldown: rl.RetryDelay, reason: "rate limited", soft: true}
	case errors.As(err, &ce):
		return verdict{next: moveOn} // Google's capacity, not the account's quota
	case errors.As(err, &ue):
		if again {
			return verdict{next: moveOn}
		}
		return verdict{next: retrySame, refresh: true}
	case errors.As(err, &ve):
		if !gen {
			return verdict{next: relay}
		}
		return verdict{next: moveOn, mark: markState, state: quota.StateValidationRequired, reason: ve.Message, link: ve.URL}
	case errors.As(err, &fe):
		if !gen {
			return verdict{next: relay}
		}
		return verdict{next: moveOn, mark: markState, state: quota.StateForbidden,
			reason: fmt.Sprintf("%s: %s", fe.Reason, fe.Message), verify: !accountReasons[fe.Reason]}
	case errors.As(err, &nf):
		return verdict{next: relay}
	case errors.As(err, &unk):
		if unk.Status >= 400 && unk.Status < 500 && unk.Status != http.StatusTooManyRequests {
			return verdict{next: relay} // the request itself is wrong; every account would say so
		}
		return verdict{next: moveOn}
	case errors.Is(err, errEventTooLarge):
		return verdict{next: relay} // paid for already, and any account would send the same
	case errors.As(err, &te):
		if !gen {
			return verdict{next: moveOn, suspect: true}
		}
		return verdict{next: moveOn, mark: markCooldown, reason: te.Error(), resync: true, soft: true, suspect: true}
	}
	return verdict{next: moveOn} // network errors, 5xx, a 2xx that is not an answer
}

// timeoutError is an upstream call that sent no first byte, or stalled
// between two stream events, within the proxy's time limits.
type timeoutError struct {
	stage string        // "first byte" or "stream idle"
	after time.Duration // the limit that ran out
}

// Error says which limit ran out.
func (e *timeoutError) Error() string {
	return fmt.Sprintf("upstream timed out: no %s within %s", e.stage, e.after)
}

// apply carries a verdict out on the account that answered: marks, state,
// resync and token refresh. It reports false when a retry on the same
// account cannot happen (the token could not be refreshed).
func (s *Server) apply(ctx context.Context, c *call, ch *Choice, v verdict) bool {
	id, fam := ch.AccountID, c.family
	now := s.clk.Now()
	switch v.mark {
	case markExhausted:
		// A zero resetAt lets the engine use the cached reset (never a
		// cap below what the server said); it publishes the event.
		s.q.MarkExhausted(id, fam, v.resetAt, now, v.reason)
	case markCooldown:
		d := v.cooldown
		if d <= 0 {
			d = s.tm.cool.next(gateKey{id, fam}, now)
		}
		s.q.MarkCooldown(id, fam, now.Add(d), v.reason)
	case markState:
		if v.verify && !s.confirmRefused(ctx, c, ch) {
			s.logLimited(slog.LevelWarn, "refused", ch.Label, "an account refused a generation call, but its quota reads; not marking it",
				"model", c.model, "reason", v.reason)
			break
		}
		if err := s.q.MarkForbidden(context.WithoutCancel(ctx), id, v.state, v.reason, v.link); err != nil {
			s.log.Warn("could not mark account", "account", ch.Label, "state", v.state, "err", err)
		}
	}
	if v.suspect {
		s.tm.suspects.add(id, now)
		s.logLimited(slog.LevelWarn, "timeout", ch.Label, "upstream call timed out; the account ranks last until it answers again",
			"method", c.name(), "model", c.model, "reason", v.reason)
	}
	if v.resync {
		s.q.ResyncSoon(id)
	}
	if v.refresh {
		s.tokens.Invalidate(id)
		tok, err := s.tokens.Token(ctx, id)
		if err != nil {
			return false
		}
		ch.AccessToken = tok
	}
	return true
}

// confirmRefused reads the account's quota afresh and reports whether the
// upstream refuses that too (403): then the account, not the request, is
// what the upstream objects to.
func (s *Server) confirmRefused(ctx context.Context, c *call, ch *Choice) bool {
	_, err := s.q.CheckQuotaFresh(context.WithoutCancel(ctx), ch.AccountID, c.model)
	var (
		fe *cloudcode.ForbiddenError
		ve *cloudcode.ValidationRequiredError
	)
	return errors.As(err, &fe) || errors.As(err, &ve)
}

// upstreamStatus returns the HTTP status of a classified upstream error
// (0 when it has none), for the counters.
func upstreamStatus(err error) int {
	var (
		qe *cloudcode.QuotaExhaustedError
		rl *cloudcode.RateLimitedError
		ce *cloudcode.CapacityExhaustedError
		un *cloudcode.UnknownError
	)
	switch {
	case errors.As(err, &qe):
		return qe.Status
	case errors.As(err, &rl):
		return rl.Status
	case errors.As(err, &ce):
		return ce.Status
	case errors.As(err, &un):
		return un.Status
	}
	return 0
}
