package quota

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/store"
)

// The spend ledger: every request the proxy completes is recorded once
// (Record), per account, family, model and client, with its outcome and
// its token usage. That one record feeds both what the engine estimates
// between syncs (estimate.go, cost.go) and the usage statistics (the
// token_usage tables, `quotatui usage`, the dashboard, Prometheus).
// Recording is cheap: a few atomics and a map update under a mutex; the
// store sees the ledger in batches, every ledgerEvery, from the monitor.

// Tokens are a response's token counts (its usageMetadata).
type Tokens = store.Tokens

// Spend is one request the proxy completed, as Record takes it.
type Spend struct {
	AccountID int64
	Family    cloudcode.Family
	Model     string
	// Client names the program that sent the request ("claude-cli",
	// "GeminiCLI", ...) and Session its conversation (the proxy's session
	// key); either may be empty.
	Client, Session string
	// At is when the request completed (the engine's clock when zero).
	At time.Time
	// Charged is set when the upstream accepted the call: it spent a unit
	// of the account's quota, whether the client got its answer or not.
	Charged bool
	// Counted is set when the charge was already counted against the
	// account's estimate with Charge, the moment the upstream accepted
	// the call: Record then enters the ledger's statistics only.
	Counted bool
	// Failed is set when the client got no complete answer (every attempt
	// failed, the stream broke, the client left): an error, whose tokens
	// are not counted.
	Failed bool
	// Tokens are the final usageMetadata of an answered request.
	Tokens Tokens
}

// ledgerEvery is how often the monitor writes the ledger to the store:
// other processes see the spending (their estimates) that much later.
const ledgerEvery = 2 * time.Second

// maxLedgerKeys bounds what the ledger holds unwritten (while the store
// cannot be written, say): beyond it new keys are dropped and counted.
const maxLedgerKeys = 20000

// ledgerStore is what the ledger needs of the store beyond storeAPI;
// *store.Store has it. A store without it keeps the ledger in memory
// only: estimates from this process's own spending, no usage history.
type ledgerStore = store.Ledger

// usageKey names one pending token_usage row.
type usageKey struct {
	account               int64
	family, model, client string
}

// convKey names one pending conversation.
type convKey struct{ session, client string }

// modelKey names one cumulative total.
type modelKey struct {
	account       int64
	family, model string
}

// ModelUsage is what this process's proxy completed for one model on one
// account (AccountID 0: none was chosen) since it started (the Prometheus
// counters).
type ModelUsage struct {
	AccountID                 int64
	Family, Model             string
	Charged, Requests, Errors int64
	Tokens                    Tokens
}

// ledger holds what Record gathered until the next flush, and the totals
// since the start.
type ledger struct {
	mu      sync.Mutex
	rows    map[usageKey]*store.UsageRow
	convs   map[convKey]*store.Conversation
	totals  map[modelKey]*ModelUsage
	dropped atomic.Uint64
}

func (l *ledger) init() {
	l.rows = map[usageKey]*store.UsageRow{}
	l.convs = map[convKey]*store.Conversation{}
	l.totals = map[modelKey]*ModelUsage{}
}

// Record enters one completed request in the ledger. A charged request
// counts at once against the account's figure for the family (the
// estimate falls), and the subscribers are told; the usage reaches the
// store with the next flush. It never blocks on I/O.
func (m *Manager) Record(sp Spend) {
	if sp.At.IsZero() {
		sp.At = m.clock.Now()
	}
	if sp.Charged && !sp.Counted {
		m.Charge(sp.AccountID, sp.Family, sp.At)
	}
	m.ledger.add(sp)
}

// Charge counts one request against the account's figure for the family
// at once (the estimate falls, the subscribers are told), at the moment
// the upstream accepted it (at; the engine's clock when zero), before its
// answer is complete; the caller then records it with Spend.Counted set.
// Counting at acceptance places the request right against a figure read
// while its answer was still streaming: the upstream's figure counts it
// from then on, so the estimate brought forward from that figure must
// not deduct it again, and a cost reading must not set it against the
// next interval. It never blocks on I/O.
func (m *Manager) Charge(accountID int64, f cloudcode.Family, at time.Time) {
	if at.IsZero() {
		at = m.clock.Now()
	}
	a, idx := m.lookup(accountID), familyIndex(f)
	if a == nil || idx < 0 {
		return
	}
	a.spent[idx].Add(1)
	a.recent[idx].note(at)
	a.lastCharged.Store(at.UnixNano())
	m.learnSoon(a, idx, at)
	m.hub.signal()
}

