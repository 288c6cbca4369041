package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// BenchmarkRecordSync500 writes one sync of 500 accounts × 2 families ×
// 2 windows (2000 samples) per op; half of the samples change each time,
// so each op inserts 1000 history rows and extends 1000.
func BenchmarkRecordSync500(b *testing.B) {
	s, _ := openTest(b)
	ctx := context.Background()
	ids := addAccounts(b, s, 500)
	var samples []Sample
	for _, id := range ids {
		for _, f := range []string{"gemini", "claude-gpt"} {
			for _, w := range []string{"5h", "weekly"} {
				samples = append(samples, Sample{AccountID: id, Family: f, Window: w, Fraction: 1, ResetTime: t0.Add(5 * time.Hour)})
			}
		}
	}
	if err := s.RecordSync(ctx, t0, samples, nil); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		for j := 0; j < len(samples); j += 2 {
			samples[j].Fraction = float64(i%100) / 100 // differs from the previous op's
		}
		if err := s.RecordSync(ctx, t0.Add(time.Duration(i+1)*5*time.Minute), samples, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(samples)), "ns/sample")
}

// BenchmarkLatest reads the newest figure of every series from a week of
// 5-minute history for 50 accounts (200 series, ~400k rows).
func BenchmarkLatest(b *testing.B) {
	s := openBenchFixture(b)
	ctx := context.Background()
	for b.Loop() {
		latest, err := s.Latest(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(latest) != benchAccounts*4 {
			b.Fatalf("%d latest rows, want %d", len(latest), benchAccounts*4)
		}
	}
}

// BenchmarkHistory reads one series of the week-long fixture: the last
// 24 hours (a sparkline, 288 points) and the whole week (2016 points).
func BenchmarkHistory(b *testing.B) {
	s := openBenchFixture(b)
	ctx := context.Background()
	end := t0.Add(benchWeek)
	for _, bb := range []struct {
		name   string
		since  time.Time
		points int
	}{
		{"24h", end.Add(-24 * time.Hour), 288},
		{"week", time.Time{}, benchPoints},
	} {
		b.Run(bb.name, func(b *testing.B) {
			for b.Loop() {
				got, err := s.History(ctx, benchAccounts/2, "gemini", "5h", bb.since)
				if err != nil {
					b.Fatal(err)
				}
				if len(got) < bb.points {
					b.Fatalf("%d points, want at least %d", len(got), bb.points)
				}
			}
		})
	}
}

const (
	benchAccounts = 50
	benchWeek     = 7 * 24 * time.Hour
	benchStep     = 5 * time.Minute
	benchPoints   = int(benchWeek / benchStep)
)

// The week-long fixture is built once per test binary (benchmark
// functions run several times) and removed by TestMain.
var benchFixture fixtureFile

func openBenchFixture(b *testing.B) *Store {
	b.Helper()
	s, err := Open(context.Background(), benchFixture.path(b, "week.db", buildWeekFixture))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// fixtureFile is a database file a benchmark builds once per test binary.
type fixtureFile struct {
	once sync.Once
	dir  string
	err  error
}

// path builds the file on first use and returns its path.
func (f *fixtureFile) path(b *testing.B, name string, build func(path string) error) string {
	b.Helper()
	f.once.Do(func() {
		f.dir, f.err = os.MkdirTemp("", "quotatui-store-bench-")
		if f.err == nil {
			f.err = build(filepath.Join(f.dir, name))
		}
	})
	if f.err != nil {
		b.Fatal(f.err)
	}
	return filepath.Join(f.dir, name)
}

// remove deletes the file, if it was built.
func (f *fixtureFile) remove() {
	if f.dir != "" {
		os.RemoveAll(f.dir)
	}
}

// buildFixture writes a benchmark's database: n accounts, the history
// fill inserts (set-based SQL, one transaction), and quota_latest pointing
// at each series' newest row. Close checkpoints it into the one file.
func buildFixture(path string, n int, fill func(ctx context.Context, tx *sql.Tx) error) error {
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		return err
	}
	defer s.Close()
	in := make([]Account, n)
	for i := range in {
		in[i] = Account{Email: fmt.Sprintf("bench%04d@example.com", i)}
	}
	if _, err := s.UpsertAccounts(ctx, in); err != nil {
		return err
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fill(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO quota_latest (account_id, family, bucket, history_id)
		SELECT account_id, family, bucket, max(id) FROM quota_history GROUP BY account_id, family, bucket`); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	return s.Close()
}

// buildWeekFixture writes a week of 5-minute history for benchAccounts
// accounts, every point a change (the worst case), in one transaction of
// set-based SQL.
func buildWeekFixture(path string) error {
	return buildFixture(path, benchAccounts, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
		WITH RECURSIVE t(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM t WHERE i < ?1 - 1)
		INSERT INTO quota_history (account_id, family, bucket, fraction, reset_time, at, last_seen)
		SELECT a.id, f.family, w.bucket, ((t.i * 7 + a.id) % 100) / 100.0, ?2 + (t.i / 60) * 3600000, ?2 + t.i * ?3, ?2 + t.i * ?3
		FROM accounts a, t,
			(SELECT 'gemini' AS family UNION ALL SELECT 'claude-gpt') f,
			(SELECT '5h' AS bucket UNION ALL SELECT 'weekly') w
		ORDER BY t.i`, benchPoints, ms(t0), benchStep.Milliseconds())
		return err
	})
}
