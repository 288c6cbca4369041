package quota

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/store"
)

// storeWriteTimeout bounds a store write made after a sync, which runs on a
// context detached from the sync's (a timed-out sync must still record why).
const storeWriteTimeout = 10 * time.Second

// failureBackoff is how long a failed sync keeps answering CheckQuota from
// what is known before the next miss asks the upstream again, so a broken
// upstream is not asked once per request.
const failureBackoff = 30 * time.Second

// syncOutput is what one account's sync leaves to persist, all in one
// write with its round's.
type syncOutput struct {
	samples  []store.Sample
	events   []Event // already broadcast; still to be written
	accounts []store.AccountSync
}

// add appends o to out.
func (out *syncOutput) add(o syncOutput) {
	out.samples = append(out.samples, o.samples...)
	out.events = append(out.events, o.events...)
	out.accounts = append(out.accounts, o.accounts...)
}

// fetched is one account's upstream answers.
type fetched struct {
	catalog *cloudcode.ModelCatalog
	summary *cloudcode.QuotaSummary
}

// SyncAccount fetches accountID's tier (when its 24 h cache is stale) and
// quota from the upstream, updates the cache, publishes the transitions and
// records the history. Concurrent calls for one account share one sync.
// Disabled accounts and accounts that need a new login are not synced
// (ErrNotSyncable).
func (m *Manager) SyncAccount(ctx context.Context, accountID int64) error {
	a := m.lookup(accountID)
	if a == nil {
		return fmt.Errorf("sync account %d: %w", accountID, ErrUnknownAccount)
	}
	return m.syncShared(ctx, a, -1)
}

// persist writes one sync's samples and events, with any events queued by
// Publish and mark changes queued by the marks, in one transaction.
func (m *Manager) persist(ctx context.Context, out syncOutput) {
	events := append(out.events, m.hub.takePending()...)
	marks := m.hub.takeMarks()
	if len(out.samples) == 0 && len(events) == 0 && len(marks) == 0 && len(out.accounts) == 0 {
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeWriteTimeout)
	defer cancel()
	b := store.Batch{At: m.clock.Now(), Samples: out.samples, Events: toStoreEvents(events), Marks: marks, Accounts: out.accounts}
	if err := m.st.Write(wctx, b); err != nil {
		m.log.Warn("quota: record sync", "samples", len(out.samples), "events", len(events), "marks", len(marks), "err", err)
	}
}

// withToken runs fn with the account's access token. When the upstream
// rejects the token (Judge says EffectRefreshToken) it invalidates the
// token and runs fn once more with a fresh one.
func (m *Manager) withToken(ctx context.Context, id int64, fn func(tok string) error) error {
	for attempt := 0; ; attempt++ {
		tok, err := m.tokens.Token(ctx, id)
		if err != nil {
			return fmt.Errorf("access token: %w", err)
		}
		err = fn(tok)
		if attempt == 0 && err != nil && Judge(err, CallQuotaRead, m.clock.Now()).Effect == EffectRefreshToken {
			m.tokens.Invalidate(id)
			continue
		}
		return err
	}
}

// errNoProject is the quota read's failure for an account loadCodeAssist
// named no project for: the quota methods need one (without it Google
// shows exhausted accounts at 100 %), so none is made.
var errNoProject = errors.New("no project: loadCodeAssist named no Cloud project for this account " +
	"(it may need onboarding: sign in once with Gemini CLI or Antigravity)")

// syncOne syncs one account under ctx, which the caller bounds. It updates
// the cache and account state and broadcasts events; the caller persists
// the output.
func (m *Manager) syncOne(ctx context.Context, a *account) (syncOutput, error) {
	var out syncOutput
	if !syncable(&a.snap.Load().status) {
		return out, fmt.Errorf("sync account %d: %w", a.id, ErrNotSyncable)
	}
	// The requests this process had completed when the figures were asked
	// for: the ones after are not in them (the estimate counts them).
	start := syncStart{at: m.clock.Now()}
	for i := range start.own {
		start.own[i] = a.spent[i].Load()
	}
	var data fetched
	err := m.withToken(ctx, a.id, func(tok string) error {
		sub, err := m.tierFor(ctx, a, tok, &out)
		if err != nil {
			return err
		}
		if sub.ProjectID == "" {
			return errNoProject
		}
		data, err = m.fetchQuota(ctx, tok, sub.ProjectID)
		return err
	})
	now := m.clock.Now()
	if err != nil && errors.Is(err, context.Canceled) && ctx.Err() != nil {
		// The caller gave up (the monitor is stopping): that says nothing
		// about the account, so nothing is recorded.
		return out, fmt.Errorf("sync account %d: %w", a.id, err)
	}
	if err != nil {
		m.syncFailed(a, err, now, &out)
		return out, fmt.Errorf("sync account %d: %w", a.id, err)
	}
	m.syncSucceeded(a, data, now, start, &out)
	return out, nil
}