// add enters sp into the pending rows, conversations and totals.
func (l *ledger) add(sp Spend) {
	fam := sp.Family.String()
	var charged, ok, failed int64
	if sp.Charged {
		charged = 1
	}
	tok := sp.Tokens
	if sp.Failed {
		failed, tok = 1, Tokens{}
	} else {
		ok = 1
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	mk := modelKey{sp.AccountID, fam, sp.Model}
	t := l.totals[mk]
	if t == nil {
		t = &ModelUsage{AccountID: sp.AccountID, Family: fam, Model: sp.Model}
		l.totals[mk] = t
	}
	t.Charged, t.Requests, t.Errors = t.Charged+charged, t.Requests+ok, t.Errors+failed
	t.Tokens.Add(tok)
	if sp.AccountID == 0 || sp.Model == "" {
		return // nothing to keep per account
	}
	k := usageKey{sp.AccountID, fam, sp.Model, sp.Client}
	r := l.rows[k]
	if r == nil {
		if len(l.rows) >= maxLedgerKeys {
			l.dropped.Add(1)
			return
		}
		r = &store.UsageRow{AccountID: sp.AccountID, Family: fam, Model: sp.Model, Client: sp.Client}
		l.rows[k] = r
	}
	r.Charged, r.Requests, r.Errors = r.Charged+charged, r.Requests+ok, r.Errors+failed
	r.Tokens.Add(tok)
	if sp.Session == "" {
		return
	}
	ck := convKey{sp.Session, sp.Client}
	c := l.convs[ck]
	if c == nil {
		if len(l.convs) >= maxLedgerKeys {
			l.dropped.Add(1)
			return
		}
		c = &store.Conversation{Session: sp.Session, Client: sp.Client, First: sp.At}
		l.convs[ck] = c
	}
	c.AccountID, c.Model, c.Last = sp.AccountID, sp.Model, sp.At
	c.Requests, c.Errors = c.Requests+ok, c.Errors+failed
	c.Tokens.Add(tok)
}

// take removes and returns what awaits the store.
func (l *ledger) take() ([]store.UsageRow, []store.Conversation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.rows) == 0 && len(l.convs) == 0 {
		return nil, nil
	}
	rows := make([]store.UsageRow, 0, len(l.rows))
	for _, r := range l.rows {
		rows = append(rows, *r)
	}
	convs := make([]store.Conversation, 0, len(l.convs))
	for _, c := range l.convs {
		convs = append(convs, *c)
	}
	clear(l.rows)
	clear(l.convs)
	return rows, convs
}

// putBack returns rows and conversations a failed write did not store,
// to be written with the next flush.
func (l *ledger) putBack(rows []store.UsageRow, convs []store.Conversation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range rows {
		k := usageKey{r.AccountID, r.Family, r.Model, r.Client}
		if cur := l.rows[k]; cur != nil {
			cur.Charged, cur.Requests, cur.Errors = cur.Charged+r.Charged, cur.Requests+r.Requests, cur.Errors+r.Errors
			cur.Tokens.Add(r.Tokens)
		} else if len(l.rows) < maxLedgerKeys {
			l.rows[k] = &r
		} else {
			l.dropped.Add(1)
		}
	}
	for _, c := range convs {
		k := convKey{c.Session, c.Client}
		if cur := l.convs[k]; cur != nil {
			cur.First = c.First
			cur.Requests, cur.Errors = cur.Requests+c.Requests, cur.Errors+c.Errors
			cur.Tokens.Add(c.Tokens)
		} else if len(l.convs) < maxLedgerKeys {
			l.convs[k] = &c
		} else {
			l.dropped.Add(1)
		}
	}
}

// pending returns copies of what awaits the store, for reports that add
// it to what the store holds.
func (l *ledger) pending() ([]store.UsageRow, []store.Conversation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rows := make([]store.UsageRow, 0, len(l.rows))
	for _, r := range l.rows {
		rows = append(rows, *r)
	}
	convs := make([]store.Conversation, 0, len(l.convs))
	for _, c := range l.convs {
		convs = append(convs, *c)
	}
	return rows, convs
}

// FlushLedger writes what the ledger gathered since the last flush to the
// store, with the cost readings learned meanwhile. The monitor calls it
// every couple of seconds and when it stops; a failed write keeps the
// ledger for the next try and is logged at WARN.
func (m *Manager) FlushLedger(ctx context.Context) {
	m.flushReadings(ctx)
	if m.ls == nil {
		return
	}
	rows, convs := m.ledger.take()
	if len(rows) == 0 && len(convs) == 0 {
		return
	}
	b := store.UsageBatch{At: m.clock.Now(), Holder: m.poll.holder, Rows: rows, Conversations: convs}
	if err := m.ls.WriteUsage(ctx, b); err != nil {
		m.ledger.putBack(rows, convs)
		if ctx.Err() == nil {
			m.warnLedger(err)
		}
	}
}

