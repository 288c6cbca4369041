package cloudcodetest

import "testing"

// A function call's args is a google.protobuf.Struct: arbitrary JSON that
// proto3 JSON writes as it is, so an empty list, a 0 or "" inside it must
// reach the client (a tool's required array argument came back as {} and
// the client's tool got no "command"). The fields around it still lose
// their zeros.
func TestStructFieldsAreKept(t *testing.T) {
	v := map[string]any{
		"functionCall": map[string]any{"name": "shell", "id": "", "args": map[string]any{"command": []any{}, "n": 0, "s": "", "ok": false}},
		"thought":      false,
	}
	got, err := marshalProto3(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"functionCall":{"args":{"command":[],"n":0,"ok":false,"s":""},"name":"shell"}}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
