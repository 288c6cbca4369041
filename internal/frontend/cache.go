package frontend

import (
	"encoding/json"
	"sync"
)

// maxCachedSchemas bounds a SchemaCache; past it the cache starts over
// (tool sets are few: a client sends the same ones every turn).
const maxCachedSchemas = 4096

// SchemaCache remembers cleaned tool schemas by their raw bytes. Clients
// send the same tools on every turn (Claude Code: a dozen, most of a
// request's bytes), and cleaning is most of a request's translation cost.
// A nil *SchemaCache cleans every time. It is safe for concurrent use.
type SchemaCache struct {
	mu sync.Mutex
	m  map[string]json.RawMessage
}

// NewSchemaCache returns an empty cache.
func NewSchemaCache() *SchemaCache { return &SchemaCache{m: map[string]json.RawMessage{}} }

// Clean returns CleanSchema(raw), from the cache when it has it. The
// result is shared: callers must not modify it.
func (c *SchemaCache) Clean(raw json.RawMessage) (json.RawMessage, error) {
	if c == nil {
		return CleanSchema(raw)
	}
	c.mu.Lock()
	out, ok := c.m[string(raw)]
	c.mu.Unlock()
	if ok {
		return out, nil
	}
	out, err := CleanSchema(raw)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedSchemas {
		c.m = map[string]json.RawMessage{}
	}
	c.m[string(raw)] = out
	c.mu.Unlock()
	return out, nil
}

// IsString reports whether raw JSON is a string, from its first byte, so
// a "string or list" field is decoded once rather than tried both ways.
func IsString(raw json.RawMessage) bool {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c == '"'
	}
	return false
}