// syncStart is when a sync asked for its figures, and this process's
// count of charged requests per family then.
type syncStart struct {
	at  time.Time
	own [len(cloudcode.Families)]int64
}

// judgeSync is Judge for a failed sync, which only reads quota; a sync
// without a project is unreadable, said plainly.
func judgeSync(err error, now time.Time) Verdict {
	if errors.Is(err, errNoProject) {
		return Verdict{Effect: EffectQuotaUnreadable, Reason: errNoProject.Error()}
	}
	return Judge(err, CallQuotaRead, now)
}

// fetchQuota asks for the model catalogue and the quota summary at once, so
// a sync costs one round trip after the tier is known.
func (m *Manager) fetchQuota(ctx context.Context, tok, project string) (fetched, error) {
	var (
		f      fetched
		catErr error
		wg     sync.WaitGroup
	)
	m.reads.add(m.clock.Now(), 2)
	wg.Go(func() {
		f.catalog, catErr = m.up.FetchAvailableModels(ctx, tok, project)
	})
	summary, sumErr := m.up.RetrieveUserQuotaSummary(ctx, tok, project)
	wg.Wait()
	f.summary = summary
	if catErr != nil {
		return fetched{}, fmt.Errorf("fetch available models: %w", catErr)
	}
	if sumErr != nil && !summaryOptional(sumErr) {
		return fetched{}, fmt.Errorf("retrieve quota summary: %w", sumErr)
	}
	if sumErr != nil {
		// The API drifts: without a summary the weekly bucket is unknown
		// (never read as full) and the models' own 5h figures still count.
		f.summary = &cloudcode.QuotaSummary{Problems: []string{"no quota summary, weekly buckets unknown: " + sumErr.Error()}}
	}
	return f, nil
}

// summaryOptional reports whether a failed quota summary should leave the
// weekly figures unknown rather than fail the sync: the method is missing
// or answers in a shape the client does not know.
func summaryOptional(err error) bool {
	var nf *cloudcode.NotFoundError
	var mr *cloudcode.MalformedResponseError
	return errors.As(err, &nf) || errors.As(err, &mr)
}

// tierFor returns the account's subscription: from the cache while it is
// younger than TierTTL, else from loadCodeAssist, recorded in out for the
// store. A tier change is appended to out's events and broadcast.
func (m *Manager) tierFor(ctx context.Context, a *account, tok string, out *syncOutput) (cloudcode.Subscription, error) {
	now := m.clock.Now()
	s := a.snap.Load()
	if !s.tierCheckedAt.IsZero() && now.Sub(s.tierCheckedAt) < m.opt.TierTTL && s.status.ProjectID != "" {
		return subscriptionOf(&s.status), nil
	}
	m.reads.add(now, 1)
	sub, err := m.up.LoadCodeAssist(ctx, tok)
	if err != nil {
		return cloudcode.Subscription{}, fmt.Errorf("load code assist: %w", err)
	}
	// Written with the sync's figures, in one transaction; until then the
	// tier is cached in memory.
	out.accounts = append(out.accounts, store.AccountSync{AccountID: a.id,
		Tier: &store.TierUpdate{ProjectID: sub.ProjectID, TierID: sub.TierID, TierName: sub.TierName, Tier: sub.Tier.String(), CheckedAt: now}})
	var changed *Event
	a.update(func(s *snapshot) {
		st := &s.status
		if st.TierID != "" && st.TierID != sub.TierID {
			changed = &Event{At: now, Kind: EventTierChanged, AccountID: a.id, Account: st.Label,
				Message: fmt.Sprintf("tier changed from %s to %s", st.Tier, sub.Tier)}
		}
		st.ProjectID, st.TierID, st.TierName, st.Tier = sub.ProjectID, sub.TierID, sub.TierName, sub.Tier
		if sub.ValidationRequired && sub.ValidationURL != "" {
			st.ValidationURL = sub.ValidationURL
		}
		s.tierCheckedAt = now
	})
	if changed != nil {
		m.hub.broadcast(*changed)
		out.events = append(out.events, *changed)
	}
	m.hub.signal()
	return *sub, nil
}

