package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/quotatui/quotatui/internal/store"
)

func TestParseRouting(t *testing.T) {
	base := store.Routing{Priority: 1, Reserve: 0.1, Families: []string{"gemini"}}
	tests := []struct {
		in   []string
		want store.Routing
	}{
		{[]string{"priority=2", "reserve=0.2"}, store.Routing{Priority: 2, Reserve: 0.2, Families: []string{"gemini"}}},
		{[]string{"reserve=25%"}, store.Routing{Priority: 1, Reserve: 0.25, Families: []string{"gemini"}}},
		{[]string{"priority=-3"}, store.Routing{Priority: -3, Reserve: 0.1, Families: []string{"gemini"}}},
		{[]string{"families=claude-gpt"}, store.Routing{Priority: 1, Reserve: 0.1, Families: []string{"claude-gpt"}}},
		{[]string{"families= Gemini , gemini"}, store.Routing{Priority: 1, Reserve: 0.1, Families: []string{"gemini"}}},
		{[]string{"families=all"}, store.Routing{Priority: 1, Reserve: 0.1}},
		{[]string{"families="}, store.Routing{Priority: 1, Reserve: 0.1}},
		{[]string{"families=claude-gpt,gemini"}, store.Routing{Priority: 1, Reserve: 0.1}}, // every family is no limit
		{[]string{"disabled_for_proxy=true"}, store.Routing{Priority: 1, Reserve: 0.1, Families: []string{"gemini"}, ProxyDisabled: true}},
		{[]string{"disabled_for_proxy=no", "reserve=0"}, store.Routing{Priority: 1, Families: []string{"gemini"}}},
		{[]string{" Priority = 4 "}, store.Routing{Priority: 4, Reserve: 0.1, Families: []string{"gemini"}}},
	}
	for _, tt := range tests {
		got, err := ParseRouting(base, tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// A bad setting names the key and the allowed values.
func TestParseRoutingErrors(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{[]string{"prio=2"}, `unknown setting "prio": want priority, reserve, families or disabled_for_proxy`},
		{[]string{"priority"}, `"priority": want key=value, e.g. priority=2`},
		{[]string{"priority=high"}, `priority=high: want a whole number from -1000 to 1000 (higher is used first under routing.policy = priority; default 0)`},
		{[]string{"priority=5000"}, `priority=5000: want a whole number from -1000 to 1000`},
		{[]string{"priority=1.5"}, `priority=1.5: want a whole number`},
		{[]string{"reserve=1"}, `reserve=1: want a fraction from 0 up to (not including) 1, such as 0.2 or 20%`},
		{[]string{"reserve=-0.1"}, `reserve=-0.1: want a fraction from 0`},
		{[]string{"reserve=NaN"}, `reserve=NaN: want a fraction`},
		{[]string{"reserve=lots"}, `reserve=lots: want a fraction`},
		{[]string{"families=gemini,mistral"}, `families=gemini,mistral: unknown family "mistral": want gemini, claude-gpt (comma-separated) or all`},
		{[]string{"families=gemini,"}, `families=gemini,: unknown family "": want gemini, claude-gpt`},
		{[]string{"disabled_for_proxy=maybe"}, `disabled_for_proxy=maybe: want true or false`},
		{[]string{"priority=1", "priority=2"}, `priority is given twice`},
		{nil, `name at least one setting: priority=N, reserve=F, families=LIST, disabled_for_proxy=BOOL`},
	}
	for _, tt := range tests {
		_, err := ParseRouting(store.Routing{}, tt.in)
		var se *RoutingError
		if !errors.As(err, &se) {
			t.Errorf("%q: error %v, want a *RoutingError", tt.in, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %q\nlacks %q", tt.in, err, tt.want)
		}
	}
}

// SetRouting writes all the settings or none; list shows them.
func TestSetRoutingAndList(t *testing.T) {
	e := newEnv(t)
	accts := seed(t, e)
	ctx := context.Background()
	a, err := SetRouting(ctx, e.st, "main", []string{"priority=2", "reserve=0.2", "families=gemini", "disabled_for_proxy=true"})
	if err != nil {
		t.Fatal(err)
	}
	want := store.Routing{Priority: 2, Reserve: 0.2, Families: []string{"gemini"}, ProxyDisabled: true}
	if a.ID != accts[0].ID || !reflect.DeepEqual(a.Routing, want) {
		t.Fatalf("SetRouting returned %v %+v, want %+v", a, a.Routing, want)
	}
	// A bad setting among good ones writes nothing.
	if _, err := SetRouting(ctx, e.st, "main", []string{"priority=9", "reserve=2"}); err == nil {
		t.Fatal("a bad reserve was accepted")
	}
	if got, _ := e.st.Account(ctx, a.ID); !reflect.DeepEqual(got.Routing, want) {
		t.Errorf("after a refused command: %+v, want %+v", got.Routing, want)
	}
	if _, err := SetRouting(ctx, e.st, "nobody@example.com", []string{"priority=1"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown account: %v", err)
	}

	var table, js bytes.Buffer
	if err := ListAccounts(ctx, e.st, &table, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ListAccounts(ctx, e.st, &js, true, nil); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(table.String(), "\n")
	if !strings.Contains(lines[0], "ROUTING") ||
		!strings.Contains(lines[1], "priority 2, reserve 20%, families gemini, monitored only") ||
		!strings.Contains(lines[2], " default ") {
		t.Errorf("table:\n%s", table.String())
	}
	var got []map[string]any
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if r := got[0]; r["priority"] != 2.0 || r["reserve"] != 0.2 || !reflect.DeepEqual(r["families"], []any{"gemini"}) || r["disabled_for_proxy"] != true {
		t.Errorf("list --json: %v", r)
	}
	if r := got[1]; r["priority"] != 0.0 || r["reserve"] != 0.0 || r["families"] != nil || r["disabled_for_proxy"] != false {
		t.Errorf("list --json of an account with the defaults: %v", r)
	}
}