// warnLedger logs a failed ledger write at WARN, at most once a minute.
func (m *Manager) warnLedger(err error) {
	now := time.Now().UnixNano()
	last := m.ledgerWarned.Load()
	if now-last < int64(time.Minute) || !m.ledgerWarned.CompareAndSwap(last, now) {
		return
	}
	m.log.Warn("quota: write the spend ledger (kept for the next try)", "err", err)
}

// UsageTotals returns what this process's proxy completed per account and
// model since it started, for the Prometheus counters. It does no I/O.
func (m *Manager) UsageTotals() []ModelUsage {
	m.ledger.mu.Lock()
	defer m.ledger.mu.Unlock()
	out := make([]ModelUsage, 0, len(m.ledger.totals))
	for _, t := range m.ledger.totals {
		out = append(out, *t)
	}
	return out
}

// LedgerDropped counts the requests the ledger could not keep because it
// held maxLedgerKeys unwritten keys.
func (m *Manager) LedgerDropped() uint64 { return m.ledger.dropped.Load() }

// UsageReport is the usage since a time: per (account, family, model,
// client) and hour, and the conversations with the most tokens.
type UsageReport struct {
	Since         time.Time
	Hours         []store.UsageHour
	Conversations []store.Conversation
}

// maxReportConversations is how many conversations a report names.
const maxReportConversations = 20

// Usage reads the usage since a time (accountID 0: every account) from the
// store, with what this process has not written yet added in (its hour is
// now's), so a view shows every request it served.
func (m *Manager) Usage(ctx context.Context, since time.Time, accountID int64) (UsageReport, error) {
	r := UsageReport{Since: since}
	if m.ls != nil {
		var err error
		if r.Hours, err = m.ls.UsageHours(ctx, since, accountID); err != nil {
			return r, err
		}
		if r.Conversations, err = m.ls.Conversations(ctx, since, 0); err != nil {
			return r, err
		}
	}
	rows, convs := m.ledger.pending()
	hour := m.clock.Now().Truncate(time.Hour)
	for _, p := range rows {
		if accountID != 0 && p.AccountID != accountID {
			continue
		}
		r.Hours = mergeHour(r.Hours, store.UsageHour{AccountID: p.AccountID, Family: p.Family, Model: p.Model, Client: p.Client,
			Hour: hour, Charged: p.Charged, Requests: p.Requests, Errors: p.Errors, Tokens: p.Tokens})
	}
	for _, c := range convs {
		r.Conversations = mergeConversation(r.Conversations, c)
	}
	sortConversations(r.Conversations)
	if len(r.Conversations) > maxReportConversations {
		r.Conversations = r.Conversations[:maxReportConversations]
	}
	return r, nil
}

// mergeHour adds u to the matching hour in hs, or appends it.
func mergeHour(hs []store.UsageHour, u store.UsageHour) []store.UsageHour {
	for i := range hs {
		h := &hs[i]
		if h.AccountID == u.AccountID && h.Family == u.Family && h.Model == u.Model && h.Client == u.Client && h.Hour.Equal(u.Hour) {
			h.Charged, h.Requests, h.Errors = h.Charged+u.Charged, h.Requests+u.Requests, h.Errors+u.Errors
			h.Tokens.Add(u.Tokens)
			return hs
		}
	}
	return append(hs, u)
}

// mergeConversation adds c to the matching conversation in cs, or
// appends it.
func mergeConversation(cs []store.Conversation, c store.Conversation) []store.Conversation {
	for i := range cs {
		cur := &cs[i]
		if cur.Session == c.Session && cur.Client == c.Client {
			cur.AccountID, cur.Model = c.AccountID, c.Model
			if c.Last.After(cur.Last) {
				cur.Last = c.Last
			}
			cur.Requests, cur.Errors = cur.Requests+c.Requests, cur.Errors+c.Errors
			cur.Tokens.Add(c.Tokens)
			return cs
		}
	}
	return append(cs, c)
}

// sortConversations orders conversations the most tokens first, then the
// most recent.
func sortConversations(cs []store.Conversation) {
	slices.SortStableFunc(cs, func(a, b store.Conversation) int {
		if a.Tokens.Total != b.Tokens.Total {
			return cmp.Compare(b.Tokens.Total, a.Tokens.Total)
		}
		return b.Last.Compare(a.Last)
	})
}