// subscriptionOf rebuilds a Subscription from a cached status.
func subscriptionOf(st *Status) cloudcode.Subscription {
	return cloudcode.Subscription{
		ProjectID: st.ProjectID, Tier: st.Tier, TierID: st.TierID, TierName: st.TierName,
		ValidationRequired: st.ValidationURL != "", ValidationURL: st.ValidationURL,
	}
}

// SubscriptionTier returns the account's subscription from the tier cache
// (24 h by default, persisted in the store), asking loadCodeAssist when the
// cache is stale.
func (m *Manager) SubscriptionTier(ctx context.Context, accountID int64) (cloudcode.Subscription, error) {
	a := m.lookup(accountID)
	if a == nil {
		return cloudcode.Subscription{}, fmt.Errorf("subscription tier of account %d: %w", accountID, ErrUnknownAccount)
	}
	var (
		sub cloudcode.Subscription
		out syncOutput
	)
	err := m.withToken(ctx, accountID, func(tok string) error {
		var err error
		sub, err = m.tierFor(ctx, a, tok, &out)
		return err
	})
	m.persist(ctx, out)
	if err != nil {
		return cloudcode.Subscription{}, fmt.Errorf("subscription tier of account %d: %w", accountID, err)
	}
	return sub, nil
}

// ClearTierCache forgets every account's tier check time, in memory and in
// the store, so the next sync asks loadCodeAssist again.
func (m *Manager) ClearTierCache(ctx context.Context) error {
	if err := m.st.ClearTierCache(ctx); err != nil {
		return fmt.Errorf("clear tier cache: %w", err)
	}
	for _, a := range *m.accts.Load() {
		a.update(func(s *snapshot) { s.tierCheckedAt = time.Time{} })
	}
	return nil
}

// buildFamilies turns the upstream answers into one FamilyQuota per family.
func buildFamilies(data fetched, now time.Time, t Thresholds) [len(cloudcode.Families)]FamilyQuota {
	var out [len(cloudcode.Families)]FamilyQuota
	for i, f := range cloudcode.Families {
		fq := FamilyQuota{Family: f, FetchedAt: now}
		if data.summary != nil {
			if b, ok := data.summary.Bucket(f, cloudcode.Window5h); ok {
				fq.FiveHour = BucketQuota{Remaining: b.Remaining, ResetTime: b.ResetTime}
			}
			if b, ok := data.summary.Bucket(f, cloudcode.WindowWeekly); ok {
				fq.Weekly = BucketQuota{Remaining: b.Remaining, ResetTime: b.ResetTime}
			}
		}
		var models Check // lowest of the family's own model figures
		if data.catalog != nil {
			for _, mq := range data.catalog.Models {
				fam := mq.Family
				if fam == cloudcode.FamilyUnknown {
					fam = cloudcode.ModelFamily(mq.ID)
				}
				if fam != f {
					continue
				}
				fq.Models = append(fq.Models, mq)
				consider(&models, mq.Remaining, cloudcode.Window5h, mq.ResetTime)
			}
		}
		// The models of a family share one 5h pool, so when the summary has
		// no 5h bucket their figure stands for it (history and display).
		if !fq.FiveHour.Remaining.Known && models.Remaining.Known {
			fq.FiveHour = BucketQuota{Remaining: models.Remaining, ResetTime: models.ResetTime}
		}
		eff := models
		consider(&eff, fq.FiveHour.Remaining, cloudcode.Window5h, fq.FiveHour.ResetTime)
		consider(&eff, fq.Weekly.Remaining, cloudcode.WindowWeekly, fq.Weekly.ResetTime)
		fq.Effective, fq.Bottleneck, fq.ResetTime = eff.Remaining, eff.Bottleneck, eff.ResetTime
		fq.Decision = MakeDecision(fq.Effective, t)
		out[i] = fq
	}
	return out
}

// samplesOf returns the history samples of one account's families.
func samplesOf(id int64, fams *[len(cloudcode.Families)]FamilyQuota) []store.Sample {
	out := make([]store.Sample, 0, 2*len(fams))
	for i := range fams {
		fq := &fams[i]
		for _, b := range [...]struct {
			w cloudcode.Window
			q BucketQuota
		}{{cloudcode.Window5h, fq.FiveHour}, {cloudcode.WindowWeekly, fq.Weekly}} {
			if b.q.Remaining.Known {
				out = append(out, store.Sample{AccountID: id, Family: fq.Family.String(), Window: string(b.w),
					Fraction: b.q.Remaining.Value, ResetTime: b.q.ResetTime})
			}
		}
	}
	return out
}

