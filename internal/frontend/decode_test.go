package frontend

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// parseResponseStd is ParseResponse with encoding/json alone, as it was
// before decodeResponse: the reference the fast path must match.
func parseResponseStd(b []byte) (*Response, error) {
	b = bytes.TrimSpace(b)
	var env struct {
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, err
	}
	if len(env.Response) > 0 && string(env.Response) != "null" {
		b = env.Response
	}
	var r Response
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// answerCorpus is answers and events as Google sends them, and the
// unusual inputs decodeResponse must leave to encoding/json.
var answerCorpus = []string{
	// Common shapes.
	`{"response":{"candidates":[{"content":{"role":"model","parts":[{"text":"Hello"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":2,"totalTokenCount":7},"modelVersion":"gemini-3-flash","responseId":"r1"},"traceId":"t"}`,
	`{"response":{"candidates":[{"content":{"role":"model","parts":[{"text":"Let me think.","thought":true}]}}],"usageMetadata":{"promptTokenCount":9000,"cachedContentTokenCount":8000,"totalTokenCount":9000},"modelVersion":"claude-opus-4-6-thinking","responseId":"msg_vrtx_1"},"traceId":"t"}`,
	`{"response":{"candidates":[{"content":{"role":"model","parts":[{"thought":true,"thoughtSignature":"RY2xhdWRl"}]}}]}}`,
	`{"response":{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"id":"toolu_1","name":"Bash","args":{"command":"ls -la","n":[1,2.5,{"x":null}]}}}]},"finishReason":"OTHER","index":0,"safetyRatings":[{"category":"X","probability":"NEGLIGIBLE"}]}],"usageMetadata":{"promptTokenCount":9000,"candidatesTokenCount":40,"thoughtsTokenCount":12,"totalTokenCount":9052}}}`,
	`{"candidates":[{"content":{"parts":[{"text":"unwrapped, as the Gemini API writes"}]}}]}`,
	`{"response":{"promptFeedback":{"blockReason":"SAFETY","safetyRatings":[]}}}`,
	`{"response":{}}`, `{}`, `{"response":null}`, `{"response":{"candidates":[]}}`,
	`{"response":{"candidates":[{"content":{"parts":[]}}]}}`,
	` {"response" : { "candidates" : [ { "content" : { "parts" : [ { "text" : "spaced" } ] } } ] } } `,
	`{"response":{"candidates":[{"content":{"parts":[{"text":"esc\n\"q\" \u00e9 \ud83d\ude00 \u2028 <b>"}]}}]}}`,
	"{\"response\":{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"bad utf8 \xff\xfe here\"}]}}]}}",
	`{"response":{"candidates":[{"content":{"parts":[{"text":"bad escape \ud800 alone"}]}}]}}`,
	`{"response":{"usageMetadata":{"promptTokenCount":-3,"totalTokenCount":0}}}`,
	`{"response":{"unknown":{"deep":[[[{"a":"}"}]]]},"candidates":[{"content":{"parts":[{"text":"x","executableCode":{"code":"1"}}]}}]}}`,
	// Unusual: left to encoding/json, which must still give its answer.
	`{"response":{"Candidates":[{"content":{"parts":[{"text":"case-folded key"}]}}]}}`,
	`{"response":{"candidates":[{"content":{"parts":[{"TEXT":"x"}]}}]}}`,
	`{"response":{"cand\u0069dates":[{"content":{"parts":[{"text":"escaped key"}]}}]}}`,
	`{"response":{"modelVersion":"a","modelVersion":"b"}}`,
	`{"response":{"usageMetadata":{"promptTokenCount":1},"usageMetadata":{"totalTokenCount":2}}}`,
	`{"response":{"candidates":null,"usageMetadata":null,"modelVersion":null}}`,
	`{"response":{"candidates":[{"content":{"parts":[{"text":null,"thought":null,"functionCall":{"args":null}}]}}]}}`,
	`{"response":{"usageMetadata":{"promptTokenCount":1.0}}}`,
	`{"response":{"usageMetadata":{"promptTokenCount":1e3}}}`,
	`{"response":{"usageMetadata":{"promptTokenCount":99999999999999999999}}}`,
	`{"response":{"usageMetadata":{"promptTokenCount":"5"}}}`,
	`{"response":{"candidates":{"content":{}}}}`,
	`{"response":{"candidates":[{"content":{"parts":[{"thought":"yes"}]}}]}}`,
	`{"response":{"candidates":[{"content":{"parts":[{"inlineData":{"mimeType":"image/png","data":"AAAA"}}]}}]}}`,
	`{"response":{"candidates":[{"content":{"parts":[{"functionResponse":{"name":"f","response":{}}}]}}]}}`,
	`{"response":{"candidates":[{"content":{"parts":[{"fileData":{"fileUri":"gs://x"}}]}}]}}`,
	`{"response":[1,2]}`, `{"response":"text"}`, `{"response":5}`, `[]`, `"x"`, `null`, ``, `{`, `{"response":{"candidates":[}`,
	`{"response":{"candidates":[{"content":{"parts":[{"text":"x"}]}}]}} trailing`,
	"{\"response\":{\"mod\xc3\xa9lVersion\":\"non-ASCII key\"}}",
	`{"response":{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":"a string"}}]}}]}}`,
	`{"response":{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":[]}}]}}]}}`,
}

// TestDecodeResponseMatchesEncodingJSON checks ParseResponse against
// encoding/json on the corpus: the same answer or the same error, and the
// fast path taken for the common shapes.
func TestDecodeResponseMatchesEncodingJSON(t *testing.T) {
	for _, in := range answerCorpus {
		compareParse(t, []byte(in))
	}
	fast := 0
	for _, in := range answerCorpus[:17] {
		b := bytes.TrimSpace([]byte(in))
		if v, err := parseResponseStd(b); err == nil && v != nil {
			if raw, ok := responseMember(b); ok {
				b = raw
			}
			if _, ok := decodeResponse(b); ok {
				fast++
			} else {
				t.Errorf("the common shape %s was left to encoding/json", in)
			}
		}
	}
	if fast == 0 {
		t.Error("the fast path was never taken")
	}
	for _, in := range answerCorpus[:4] {
		if _, ok := decodeEnvelope([]byte(in)); !ok {
			t.Errorf("the envelope of %s was not read in one pass", in)
		}
	}
	for _, in := range answerCorpus[17:] {
		b, _ := responseMember([]byte(in))
		if b == nil {
			b = []byte(in)
		}
		if _, ok := decodeResponse(b); ok && !strings.Contains(in, "args") && !strings.Contains(in, "\\u0069") {
			// Every unusual input after the common ones is refused,
			// except args of any type (kept raw, as encoding/json does).
			t.Errorf("decodeResponse took the unusual %s", in)
		}
	}
}

// responseMember returns the "response" member of an envelope, as
// ParseResponse finds it.
func responseMember(b []byte) ([]byte, bool) {
	var env struct {
		Response json.RawMessage `json:"response"`
	}
	if json.Unmarshal(b, &env) != nil || len(env.Response) == 0 || string(env.Response) == "null" {
		return nil, false
	}
	return env.Response, true
}

func compareParse(t *testing.T, in []byte) {
	t.Helper()
	got, err := ParseResponse(in)
	want, wantErr := parseResponseStd(in)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%q: error %v, encoding/json's %v", in, err, wantErr)
	}
	if err != nil {
		if err.Error() != wantErr.Error() {
			t.Fatalf("%q: error %q, encoding/json's %q", in, err, wantErr)
		}
		if got != nil {
			t.Fatalf("%q: an answer with the error", in)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Fatalf("%q:\n got  %s\n want %s (%#v vs %#v)", in, g, w, got, want)
	}
}

// FuzzParseResponse compares ParseResponse with encoding/json on any
// input: the same answer or the same error, never a panic.
func FuzzParseResponse(f *testing.F) {
	for _, in := range answerCorpus {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		compareParse(t, in)
	})
}

