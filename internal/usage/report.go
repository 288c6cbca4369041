// Package usage sums the spend ledger's hourly rows (store.UsageHour) into
// the reports people read: per account, model or day, with totals and the
// conversations that used the most tokens. `quotatui usage` prints them;
// the dashboard's usage view and detail view show the same sums.
package usage

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quotatui/quotatui/internal/store"
)

// By names what a report groups by.
type By string

// The groupings.
const (
	ByAccount By = "account"
	ByModel   By = "model"
	ByDay     By = "day"
	// ByClient groups by the program that sent the requests (the
	// dashboard's top clients); requests without one are "(unnamed)".
	ByClient By = "client"
)

// ParseBy reads a --by value.
func ParseBy(s string) (By, error) {
	switch b := By(strings.ToLower(strings.TrimSpace(s))); b {
	case ByAccount, ByModel, ByDay:
		return b, nil
	}
	return "", fmt.Errorf("--by %q: want account, model or day", s)
}

// ParseSince reads a --since value: a Go duration ("24h", "90m") or a
// number of days ("7d"), positive.
func ParseSince(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	var err error
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days float64
		if days, err = strconv.ParseFloat(n, 64); err == nil {
			d = time.Duration(days * float64(24*time.Hour))
		}
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil {
		return 0, fmt.Errorf("--since %q: want a duration such as 24h, 90m or 7d", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("--since %q: want a positive duration", s)
	}
	return d, nil
}

// Figures are the counts of one group: Requests the answered requests,
// Errors the failed ones, Charged those the upstream accepted (they spent
// quota), Tokens the answered requests' usageMetadata.
type Figures struct {
	Requests int64        `json:"requests"`
	Errors   int64        `json:"errors"`
	Charged  int64        `json:"charged"`
	Tokens   store.Tokens `json:"-"`
}

// Add adds o to f.
func (f *Figures) Add(o Figures) {
	f.Requests, f.Errors, f.Charged = f.Requests+o.Requests, f.Errors+o.Errors, f.Charged+o.Charged
	f.Tokens.Add(o.Tokens)
}

// Empty reports whether nothing was counted.
func (f Figures) Empty() bool { return f == Figures{} }

func figuresOf(h store.UsageHour) Figures {
	return Figures{Requests: h.Requests, Errors: h.Errors, Charged: h.Charged, Tokens: h.Tokens}
}

// Group is one line of a report.
type Group struct {
	Key string // an account's email (or #id), a model, a day (2006-01-02)
	Figures
}

// Sum groups hours by by, the most tokens first (days oldest first).
// name gives an account's name (nil or "": "#id"); days are local to loc
// (nil: UTC).
func Sum(hours []store.UsageHour, by By, name func(int64) string, loc *time.Location) []Group {
	if loc == nil {
		loc = time.UTC
	}
	idx := map[string]int{}
	var out []Group
	for _, h := range hours {
		var k string
		switch by {
		case ByAccount:
			if name != nil {
				k = name(h.AccountID)
			}
			if k == "" {
				k = "#" + strconv.FormatInt(h.AccountID, 10)
			}
		case ByDay:
			k = h.Hour.In(loc).Format(time.DateOnly)
		case ByClient:
			k = h.Client
			if k == "" {
				k = "(unnamed)"
			}
		default:
			k = h.Model
		}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, Group{Key: k})
		}
		out[i].Add(figuresOf(h))
	}
	slices.SortStableFunc(out, func(a, b Group) int {
		if by == ByDay {
			return cmp.Compare(a.Key, b.Key)
		}
		if c := cmp.Compare(b.Tokens.Total, a.Tokens.Total); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Requests+b.Errors, a.Requests+a.Errors); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return out
}

// Total sums every hour.
func Total(hours []store.UsageHour) Figures {
	var f Figures
	for _, h := range hours {
		f.Add(figuresOf(h))
	}
	return f
}

// Report is a usage report: the groups, their total and the conversations
// that used the most tokens.
type Report struct {
	Since, Until  time.Time
	By            By
	Groups        []Group
	Total         Figures
	Conversations []store.Conversation
}

// Reader is what a report reads: the SQLite and PostgreSQL stores have it.
type Reader interface {
	UsageHours(ctx context.Context, since time.Time, accountID int64) ([]store.UsageHour, error)
	Conversations(ctx context.Context, since time.Time, limit int) ([]store.Conversation, error)
}

// Options shape Build.
type Options struct {
	Since, Until  time.Time
	By            By
	Name          func(accountID int64) string
	Location      *time.Location
	Conversations int // how many top conversations (0: none)
}

// Build reads the usage since o.Since, taken down to its hour, and sums
// it.
func Build(ctx context.Context, r Reader, o Options) (Report, error) {
	hours, err := r.UsageHours(ctx, o.Since, 0)
	if err != nil {
		return Report{}, err
	}
	// The store reads whole hours (rolled-up ones cannot be cut).
	rep := Report{Since: o.Since.Truncate(time.Hour), Until: o.Until, By: o.By, Groups: Sum(hours, o.By, o.Name, o.Location), Total: Total(hours)}
	if o.Conversations > 0 {
		if rep.Conversations, err = r.Conversations(ctx, o.Since, o.Conversations); err != nil {
			return Report{}, err
		}
	}
	return rep, nil
}
