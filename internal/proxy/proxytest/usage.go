package proxytest

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/quotatui/quotatui/internal/store"
)

// FinalUsage returns the counts of the last usageMetadata in an answer
// the proxy passed on (a whole answer's, or a stream's last event: its
// final figures), for tests that check what the ledger recorded against
// what the client saw. proto3 JSON leaves zero counts out: they read 0.
func FinalUsage(body string) (store.Tokens, error) {
	const key = `"usageMetadata":`
	i := strings.LastIndex(body, key)
	if i < 0 {
		return store.Tokens{}, fmt.Errorf("proxytest: no usageMetadata in the answer")
	}
	var u struct {
		Prompt     int64 `json:"promptTokenCount"`
		Candidates int64 `json:"candidatesTokenCount"`
		Thoughts   int64 `json:"thoughtsTokenCount"`
		Cached     int64 `json:"cachedContentTokenCount"`
		Total      int64 `json:"totalTokenCount"`
	}
	if err := json.NewDecoder(strings.NewReader(body[i+len(key):])).Decode(&u); err != nil {
		return store.Tokens{}, fmt.Errorf("proxytest: usageMetadata: %w", err)
	}
	return store.Tokens{Prompt: u.Prompt, Candidates: u.Candidates, Thoughts: u.Thoughts, Cached: u.Cached, Total: u.Total}, nil
}
