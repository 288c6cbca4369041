package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// CostReading is one observation of what requests cost: a bucket of a plan
// (Tier), family and window fell by Fell (a fraction) over Requests
// requests the proxies sent between two of its figures. The quota engine
// learns each bucket's cost per request from the newest readings; every
// process on the database shares them.
type CostReading struct {
	Tier, Family, Window string
	At                   time.Time
	Requests, Fell       float64
}

func (r CostReading) validate() error {
	switch {
	case strings.TrimSpace(r.Tier) == "" || strings.TrimSpace(r.Family) == "" || strings.TrimSpace(r.Window) == "":
		return errors.New("empty tier, family or window")
	case math.IsNaN(r.Requests) || math.IsInf(r.Requests, 0) || r.Requests <= 0:
		return fmt.Errorf("requests %v: want a positive number", r.Requests)
	case math.IsNaN(r.Fell) || math.IsInf(r.Fell, 0) || r.Fell < 0 || r.Fell > 1:
		return fmt.Errorf("fell %v: want a fraction", r.Fell)
	}
	return nil
}

// pruneReadingsQuery keeps the newest ?4 readings of one key.
const pruneReadingsQuery = `DELETE FROM cost_readings WHERE tier = ?1 AND family = ?2 AND bucket = ?3 AND id NOT IN (
	SELECT id FROM cost_readings WHERE tier = ?1 AND family = ?2 AND bucket = ?3 ORDER BY at DESC, id DESC LIMIT ?4)`

// AddCostReadings stores readings in one transaction, keeps only the
// newest keep of each (tier, family, window) (keep ≤ 0: all), and moves
// the cost counter (CostVersion). An invalid reading fails the whole
// batch, naming its index.
func (s *Store) AddCostReadings(ctx context.Context, readings []CostReading, keep int) (err error) {
	if err := CheckCostReadings(readings); err != nil {
		return fmt.Errorf("store: add cost readings: %w", err)
	}
	if len(readings) == 0 {
		return nil
	}
	defer func() {
		if err = s.noted(err); err != nil {
			err = fmt.Errorf("store: add cost readings: %w", err)
		}
	}()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	type key struct{ tier, family, window string }
	touched := map[key]bool{}
	for i, r := range readings {
		if _, err := tx.ExecContext(ctx, `INSERT INTO cost_readings (tier, family, bucket, at, requests, fell) VALUES (?, ?, ?, ?, ?, ?)`,
			r.Tier, r.Family, r.Window, ms(r.At), r.Requests, r.Fell); err != nil {
			return fmt.Errorf("reading %d: %w", i, err)
		}
		touched[key{r.Tier, r.Family, r.Window}] = true
	}
	if keep > 0 {
		for k := range touched {
			if _, err := tx.ExecContext(ctx, pruneReadingsQuery, k.tier, k.family, k.window, keep); err != nil {
				return fmt.Errorf("prune readings: %w", err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE meta SET value = value + 1 WHERE key = 'cost_version'`); err != nil {
		return fmt.Errorf("move cost version: %w", err)
	}
	return tx.Commit()
}

// CostReadings returns every stored reading, oldest first per key.
func (s *Store) CostReadings(ctx context.Context) ([]CostReading, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT tier, family, bucket, at, requests, fell FROM cost_readings
		ORDER BY tier, family, bucket, at, id`)
	if err != nil {
		return nil, fmt.Errorf("store: cost readings: %w", err)
	}
	defer rows.Close()
	var out []CostReading
	for rows.Next() {
		var r CostReading
		var at int64
		if err := rows.Scan(&r.Tier, &r.Family, &r.Window, &at, &r.Requests, &r.Fell); err != nil {
			return nil, fmt.Errorf("store: cost readings: %w", err)
		}
		r.At = fromMS(at)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: cost readings: %w", err)
	}
	return out, nil
}

// CostVersion returns a counter that moves with every AddCostReadings:
// the other processes read the readings again when it moved.
func (s *Store) CostVersion(ctx context.Context) (int64, error) {
	return s.metaValue(ctx, "cost_version")
}
