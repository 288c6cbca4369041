package cloudcodetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
)

// Google's v1internal answers are protocol buffers written as proto3 JSON,
// which leaves every field at its default value out: a remainingFraction
// of 0, an empty string, false, an empty list. A client that reads a
// missing fraction as "unknown" shows an exhausted account as fine, so the
// simulator must encode the same way, or every test passes against an
// upstream that does not exist. The answer types below are ordinary Go
// structs; marshalProto3 is the one place that drops their zero values.

// marshalProto3 encodes v as JSON and then drops, at every depth, the
// members a proto3 encoder would not write: numbers equal to 0, empty
// strings, false, null, empty lists and empty objects. Elements of a list
// are kept (a repeated field keeps its zeros and its empty messages); the
// top level is kept even when empty ("{}" is a valid answer).
func marshalProto3(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep numbers exactly as written
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, fmt.Errorf("re-read answer: %w", err)
	}
	if m, ok := tree.(map[string]any); ok {
		pruneObject(m)
	} else if a, ok := tree.([]any); ok {
		pruneList(a)
	}
	return json.Marshal(tree)
}

// structFields are the fields of type google.protobuf.Struct in the
// answers (a function call's args): a Struct is arbitrary JSON, written as
// it is, zeros, empty lists and all. Only the field itself is left out
// when empty.
var structFields = map[string]bool{"args": true}

// pruneObject removes o's members that hold a default value, after
// pruning each member's own contents (not a Struct's).
func pruneObject(o map[string]any) {
	for k, v := range o {
		if !structFields[k] {
			v = prune(v)
		}
		if isDefault(v) {
			delete(o, k)
		}
	}
}

// pruneList prunes the contents of each element, keeping the elements.
func pruneList(a []any) {
	for _, v := range a {
		prune(v)
	}
}

// prune prunes v's contents in place and returns v.
func prune(v any) any {
	switch x := v.(type) {
	case map[string]any:
		pruneObject(x)
	case []any:
		pruneList(x)
	}
	return v
}

// isDefault reports whether v is what proto3 JSON leaves out.
func isDefault(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		return x == ""
	case json.Number:
		f, err := x.Float64()
		return err == nil && f == 0
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// writeJSON answers a v1internal call with v encoded as proto3 JSON.
func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := marshalProto3(v)
	writeBody(w, code, body, err)
}

// writePlainJSON answers an OAuth endpoint, which is ordinary JSON, not
// proto3: Google's token endpoint writes every field it has.
func writePlainJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	writeBody(w, code, body, err)
}

// writeBody sends an encoded JSON answer, or says loudly that encoding
// failed (only a simulator bug gets there).
func writeBody(w http.ResponseWriter, code int, body []byte, err error) {
	if err != nil {
		http.Error(w, "cloudcodetest: encode answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	w.Write(body)
}
