package store

import (
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The compaction fixture: 1000 accounts × 4 series, as the monitor finds
// them at its hourly compaction. Each series holds 36 rolled-up hours, then
// the hour that has just aged past the rollup cut with a change every 5
// minutes (the worst case: 48 000 raw rows to roll up), then 24 hours of
// raw rows, one an hour, the newest of which is the series' latest.
const (
	compactAccounts = 1000
	compactRolled   = 36
)

var compactFixture fixtureFile

// compactNow is when the benchmark compacts: the rollup cut (24 h before,
// to the hour) falls right after the fixture's 5-minute hour.
var compactNow = t0.Add((compactRolled+1+24)*time.Hour + 10*time.Minute)

// BenchmarkCompact1000 measures one hourly Compact of the fixture (a
// fresh copy per op): rolling up 1000 accounts' hour of rows.
func BenchmarkCompact1000(b *testing.B) {
	src := compactFixture.path(b, "compact.db", buildCompactFixture)
	ctx := context.Background()
	dir := b.TempDir()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		path := filepath.Join(dir, "op.db")
		os.Remove(path + "-wal")
		os.Remove(path + "-shm")
		if err := copyFile(src, path); err != nil {
			b.Fatal(err)
		}
		s, err := Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := s.Compact(ctx, compactNow, 24*time.Hour, 720*time.Hour); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if i == 0 {
			var raw int
			if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM quota_history WHERE rolled_up = 0`).Scan(&raw); err != nil {
				b.Fatal(err)
			}
			if want := compactAccounts * 4 * 24; raw != want {
				b.Fatalf("%d raw rows after the compaction, want %d", raw, want)
			}
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// buildCompactFixture writes the fixture (see compactAccounts).
func buildCompactFixture(path string) error {
	return buildFixture(path, compactAccounts, func(ctx context.Context, tx *sql.Tx) error {
		const series = `FROM accounts a, t,
			(SELECT 'gemini' AS family UNION ALL SELECT 'claude-gpt') f,
			(SELECT '5h' AS bucket UNION ALL SELECT 'weekly') w`
		hour := time.Hour.Milliseconds()
		for _, q := range []struct {
			n          int
			from, step int64
			rolled     int
		}{
			{compactRolled, ms(t0), hour, 1},
			{12, ms(t0) + compactRolled*hour, (5 * time.Minute).Milliseconds(), 0},
			{24, ms(t0) + (compactRolled+1)*hour, hour, 0},
		} {
			if _, err := tx.ExecContext(ctx, `
			WITH RECURSIVE t(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM t WHERE i < ?1 - 1)
			INSERT INTO quota_history (account_id, family, bucket, fraction, reset_time, at, last_seen, rolled_up)
			SELECT a.id, f.family, w.bucket, ((t.i * 7 + a.id) % 100) / 100.0, ?2 + (t.i / 5) * 3600000,
				?2 + t.i * ?3, ?2 + t.i * ?3 + ?3 - 1, ?4 `+series+`
			ORDER BY t.i`, q.n, q.from, q.step, q.rolled); err != nil {
				return err
			}
		}
		return nil
	})
}