// syncSucceeded stores a successful sync's figures in the cache and in out
// (with the sync's outcome for the other processes), moves the estimates'
// anchors to them and learns what the requests since cost, and brings a
// forbidden or unverified account back to active.
func (m *Manager) syncSucceeded(a *account, data fetched, now time.Time, start syncStart, out *syncOutput) {
	fams := buildFamilies(data, now, m.opt.Thresholds)
	var (
		fired     []Event
		recovered bool
	)
	fresh := m.freshFor()
	a.mu.Lock()
	a.stats.Successes++
	a.stats.LastError = ""
	for i := range fams {
		if !onGrid(&fams[i]) {
			a.fine[i] = true
		}
		fams[i].Coarse = !a.fine[i]
		fams[i].Decision = decideFigure(fams[i].Effective, m.opt.Thresholds, fams[i].Coarse)
	}
	newProblems := a.noteProblems(data)
	var readings [len(cloudcode.Families)][numWindows]reading
	a.updateLocked(func(s *snapshot) {
		st := &s.status
		for i := range fams {
			fired = append(fired, a.transition(i, &fams[i], st.Label, st.Marks[i], now)...)
			readings[i] = m.moveAnchors(a, s, i, &fams[i], start.at, start.own[i], true)
			st.Families[i] = fams[i]
			s.expires[i] = now.Add(fresh)
		}
		st.LastSync, st.LastError = now, ""
		st.Unreadable, st.UnreadableUntil, st.UnreadableCause = "", time.Time{}, ""
		recovered = st.EngineState == StateForbidden || st.EngineState == StateValidationRequired
	})
	label, tier := a.snap.Load().status.Label, a.snap.Load().status.Tier
	a.mu.Unlock()
	for i := range readings {
		m.costs.add(tier, i, readings[i], now)
	}
	for _, p := range newProblems {
		m.log.Warn("quota: odd answer from the upstream", "account", label, "problem", p)
	}
	for _, e := range fired {
		// Once per episode each: the operator's record of what changed.
		m.log.Info("quota: "+e.Kind.String(), "account", label, "family", e.Family.String(), "message", e.Message)
	}
	as := store.AccountSync{AccountID: a.id, At: now}
	if recovered {
		// A forbidden or unverified account that answers again is active.
		if up := m.changeState(a, StateActive, "", "", now); up != nil {
			as.State = up
		}
		fired = append(fired, Event{At: now, Kind: EventRecovered, AccountID: a.id, Account: label,
			Message: "account answers again"})
	}
	for _, e := range fired {
		m.hub.broadcast(e)
	}
	out.events = append(out.events, fired...)
	out.samples = append(out.samples, samplesOf(a.id, &fams)...)
	out.accounts = append(out.accounts, as)
	m.hub.signal()
}

// onGrid reports whether every known figure of fq sits on the CoarseStep
// grid.
func onGrid(fq *FamilyQuota) bool {
	for _, f := range []cloudcode.Fraction{fq.FiveHour.Remaining, fq.Weekly.Remaining} {
		if f.Known && !onCoarseGrid(f.Value) {
			return false
		}
	}
	for i := range fq.Models {
		if f := fq.Models[i].Remaining; f.Known && !onCoarseGrid(f.Value) {
			return false
		}
	}
	return true
}

// noteProblems records the oddities in data and returns the ones not seen
// in the previous answers, to be logged once. The caller holds a.mu.
func (a *account) noteProblems(data fetched) []string {
	var all []string
	if data.catalog != nil {
		all = append(all, data.catalog.Problems...)
	}
	if data.summary != nil {
		all = append(all, data.summary.Problems...)
	}
	if len(all) == 0 && len(a.problems) == 0 {
		return nil
	}
	var fresh []string
	next := make(map[string]bool, len(all))
	for _, p := range all {
		if !a.problems[p] && !next[p] {
			fresh = append(fresh, p)
		}
		next[p] = true
	}
	a.problems = next
	return fresh
}

