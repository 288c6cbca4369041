package logfile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestRotatesBySize: the file never grows past its limit (but for a single
// larger write), Keep rotated files stay, older ones go, nothing written
// is lost from the files kept, and every file is private.
func TestRotatesBySize(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state", "quotatui.log")
	l, err := Open(path, Options{MaxBytes: 1000, Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("x", 99) + "\n" // 100 bytes
	for i := range 45 {
		if _, err := fmt.Fprintf(l, "%02d%s", i, line[2:]); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, name := range []string{path + ".2", path + ".1", path} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 1000 {
			t.Errorf("%s has %d bytes, over the limit", name, len(b))
		}
		st, _ := os.Stat(name)
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, st.Mode().Perm())
		}
		all = append(all, b...)
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("a third rotated file exists (err %v), want only 2 kept", err)
	}
	// 45 lines, 10 a file: the kept files hold lines 20..44 in order.
	var want bytes.Buffer
	for i := 20; i < 45; i++ {
		fmt.Fprintf(&want, "%02d%s", i, line[2:])
	}
	if !bytes.Equal(all, want.Bytes()) {
		t.Errorf("kept lines are not the last 25 in order:\n%s", all)
	}
	if st, _ := os.Stat(filepath.Dir(path)); st.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", st.Mode().Perm())
	}
}

// TestReopenAppends: a restart appends to the current file and rotates it
// when it is already full.
func TestReopenAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.log")
	l, _ := Open(path, Options{MaxBytes: 100})
	l.Write([]byte(strings.Repeat("a", 90) + "\n"))
	l.Close()
	l, err := Open(path, Options{MaxBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("bbbbbbbbbbbbbbbbbbb\n"))
	l.Close()
	if b, _ := os.ReadFile(path + ".1"); !strings.HasPrefix(string(b), "aaaa") {
		t.Errorf("rotated file = %q", b)
	}
	if b, _ := os.ReadFile(path); string(b) != "bbbbbbbbbbbbbbbbbbb\n" {
		t.Errorf("current file = %q", b)
	}
	if _, err := l.Write([]byte("x")); err == nil {
		t.Error("a write after Close succeeded")
	}
}

// TestConcurrentWrites: lines written at once are neither lost nor
// interleaved, across rotations.
func TestConcurrentWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.log")
	l, _ := Open(path, Options{MaxBytes: 4096, Keep: 100})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				fmt.Fprintf(l, "goroutine %d line %03d\n", g, i)
			}
		})
	}
	wg.Wait()
	l.Close()
	matches, _ := filepath.Glob(path + "*")
	lines := 0
	for _, m := range matches {
		b, _ := os.ReadFile(m)
		for _, ln := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if !strings.HasPrefix(ln, "goroutine ") || len(ln) != len("goroutine 0 line 000") {
				t.Fatalf("mangled line %q in %s", ln, m)
			}
			lines++
		}
	}
	if lines != 800 {
		t.Errorf("%d lines across %d files, want 800", lines, len(matches))
	}
}
