package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
	"github.com/quotatui/quotatui/internal/store"
)

// step is the monitor's default sync interval: the pace at which the
// history figures can change.
const step = 5 * time.Minute

var (
	tierIDs = []string{"g1-ultra-tier", "g1-pro-tier", "free-tier"}
	tiers   = []cloudcode.Tier{cloudcode.TierUltra, cloudcode.TierPro, cloudcode.TierFree}
	windows = [...]cloudcode.Window{cloudcode.Window5h, cloudcode.WindowWeekly}
	periods = [...]time.Duration{5 * time.Hour, 7 * 24 * time.Hour}
)

// bucket is one simulated quota window, rolled like the simulator's: a
// window that has ended restarts at the next sighting.
type bucket struct {
	capacity, used int
	reset          time.Time
}

func (b *bucket) fraction() float64 {
	if b.capacity <= 0 {
		return 0 // a pool the plan does not have (a free account's Claude/GPT)
	}
	return float64(b.capacity-b.used) / float64(b.capacity)
}

// usage is one account's week: which hours of which days it is used, and
// the state of its four buckets (family × window).
type usage struct {
	id        int64
	rng       *rand.Rand
	startHour int // UTC hour the working day starts
	hours     int // length of the working day
	offDays   int // the account rests on days where (day+offDays)%7 >= 5
	b         [len(cloudcode.Families)][len(windows)]bucket
	sent      [len(cloudcode.Families)][len(windows)]sentFigure
}

type sentFigure struct {
	fraction float64
	reset    time.Time
	ok       bool
}

func newUsage(i int, id int64, tier cloudcode.Tier, start time.Time) *usage {
	u := &usage{
		id:        id,
		rng:       rand.New(rand.NewPCG(uint64(i)+1, 0x9e3779b97f4a7c15)),
		startHour: 6 + i%8,
		hours:     6 + i%5,
		offDays:   i % 7,
	}
	for fi, f := range cloudcode.Families {
		for wi, w := range windows {
			// Stagger the windows so resets do not all fall on one step.
			phase := time.Duration(u.rng.Int64N(int64(periods[wi])))
			u.b[fi][wi] = bucket{capacity: cloudcodetest.DefaultCapacity(tier, f, w), reset: start.Add(phase)}
		}
	}
	return u
}

func (u *usage) active(t time.Time) bool {
	day := int(t.Unix() / 86400)
	if (day+u.offDays)%7 >= 5 {
		return false
	}
	h := t.Hour()
	return h >= u.startHour && h < u.startHour+u.hours
}

// advance moves the account to t: windows that ended restart (the
// monitor's sync is the sighting that rolls them), and during working
// hours some requests drain one family's buckets.
func (u *usage) advance(t time.Time) {
	for fi := range u.b {
		for wi := range u.b[fi] {
			b := &u.b[fi][wi]
			if !t.Before(b.reset) {
				b.used, b.reset = 0, t.Add(periods[wi])
			}
		}
	}
	if !u.active(t) {
		return
	}
	// Gemini most of the time; when a family is spent, the proxy sends
	// the work to the other one (or to another account).
	first := 0
	if u.rng.IntN(100) >= 65 {
		first = 1
	}
	for k := range len(u.b) {
		fi := (first + k) % len(u.b)
		five, week := &u.b[fi][0], &u.b[fi][1]
		if five.used >= five.capacity || week.used >= week.capacity {
			continue
		}
		n := 1 + u.rng.IntN(max(1, five.capacity/25))
		five.used = min(five.capacity, five.used+n)
		week.used = min(week.capacity, week.used+n)
		return
	}
}

// samples appends the figures that changed since the last call, or all of
// them when all is set (a sync that only moves last_seen forward).
func (u *usage) samples(dst []store.Sample, all bool) []store.Sample {
	for fi, f := range cloudcode.Families {
		for wi, w := range windows {
			b := &u.b[fi][wi]
			s := &u.sent[fi][wi]
			fr := b.fraction()
			if !all && s.ok && s.fraction == fr && s.reset.Equal(b.reset) {
				continue
			}
			*s = sentFigure{fr, b.reset, true}
			dst = append(dst, store.Sample{AccountID: u.id, Family: f.String(), Window: string(w), Fraction: fr, ResetTime: b.reset})
		}
	}
	return dst
}

