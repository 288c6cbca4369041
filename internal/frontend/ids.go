package frontend

import (
	"crypto/rand"
	"encoding/hex"
)

// NewID returns prefix plus 24 random hex digits: ids of answers and of
// tool calls that Gemini sent without one. Answers need not be
// deterministic; the history that replays them carries the id.
func NewID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
