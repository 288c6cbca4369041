package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	sqlite3 "modernc.org/sqlite/lib"
)

// A long-running quotatui must say when its database stops working
// instead of failing quietly: a full disk or a read-only file makes every
// write fail (tokens just refreshed cannot be saved, history is lost), and
// a database file deleted while running keeps working from the open file
// until the process ends, with everything written lost. The store notes
// both; Health reports them for the proxy's /healthz, its 503 answers and
// the dashboard.

// Health says whether the database can be used, and why not.
type Health struct {
	// Writable is false while writes fail for a reason that is the
	// database's, not the caller's: a full disk, a read-only file, an I/O
	// error. WriteError is the last such failure, since Since.
	Writable   bool
	WriteError string
	Since      time.Time
	// Deleted is set when the file at Path is gone, or is another file,
	// since the store opened it.
	Deleted bool
	Path    string
}

// Problems returns the health problems in words, none when healthy.
func (h Health) Problems() []string {
	var out []string
	if !h.Writable {
		out = append(out, fmt.Sprintf("database not writable since %s: %s", h.Since.Format(time.TimeOnly), h.WriteError))
	}
	if h.Deleted {
		out = append(out, "database file deleted: "+h.Path+" is gone (quotatui runs on from memory and what it writes is lost; restart it)")
	}
	return out
}

// health is the store's record of its health: its writes, and its file
// (guarded by mu).
type health struct {
	WriteHealth
	mu      sync.Mutex
	opened  os.FileInfo
	deleted bool
}

// WriteHealth records whether a store's writes work. Both backends keep
// one; the zero value is writable.
type WriteHealth struct {
	mu         sync.Mutex
	writeErr   string
	since      time.Time
	notWritten bool
}

// Note records what a write's outcome says about the database's health
// and returns err unchanged. Only errors that databases says are
// the database's (full, read-only, unreachable) make it unwritable; any
// success makes it writable again.
func (w *WriteHealth) Note(err error, databases func(error) bool) error {
	if err != nil && !databases(err) {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil {
		w.notWritten, w.writeErr = false, ""
		return nil
	}
	if !w.notWritten {
		w.since = time.Now()
	}
	w.notWritten, w.writeErr = true, err.Error()
	return err
}

// Writes returns the writes' part of Health: Writable, WriteError, Since.
func (w *WriteHealth) Writes() Health {
	w.mu.Lock()
	defer w.mu.Unlock()
	return Health{Writable: !w.notWritten, WriteError: w.writeErr, Since: w.since}
}

// Health returns the store's health as last observed: write failures as
// they happen, the file's presence as of the last CheckFile.
func (s *Store) Health() Health {
	h := s.health.Writes()
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	h.Deleted, h.Path = s.health.deleted, s.path
	return h
}

// CheckFile looks whether the database file is still the one opened, and
// records the answer for Health. It is a stat: cheap enough to call every
// second.
func (s *Store) CheckFile() error {
	fi, err := os.Stat(s.path)
	gone := errors.Is(err, os.ErrNotExist)
	if err != nil && !gone {
		return fmt.Errorf("store: check %s: %w", s.path, err)
	}
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	s.health.deleted = gone || s.health.opened != nil && !os.SameFile(s.health.opened, fi)
	return nil
}

// noted records what a write's outcome says about the database's health
// and returns err unchanged. Only errors that are the database's (full,
// read-only, I/O) make it unwritable; any success makes it writable again.
func (s *Store) noted(err error) error { return s.health.Note(err, notWritable) }

// notWritable reports whether err is SQLite saying the database cannot be
// written: full, read-only, an I/O error, a file it cannot open.
func notWritable(err error) bool {
	switch sqliteCode(err) {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM:
		return true
	}
	return false
}

// SetReadOnly makes the store refuse writes (PRAGMA query_only on its one
// writer connection) or accept them again. Every write then fails as on a
// read-only database, and Health says so: for maintenance, and for tests
// of how quotatui behaves when its database cannot be written.
func (s *Store) SetReadOnly(ctx context.Context, readOnly bool) error {
	v := "0"
	if readOnly {
		v = "1"
	}
	if _, err := s.write.ExecContext(ctx, "PRAGMA query_only = "+v); err != nil {
		return fmt.Errorf("store: set read-only: %w", err)
	}
	return nil
}
