//go:build !unix

package main

import "time"

// processCPU is not measured on this platform.
func processCPU() time.Duration { return 0 }

// cpuAvailable reports whether processCPU measures anything here.
func cpuAvailable() bool { return false }
