// Package logfile is a log file that rotates itself by size: when a write
// would take it past its limit, the file is renamed to <name>.1 (older
// ones move to .2, .3, ... and the oldest beyond Keep is removed) and a
// new one is started. A long-running dashboard or serve writes its log
// here, so the log never grows without bound.
package logfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// The defaults of Options.
const (
	DefaultMaxBytes = 10 << 20
	DefaultKeep     = 3
)

// Options configure a File. Zero values mean the defaults.
type Options struct {
	MaxBytes int64 // size at which the file rotates; default 10 MiB
	Keep     int   // rotated files kept beside the current one; default 3
}

// File is a size-rotated log file, safe for concurrent writes. Files and
// their directory are private to the user (0600, 0700): a log can say
// which accounts exist.
type File struct {
	path string
	opt  Options

	mu   sync.Mutex
	f    *os.File
	size int64
}

// Open opens (or creates) the log file at path for appending, creating its
// directory, and rotates it first if it is already at its limit.
func Open(path string, opt Options) (*File, error) {
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	if opt.Keep <= 0 {
		opt.Keep = DefaultKeep
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	l := &File{path: path, opt: opt}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *File) open() error {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("log file: %w", err)
	}
	l.f, l.size = f, st.Size()
	return nil
}

// Write appends p, rotating first when p would take the file past its
// limit (a single write larger than the limit still goes in whole).
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, os.ErrClosed
	}
	if l.size > 0 && l.size+int64(len(p)) > l.opt.MaxBytes {
		if err := l.rotate(); err != nil {
			// Keep logging into the full file rather than lose lines.
			fmt.Fprintf(os.Stderr, "quotatui: rotate log file: %v\n", err)
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

// rotate shifts the rotated files up by one, moves the current file to
// .1 and starts a new one. The caller holds l.mu.
func (l *File) rotate() error {
	if err := l.f.Close(); err != nil {
		return err
	}
	l.f = nil
	var errs []error
	if err := os.Remove(l.name(l.opt.Keep)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	for i := l.opt.Keep - 1; i >= 1; i-- {
		if err := os.Rename(l.name(i), l.name(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := os.Rename(l.path, l.name(1)); err != nil {
		errs = append(errs, err)
	}
	if err := l.open(); err != nil {
		return errors.Join(append(errs, err)...)
	}
	return errors.Join(errs...)
}

// name is the path of the i-th rotated file.
func (l *File) name(i int) string { return l.path + "." + strconv.Itoa(i) }

// Close closes the file; later writes fail.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