// FuzzStr compares Decoder.Str with encoding/json on any string: the same
// text, escapes, invalid UTF-8 and lone surrogates included.
func FuzzStr(f *testing.F) {
	for _, s := range []string{`plain`, `a\nb\t\"q\"\\ \/`, `\u00e9\ud83d\ude00`, `\ud800 lone`, `\udc00\ud800`, `\u2028<&>`, "\xff\xfe", "é\xc3", `\u0000`, `\b\f\r`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		q := append(append([]byte{'"'}, s...), '"')
		var want string
		wantErr := json.Unmarshal(q, &want)
		d := NewDecoder(q)
		got := d.Str()
		if wantErr != nil {
			return // rawjson.Valid refuses it before a Decoder sees it
		}
		if !d.Done() || got != want {
			t.Fatalf("%q: got %q (done %v), encoding/json %q", q, got, d.Done(), want)
		}
	})
}

// TestParseUsageAllocatesNothing guards what the proxy relies on to read
// every answer's and stream event's counts: no allocation on the common
// shape (a fallback's variable declared too early moves to the heap).
func TestParseUsageAllocatesNothing(t *testing.T) {
	b := []byte(`{"promptTokenCount":12,"candidatesTokenCount":3,"totalTokenCount":15,"thoughtsTokenCount":4}`)
	if u, ok := ParseUsage(b); !ok || u.PromptTokenCount != 12 || u.ThoughtsTokenCount != 4 {
		t.Fatalf("ParseUsage = %+v, %v", u, ok)
	}
	if n := testing.AllocsPerRun(100, func() { ParseUsage(b) }); n != 0 {
		t.Errorf("ParseUsage allocates %v times per call on the common shape, want 0", n)
	}
	if _, ok := ParseUsage([]byte(`{"promptTokenCount":"12"}`)); ok {
		t.Error("a count written as a string was accepted (encoding/json refuses it)")
	}
}
