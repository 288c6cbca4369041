package statusapi

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// tabwriterTable is WriteTable as it was, all through text/tabwriter: the
// reference the table must match byte for byte.
func tabwriterTable(w io.Writer, accts []Account, now time.Time) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprint(tw, "ID\tACCOUNT\tTIER\tSTATE")
	for _, f := range cloudcode.Families {
		fmt.Fprintf(tw, "\t%s\tRESET", strings.ToUpper(f.String()))
	}
	fmt.Fprintln(tw, "\tLAST ERROR")
	for i := range accts {
		a := &accts[i]
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s", a.ID, a.Label, a.Tier, a.Status)
		for _, fam := range cloudcode.Families {
			f := a.Families[fam.String()]
			win := ""
			if f.Bottleneck == string(cloudcode.WindowWeekly) {
				win = " wk"
			}
			fmt.Fprintf(tw, "\t%s%s\t%s", f.Shown(), win, until(f.ResetTime.Time, now))
		}
		errText := a.LastError
		switch {
		case a.ValidationURL != "":
			errText = "verify at " + a.ValidationURL
		case a.QuotaUnreadable != "":
			errText = "quota unreadable: " + a.QuotaUnreadable
		}
		fmt.Fprintf(tw, "\t%s\n", truncate(errText, errWidth))
	}
	return tw.Flush()
}

// The table aligned by hand is what text/tabwriter printed, byte for
// byte: for accounts with every field filled with awkward strings (tabs
// and line breaks included, which go through tabwriter itself), wide and
// narrow, with and without families.
func TestTableMatchesTabwriter(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	now := time.Unix(2e9, 0)
	plain := 0
	for n := range 400 {
		accts := make([]Account, n%9)
		for i := range accts {
			fill(r, reflect.ValueOf(&accts[i]))
			if r.IntN(2) == 0 { // the families the table shows
				accts[i].Families = map[string]Family{}
				for _, fam := range cloudcode.Families {
					var f Family
					fill(r, reflect.ValueOf(&f))
					if r.IntN(2) == 0 {
						f.Bottleneck = string(cloudcode.WindowWeekly)
					}
					accts[i].Families[fam.String()] = f
				}
			}
			if r.IntN(3) > 0 { // most tables have no tab or line break
				for _, s := range []*string{&accts[i].Label, &accts[i].Tier, &accts[i].Status, &accts[i].LastError, &accts[i].ValidationURL, &accts[i].QuotaUnreadable} {
					*s = strings.NewReplacer("\t", " ", "\n", " ", "\f", " ").Replace(*s)
				}
			}
		}
		var got, want bytes.Buffer
		if err := WriteTable(&got, accts, now); err != nil {
			t.Fatal(err)
		}
		if err := tabwriterTable(&want, accts, now); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Fatalf("table %d differs from tabwriter's:\n got %q\nwant %q", n, got.String(), want.String())
		}
		if !strings.ContainsAny(got.String(), "\t\f\v") && strings.Count(got.String(), "\n") == len(accts)+1 {
			plain++
		}
	}
	if plain < 100 {
		t.Errorf("only %d tables were aligned by hand; the test does not test it", plain)
	}
}
