package openai

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// sameAsMap checks that an event's data is exactly what encoding its
// top-level members as a map gives: the keys in sorted order, each value
// as encoding/json writes it. The events were maps before they were
// structs; this is what keeps their bytes the same.
func sameAsMap(t *testing.T, data string) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		t.Fatalf("event %q: %v", data, err)
	}
	want, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if data != string(want) {
		t.Errorf("event\n%s\nis not in the maps' order:\n%s", data, want)
	}
}

// TestStreamsWriteTheMapsBytes runs the Chat Completions and Responses
// streams over text (with characters encoding/json escapes), a tool call
// and a cut-off answer, and checks every event against its encoding as
// a map.
func TestStreamsWriteTheMapsBytes(t *testing.T) {
	chunks := []string{
		`{"candidates":[{"content":{"parts":[{"text":"a <b> & c","thought":true},{"text":"Run"},{"text":"ning <x>"}]}}],"usageMetadata":{"promptTokenCount":9}}`,
		`{"candidates":[{"content":{"parts":[{"functionCall":{"name":"shell","args":{"command":["ls","<dir>"]}}}]}}]}`,
		`{"candidates":[{"content":{"parts":[{"text":"more"}]},"finishReason":"MAX_TOKENS"}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":4}}`,
	}
	for _, usage := range []bool{false, true} {
		c := NewChatStream("gpt-5", nil, true, usage, now)
		c.SetIDs(seqIDs())
		for _, ch := range chunks {
			c.Chunk(chunk(t, ch))
		}
		c.Finish()
		for _, ev := range strings.Split(strings.TrimSpace(string(c.Take())), "\n\n") {
			data := strings.TrimPrefix(ev, "data: ")
			if data != "[DONE]" {
				sameAsMap(t, data)
			}
		}
	}
	for _, cut := range []bool{false, true} {
		r := NewRespStream("gpt-5-codex", nil, true, now)
		r.SetIDs(seqIDs())
		for i, ch := range chunks {
			if cut && i == 1 {
				continue // no tool call: MAX_TOKENS ends the answer as incomplete
			}
			r.Chunk(chunk(t, ch))
		}
		r.Finish()
		out := r.Take()
		if end := []byte("response.incomplete"); cut != bytes.Contains(out, end) {
			t.Errorf("cut %v, but %s", cut, out)
		}
		for _, ev := range strings.Split(strings.TrimSpace(string(out)), "\n\n") {
			_, data, _ := strings.Cut(ev, "\ndata: ")
			sameAsMap(t, data)
		}
	}
}
