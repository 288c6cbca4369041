package proxy

import (
	"context"
	"errors"
	"log/slog"

	"github.com/quotatui/quotatui/internal/quota"
)

// What an upstream error means for an account is the engine's judgement
// (quota.Judge, one for the proxy and the monitor alike), carried out by
// quota.Manager.Apply. This file keeps only what is the proxy's own
// business: what the forwarding loop does next, how long a refusal
// without a server-given delay cools an account in this process (the
// growing backoff, cooldown.go), and which accounts rank last after a
// timeout.

// action is what the forwarding loop does next after an upstream error.
type action uint8

const (
	moveOn    action = iota // try the next account
	retrySame               // try the same account again (once)
	relay                   // the answer is the client's own: pass it on
)

// reaction is the engine's verdict on one upstream error and the loop's
// next step.
type reaction struct {
	quota.Verdict
	next action
}

// callKind is the kind of upstream call c is, for the engine's judgement:
// only a generation call may change an account.
func (c *call) kind() quota.Call {
	if c.generation {
		return quota.CallGeneration
	}
	return quota.CallPassthrough
}

// judge asks the engine what err means and decides the loop's next step:
// a short rate limit is waited out and a rejected token refreshed, on the
// same account, once (again says the account was already retried in this
// request); an answer that is the client's own is relayed; anything else
// moves on to another account.
func (s *Server) judge(err error, c *call, again bool) reaction {
	if errors.Is(err, errEventTooLarge) {
		// The proxy's own limit: paid for already, and any account
		// would send the same. Nothing about the account.
		return reaction{next: relay}
	}
	judge := quota.Judge
	if again {
		judge = quota.JudgeRetried
	}
	r := reaction{Verdict: judge(err, c.kind(), s.clk.Now())}
	switch {
	case r.ClientFault:
		r.next = relay
	case r.Effect == quota.EffectRetry, r.Effect == quota.EffectRefreshToken:
		r.next = retrySame
	}
	return r
}

// apply carries a reaction out on the account that answered: the engine
// applies the verdict (marks, state, token invalidation, resync); the
// proxy sizes a cooldown the upstream gave no delay for and ranks a
// timed-out account last. Before retrying on the same account after a
// rejected token it gets a fresh one, and reports false when it cannot
// (then the loop moves on).
func (s *Server) apply(ctx context.Context, c *call, ch *Choice, r reaction) bool {
	id, v := ch.AccountID, r.Verdict
	now := s.clk.Now()
	if v.Effect == quota.EffectCooldown && v.Backoff {
		v.Until = now.Add(s.tm.cool.next(gateKey{id, c.family}, now))
	}
	if v.TimedOut {
		s.tm.suspects.add(id, now)
		s.logLimited(slog.LevelWarn, "timeout", ch.Label, "upstream call timed out; the account ranks last until it answers again",
			"method", c.name(), "model", c.model, "reason", v.Reason)
	}
	if err := s.q.Apply(context.WithoutCancel(ctx), id, c.family, v, now); err != nil {
		if errors.Is(err, quota.ErrUnconfirmed) {
			s.logLimited(slog.LevelWarn, "refused", ch.Label, "an account refused a generation call, but its quota reads; not marking it",
				"model", c.model, "reason", v.Reason)
		} else {
			s.log.Warn("could not mark account", "account", ch.Label, "effect", v.Effect, "err", err)
		}
	}
	if r.next == retrySame && v.Effect == quota.EffectRefreshToken {
		// Apply invalidated the token: the next one is refreshed.
		tok, err := s.tokens.Token(ctx, id)
		if err != nil {
			return false
		}
		ch.AccessToken = tok
	}
	return true
}
