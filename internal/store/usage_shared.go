package store

import (
	"fmt"
	"strings"
)

// The ledger's rules every backend applies the same way (see shared.go):
// the SQLite store here and the PostgreSQL store check and cut a flush
// alike.

// Check refuses a flush WriteUsage would refuse as a whole: a row without
// family or model or with a negative count, a conversation without a
// session, naming its index.
func (b UsageBatch) Check() error {
	for i, r := range b.Rows {
		if err := r.validate(); err != nil {
			return fmt.Errorf("row %d: %w", i, err)
		}
	}
	for i, c := range b.Conversations {
		if strings.TrimSpace(c.Session) == "" {
			return fmt.Errorf("conversation %d: empty session", i)
		}
		if c.Requests < 0 || c.Errors < 0 {
			return fmt.Errorf("conversation %d: negative count", i)
		}
	}
	return nil
}

// Clipped returns the flush as a backend stores it: the strings that come
// from clients cut to their bounds, a conversation's missing first and
// last times taken as the flush's.
func (b UsageBatch) Clipped() UsageBatch {
	b.Holder = clip(b.Holder, maxClientLen*2)
	rows := make([]UsageRow, len(b.Rows))
	for i, r := range b.Rows {
		r.Model, r.Client = clip(r.Model, maxModelLen), clip(r.Client, maxClientLen)
		rows[i] = r
	}
	convs := make([]Conversation, len(b.Conversations))
	for i, c := range b.Conversations {
		c.Session, c.Client, c.Model = clip(c.Session, maxSessionLen), clip(c.Client, maxClientLen), clip(c.Model, maxModelLen)
		if c.First.IsZero() {
			c.First = b.At
		}
		if c.Last.IsZero() {
			c.Last = b.At
		}
		convs[i] = c
	}
	b.Rows, b.Conversations = rows, convs
	return b
}

// CheckCostReadings refuses a list AddCostReadings would refuse as a
// whole, naming the reading by its index.
func CheckCostReadings(readings []CostReading) error {
	for i, r := range readings {
		if err := r.validate(); err != nil {
			return fmt.Errorf("reading %d: %w", i, err)
		}
	}
	return nil
}
