package cloudcode

import "testing"

func TestFractionString(t *testing.T) {
	for _, tc := range []struct {
		f    Fraction
		want string
	}{
		{Fraction{}, "?"},
		{KnownFraction(0), "0%"},
		{KnownFraction(0.004), "1%"}, // something left never reads as spent
		{KnownFraction(0.099), "9%"}, // below the 10 % threshold reads below it
		{KnownFraction(0.62), "62%"},
		{KnownFraction(1), "100%"},
	} {
		if got := tc.f.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.f, got, tc.want)
		}
	}
}
