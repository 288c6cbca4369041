package cloudcodetest

import "math"

// reported is a bucket's remaining fraction as the quota answers carry
// it: as is, or with Options.Steps in steps of that size, rounded up, as
// Google has been seen to report (20 % at a time): 5 units left of 6 read
// 1, one left reads 0.2, and only an empty bucket reads 0.
func (s *Server) reported(f float64) float64 {
	step := s.opts.Steps
	if step <= 0 || f <= 0 {
		return f
	}
	k := math.Ceil(f/step - 1e-9)
	if n := math.Round(1 / step); math.Abs(n*step-1) < 1e-9 {
		return math.Min(1, k/n) // exact for steps that divide 1 (0.2 is not exact in binary)
	}
	return math.Min(1, k*step)
}
