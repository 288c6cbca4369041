package config

import (
	"reflect"
	"strings"
	"testing"
)

// TestModelAliases: [models.aliases] is a table in the file and
// name=id pairs in env and flags; the file's table round-trips through
// Print.
func TestModelAliases(t *testing.T) {
	c, _, err := load(t, nil, nil, "[models.aliases]\nopus = \"claude-opus-4-6-thinking\"\n\"gpt-4*\" = \"gemini-3-flash\"\n")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"opus": "claude-opus-4-6-thinking", "gpt-4*": "gemini-3-flash"}
	if !reflect.DeepEqual(c.Models.Aliases, want) {
		t.Errorf("file: %v", c.Models.Aliases)
	}
	s, _ := settingByKey("models.aliases")
	if got := s.format(reflect.ValueOf(want)); got != `{"gpt-4*" = "gemini-3-flash", "opus" = "claude-opus-4-6-thinking"}` {
		t.Errorf("format: %s", got)
	}
	v, err := s.parse(" sonnet = claude-sonnet-4-6 , haiku=gemini-3-flash,")
	if err != nil || !reflect.DeepEqual(v.Interface(), map[string]string{"sonnet": "claude-sonnet-4-6", "haiku": "gemini-3-flash"}) {
		t.Errorf("parse: %v %v", v, err)
	}
	if _, err := s.parse("sonnet"); err == nil || !strings.Contains(err.Error(), "name=value") {
		t.Errorf("parse without '=': %v", err)
	}
	if _, _, err := load(t, nil, nil, "[models.aliases]\nopus = 3\n"); err == nil || !strings.Contains(err.Error(), "opus") {
		t.Errorf("a number as target: %v", err)
	}
}