// transition returns the warnings a family's new figures fire. LowQuota and
// Exhausted fire once per episode; the episode ends (and the warnings
// re-arm) when the family is back at Proceed or its bottleneck window
// resets. Recovered fires when an episode with a warning ends at Proceed.
// While an exhaustion lock from the upstream's 429 holds (mark), the lock
// speaks for the family: a polled figure that still reads full is no
// recovery, and the episode ends at the first Proceed after the lock.
// The caller holds a.mu.
func (a *account) transition(i int, fq *FamilyQuota, label string, mark Mark, now time.Time) []Event {
	ep := &a.episodes[i]
	if mark.Kind == ExhaustedMark && mark.Until.After(now) {
		ep.locked = true
		ep.last = fq.Effective
		if fq.Bottleneck != "" {
			ep.resetTime, ep.bottleneck = fq.ResetTime, fq.Bottleneck
		}
		return nil
	}
	// A later reset time on the same window means the window rolled over.
	reset := !ep.resetTime.IsZero() && fq.Bottleneck == ep.bottleneck &&
		fq.ResetTime.After(ep.resetTime.Add(store.ResetTolerance))
	if fq.Bottleneck != "" {
		ep.resetTime, ep.bottleneck = fq.ResetTime, fq.Bottleneck
	}
	ev := func(k EventKind, msg string) Event {
		return Event{At: now, Kind: k, AccountID: a.id, Account: label, Family: fq.Family, Message: msg}
	}
	warned := ep.lowFired || ep.exhaustedFired
	// Recovered means the figures came back: a decision that moves to
	// Proceed because the family turned out to report in small steps, with
	// the figure still falling, is no recovery.
	rose := reset || ep.locked || !ep.last.Known || fq.Effective.Known && fq.Effective.Value > ep.last.Value
	ep.last, ep.locked = fq.Effective, false
	if reset {
		ep.lowFired, ep.exhaustedFired = false, false
	}
	switch fq.Decision {
	case Proceed:
		ep.lowFired, ep.exhaustedFired = false, false
		if warned && rose {
			return []Event{ev(EventRecovered, fmt.Sprintf("%s back to %s", fq.Family, fq.Effective.String()))}
		}
	case LowQuota:
		if !ep.lowFired && !ep.exhaustedFired {
			ep.lowFired = true
			return []Event{ev(EventLowQuota, fmt.Sprintf("%s low: %s left (%s window), resets in %s",
				fq.Family, fq.Effective.String(), fq.Bottleneck, clock.Short(fq.ResetTime.Sub(now))))}
		}
	case Exhausted:
		if !ep.exhaustedFired {
			ep.exhaustedFired = true
			return []Event{ev(EventExhausted, fmt.Sprintf("%s exhausted (%s window), resets in %s",
				fq.Family, fq.Bottleneck, clock.Short(fq.ResetTime.Sub(now))))}
		}
	}
	return nil
}

// syncFailed records a failed sync: the error, and what Judge says it
// means for the account (a state that needs a person, an unreadable
// quota), applied as the proxy applies its verdicts but written with the
// round's other outcomes. An account error event fires when the error
// differs from the last one.
func (m *Manager) syncFailed(a *account, err error, now time.Time, out *syncOutput) {
	v := judgeSync(err, now)
	msg := err.Error()
	var (
		errChanged bool
		label      string
	)
	a.mu.Lock()
	a.stats.Errors++
	a.stats.LastError = msg
	a.updateLocked(func(s *snapshot) {
		st := &s.status
		label = st.Label
		errChanged = st.LastError != msg
		st.LastError = msg
		// Answer from what is known for a while rather than asking a
		// failing upstream on every request.
		for i := range s.expires {
			s.expires[i] = now.Add(min(failureBackoff, m.opt.CacheTTL))
		}
	})
	a.mu.Unlock()
	as := store.AccountSync{AccountID: a.id, Error: msg}
	defer func() {
		st := a.snap.Load().status
		as.Unreadable, as.UnreadableCause, as.UnreadableUntil = st.Unreadable, st.UnreadableCause, st.UnreadableUntil
		out.accounts = append(out.accounts, as)
	}()
	switch v.Effect {
	case EffectQuotaUnreadable:
		m.warnFailure(a, label, "quota unreadable: "+v.Reason, now)
		m.markUnreadable(a, v, now)
		return
	case EffectForbidden, EffectValidationRequired, EffectNeedsLogin, EffectClientMismatch, EffectNeedsClient:
		if up := m.changeState(a, v.Effect.State(), v.Reason, v.ValidationURL, now); up != nil {
			as.State = up
			return // changeState told the user
		}
		if a.snap.Load().status.EngineState == v.Effect.State() {
			return // the state already says it
		}
	}
	m.warnFailure(a, label, msg, now)
	if errChanged {
		e := Event{At: now, Kind: EventAccountError, AccountID: a.id, Account: label, Message: msg}
		m.hub.broadcast(e)
		out.events = append(out.events, e)
	}
	m.hub.signal()
}