// historyStats describes the database the harness built.
type historyStats struct {
	Accounts       int
	RawRows        int64
	RolledUpRows   int64
	Events         int64
	DBBytes        int64
	Took           time.Duration
	RecordSyncs    int
	SamplesWritten int
}

// buildDB creates the database at path with one account per sim account
// and span of history ending at now: raw rows (a sync every 5 minutes) for
// the last 24 h, and for the older part one sync per hour, which
// store.Compact then turns into hourly rolled-up rows, as the real
// retention job would. The sim's buckets are set to the final figures so
// the binary's first sync sees the same state the history ends with.
func buildDB(ctx context.Context, path string, sim *cloudcodetest.Server, accts []cloudcodetest.Account, span time.Duration, now time.Time) (historyStats, error) {
	started := time.Now()
	hs := historyStats{Accounts: len(accts)}
	st, err := store.Open(ctx, path)
	if err != nil {
		return hs, err
	}
	defer st.Close()
	rows := make([]store.Account, len(accts))
	for i, a := range accts {
		rows[i] = store.Account{Email: a.Email, RefreshToken: a.RefreshToken, ProjectID: a.Project}
	}
	stored, err := st.UpsertAccounts(ctx, rows)
	if err != nil {
		return hs, fmt.Errorf("add accounts: %w", err)
	}

	now = now.Truncate(step)
	start := now.Add(-span).Truncate(time.Hour)
	rawFrom := now.Add(-24 * time.Hour)
	us := make([]*usage, len(stored))
	for i, a := range stored {
		us[i] = newUsage(i, a.ID, tiers[i%len(tiers)], start)
	}
	var batch []store.Sample
	for t := start; !t.After(now); t = t.Add(step) {
		for _, u := range us {
			u.advance(t)
		}
		hourly := t.Minute() == 0
		if t.Before(rawFrom) && !hourly {
			continue // the older part is kept hourly: record only on the hour
		}
		batch = batch[:0]
		for _, u := range us {
			batch = u.samples(batch, hourly || t.Equal(now))
		}
		if len(batch) == 0 {
			continue
		}
		if err := st.RecordSync(ctx, t, batch, nil); err != nil {
			return hs, fmt.Errorf("history at %s: %w", t.Format(time.RFC3339), err)
		}
		hs.RecordSyncs++
		hs.SamplesWritten += len(batch)
		if err := ctx.Err(); err != nil {
			return hs, err
		}
	}
	if err := st.Compact(ctx, now, 24*time.Hour, 720*time.Hour); err != nil {
		return hs, fmt.Errorf("compact: %w", err)
	}
	for i, a := range accts {
		for fi, f := range cloudcode.Families {
			for wi, w := range windows {
				sim.SetRemaining(a.Email, f, w, us[i].b[fi][wi].fraction())
			}
		}
	}
	if err := st.Close(); err != nil {
		return hs, fmt.Errorf("close store: %w", err)
	}
	if err := countRows(ctx, path, &hs); err != nil {
		return hs, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return hs, err
	}
	hs.DBBytes = fi.Size()
	hs.Took = time.Since(started)
	return hs, nil
}

// countRows reads the history's shape straight from the file: the store
// has no counting API, and this is a report, not a feature.
func countRows(ctx context.Context, path string, hs *historyStats) error {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return fmt.Errorf("count rows: %w", err)
	}
	defer db.Close()
	q := `SELECT count(*) - coalesce(sum(rolled_up), 0), coalesce(sum(rolled_up), 0), (SELECT count(*) FROM events) FROM quota_history`
	if err := db.QueryRowContext(ctx, q).Scan(&hs.RawRows, &hs.RolledUpRows, &hs.Events); err != nil {
		return fmt.Errorf("count rows: %w", err)
	}
	return nil
}
