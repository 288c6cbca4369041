package main

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// procSample is the process's footprint at one moment.
type procSample struct {
	rssMB      float64
	heapMB     float64 // heap in use
	goroutines int
	files      int // open file descriptors
}

// sampleProc reads /proc/self and the Go runtime. On a system without
// /proc, RSS and files read 0.
func sampleProc() procSample {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := procSample{heapMB: float64(ms.HeapInuse) / (1 << 20), goroutines: runtime.NumGoroutine()}
	if f, err := os.Open("/proc/self/status"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
				s.rssMB = kb / 1024
			}
		}
		f.Close()
	}
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		s.files = len(ents)
	}
	return s
}

// fileMB is the size of the files in MiB, missing ones counting 0.
func fileMB(paths ...string) float64 {
	var n int64
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil {
			n += st.Size()
		}
	}
	return float64(n) / (1 << 20)
}