// failureWarnEvery is how often the same failure of one account is logged
// again at WARN while it lasts; a new failure is logged at once. A dead
// network then costs one line per account per half hour, not per round.
const failureWarnEvery = 30 * time.Minute

// warnFailure logs an account's failed sync at WARN, rate-limited per
// account (see failureWarnEvery).
func (m *Manager) warnFailure(a *account, label, msg string, now time.Time) {
	a.mu.Lock()
	due := msg != a.warnedMsg || now.Sub(a.warnedAt) >= failureWarnEvery
	if due {
		a.warnedMsg, a.warnedAt = msg, now
	}
	a.mu.Unlock()
	if due {
		m.log.Warn("quota: sync failed", "account", label, "reason", msg)
	} else {
		m.log.Debug("quota: sync failed", "account", label, "reason", msg)
	}
}

// SyncAll syncs every account that is not disabled or waiting for a login,
// in parallel through a pool of Options.Concurrency workers, each account
// under its own AccountTimeout: one failing or hanging account never
// delays or fails another. All samples and events of the run are written in
// one store transaction. Expired cache entries are cleaned afterwards.
func (m *Manager) SyncAll(ctx context.Context) SyncResult {
	wallStart := time.Now()
	started := m.clock.Now()
	m.mon.syncStarted(started)
	m.hub.broadcast(Event{At: started, Kind: EventSyncStarted, Message: "sync started"})

	var todo []*account
	res := SyncResult{Started: started, Errors: map[int64]error{}}
	for _, a := range m.sortedAccounts() {
		if st := &a.snap.Load().status; syncable(st) && !st.UnreadableUntil.After(started) {
			todo = append(todo, a)
		} else {
			res.Skipped++ // disabled, waiting for a login, or asked to wait
		}
	}
	// Longest first (by the last run): an account that hung last time
	// then overlaps the others instead of stretching the end of the run.
	took := make(map[int64]time.Duration, len(todo))
	for _, a := range todo {
		a.mu.Lock()
		took[a.id] = a.lastTook
		a.mu.Unlock()
	}
	sort.SliceStable(todo, func(i, j int) bool { return took[todo[i].id] > took[todo[j].id] })
	type result struct {
		id   int64
		out  syncOutput
		err  error
		took time.Duration
	}
	res.Workers = min(m.opt.Concurrency, len(todo))
	jobs := make(chan *account)
	results := make(chan result, len(todo))
	var wg sync.WaitGroup
	for range res.Workers {
		wg.Go(func() {
			for a := range jobs {
				t0 := time.Now()
				// The same path as every other sync: a sync of the account
				// already in flight counts for this round.
				out, err, _ := m.flyOrJoin(ctx, a, 0, false, nil)
				results <- result{id: a.id, out: out, err: err, took: time.Since(t0)}
			}
		})
	}
	sent := 0
feed:
	for _, a := range todo {
		select {
		case jobs <- a:
			sent++
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	close(results)
	for _, a := range todo[sent:] {
		res.Errors[a.id] = fmt.Errorf("sync account %d: %w", a.id, ctx.Err())
	}

	var all syncOutput
	for r := range results {
		res.AccountTime += r.took
		all.add(r.out)
		if r.err != nil {
			res.Errors[r.id] = r.err
		} else {
			res.OK++
		}
	}
	tp := time.Now()
	m.persist(ctx, all)
	res.Persist = time.Since(tp)
	m.cleanExpired()
	res.Took = time.Since(wallStart)
	m.mon.syncFinished(res)
	if m.opt.OnSync != nil {
		m.opt.OnSync(res.Took, len(res.Errors))
	}
	m.hub.broadcast(Event{At: m.clock.Now(), Kind: EventSyncFinished,
		Message: fmt.Sprintf("synced %d accounts in %s, %d errors", res.OK, res.Took.Round(time.Millisecond), len(res.Errors))})
	m.log.Info("quota: sync round", "ok", res.OK, "errors", len(res.Errors), "skipped", res.Skipped,
		"took", res.Took.Round(time.Millisecond).String())
	m.hub.signal()
	return res
}
