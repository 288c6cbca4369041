package statusapi

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// awkward are strings encoding/json escapes in every way it has.
var awkward = []string{
	"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnew\nline\rcr\bbs\fff",
	"\x00\x01\x1f\x7f", "bad utf-8 \xff\xfe end", "\u2028 and \u2029", "ünïcödé ✓ ⚿ 😀", "truncated \xe2\x9c",
}

// awkwardFloats are figures in every format encoding/json writes.
var awkwardFloats = []float64{0, 1, 0.42, 1.0 / 3, 1e-7, 1.5e-9, 5e-324, 1e21, 123456789.125, -0.5, 1e20, 0.000001}

// fill sets every field of v (a pointer) to a value drawn from r, by
// reflection, so a field added to Account or Family is filled too; about
// one field in five is left zero so omitempty and omitzero are exercised.
func fill(r *rand.Rand, v reflect.Value) {
	v = v.Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		if r.IntN(5) == 0 {
			continue
		}
		fillValue(r, f)
	}
}

func fillValue(r *rand.Rand, f reflect.Value) {
	switch {
	case f.Type() == reflect.TypeFor[Time]():
		f.Set(reflect.ValueOf(Time{time.Unix(r.Int64N(4e9), r.Int64N(1e9)).In(time.FixedZone("x", 3600))}))
		return
	case f.Type() == reflect.TypeFor[time.Time]():
		f.Set(reflect.ValueOf(time.Unix(r.Int64N(4e9), 0)))
		return
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(awkward[r.IntN(len(awkward))])
	case reflect.Int, reflect.Int64:
		f.SetInt(r.Int64N(2000) - 1000)
	case reflect.Bool:
		f.SetBool(r.IntN(2) == 0)
	case reflect.Float64:
		f.SetFloat(awkwardFloats[r.IntN(len(awkwardFloats))])
	case reflect.Pointer:
		p := reflect.New(f.Type().Elem())
		fillValue(r, p.Elem())
		f.Set(p)
	case reflect.Map:
		m := reflect.MakeMap(f.Type())
		for range r.IntN(4) {
			k := reflect.New(f.Type().Key()).Elem()
			k.SetString(awkward[r.IntN(len(awkward))])
			e := reflect.New(f.Type().Elem())
			fill(r, e)
			m.SetMapIndex(k, e.Elem())
		}
		f.Set(m)
	case reflect.Struct:
		fill(r, f.Addr())
	default:
		panic("fill: add a case for " + f.Type().String())
	}
}

// plainAnswer is Answer for encoding/json alone, the reference.
type plainAnswer Answer

// The hand-written encoder writes exactly what encoding/json writes, for
// accounts with every field filled (or left zero) with awkward values,
// compact and indented as `status --json` prints.
func TestEncodeMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 300 {
		accts := make([]Account, n%7)
		for i := range accts {
			fill(r, reflect.ValueOf(&accts[i]))
		}
		if n%50 == 0 {
			accts = nil
		}
		want, err := json.Marshal(accts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendAccounts(nil, accts, false, 0)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("accounts %d, err %v:\n got %s\nwant %s", n, err, got, want)
		}
		var wantIndented bytes.Buffer
		enc := json.NewEncoder(&wantIndented)
		enc.SetIndent("", "  ")
		if err := enc.Encode(accts); err != nil {
			t.Fatal(err)
		}
		got, err = appendAccounts(nil, accts, true, 0)
		if err != nil || string(got)+"\n" != wantIndented.String() {
			t.Fatalf("indented accounts %d, err %v:\n got %s\nwant %s", n, err, got, wantIndented.String())
		}
		a := &Answer{Schema: Schema, At: time.Unix(r.Int64N(4e9), r.Int64N(1e9)), Accounts: accts}
		if n%2 == 0 {
			a.Instance = &Instance{}
			fill(r, reflect.ValueOf(a.Instance))
			fill(r, reflect.ValueOf(&a.Summary))
			a.Problems = awkward[:n%4]
		}
		want, err = json.Marshal((*plainAnswer)(a))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := appendAnswer(nil, a); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("answer %d, err %v:\n got %s\nwant %s", n, err, got, want)
		}
	}
}

// A figure JSON cannot carry is an error, as in encoding/json, not a
// malformed answer.
func TestEncodeRefusesNaN(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1)} {
		a := []Account{{Families: map[string]Family{"gemini": {Effective: &v}}}}
		if _, err := json.Marshal(a); err == nil {
			t.Fatal("encoding/json took a NaN")
		}
		if b, err := appendAccounts(nil, a, false, 0); err == nil {
			t.Errorf("%v encoded as %s; want an error", v, b)
		}
	}
}
