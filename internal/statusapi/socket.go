package statusapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

// Where the sockets live, and what they are called.
//
// Each process that answers (a dashboard, a serve) binds a socket of its
// own in the state directory (0700), mode 0600:
//
//	<state dir>/status.<key>.<pid>.<random>.sock
//
// where key is a digest of the database's resolved path, so two pools on
// one machine never meet and every process on one database is found by
// listing the directory. A process removes its socket when it stops; one
// that was killed leaves its socket behind, which nobody answers on: the
// next process or client that meets it (connection refused) removes it.
// Only sockets owned by this user are ever talked to or removed, and a
// socket is only ever looked at with Lstat, never followed.

// DefaultDir returns the state directory the sockets live in:
// <$XDG_STATE_HOME or $HOME/.local/state>/quotatui, where the log is by
// default. A relative $XDG_STATE_HOME is ignored, as the XDG rule says.
// It returns "" when neither is set.
func DefaultDir(getenv func(string) string) string {
	base := getenv("XDG_STATE_HOME")
	if !filepath.IsAbs(base) {
		home := getenv("HOME")
		if home == "" {
			return ""
		}
		base = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(base, "quotatui")
}

// ErrNoDir is returned when there is no state directory to use.
var ErrNoDir = errors.New("statusapi: no state directory: set $XDG_STATE_HOME or $HOME")

// key names a database: 12 hex digits of the SHA-256 of its absolute path
// with symbolic links resolved, so every spelling of one file meets; for
// a database URL (PostgreSQL), of the URL without its password, wherever
// the process runs.
func key(db string) string {
	if u, err := url.Parse(db); err == nil && strings.Contains(db, "://") {
		if u.User != nil {
			u.User = url.User(u.User.Username())
		}
		q := u.Query()
		q.Del("password")
		u.RawQuery = q.Encode()
		sum := sha256.Sum256([]byte(u.String()))
		return hex.EncodeToString(sum[:6])
	}
	p, err := filepath.Abs(db)
	if err != nil {
		p = db
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	sum := sha256.Sum256([]byte(p))
	return hex.EncodeToString(sum[:6])
}

const sockSuffix = ".sock"

// sockPrefix is the start of every socket name of the database with key k.
func sockPrefix(k string) string { return "status." + k + "." }

// sockName is a new socket name for this process.
func sockName(k string) string {
	b := make([]byte, 3)
	rand.Read(b) // never fails
	return fmt.Sprintf("%s%d.%s%s", sockPrefix(k), os.Getpid(), hex.EncodeToString(b), sockSuffix)
}

// sock is one socket file found in the directory.
type sock struct {
	path string
	fi   fs.FileInfo
}

// sockets lists the sockets of key k in dir that this user owns. A
// missing directory lists nothing.
func sockets(dir, k string) ([]sock, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("statusapi: list %s: %w", dir, err)
	}
	var out []sock
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, sockPrefix(k)) || !strings.HasSuffix(name, sockSuffix) {
			continue
		}
		p := filepath.Join(dir, name)
		fi, err := os.Lstat(p) // never follow a link planted in place of a socket
		if err != nil || fi.Mode().Type() != fs.ModeSocket || !ownedByMe(fi) {
			continue
		}
		out = append(out, sock{p, fi})
	}
	return out, nil
}

// removeStale removes s if it is still the socket that was found dead
// (not one a new process put there since).
func removeStale(s sock) {
	if fi, err := os.Lstat(s.path); err == nil && os.SameFile(fi, s.fi) {
		os.Remove(s.path)
	}
}

// isDead reports whether a dial error means nobody listens on the socket:
// its process is gone.
func isDead(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, fs.ErrNotExist)
}

// maxSockPath is the longest socket path bind and connect take everywhere
// (sun_path is 108 bytes on Linux, 104 on macOS, with its NUL).
const maxSockPath = 103

// ErrPathTooLong is returned for a socket path longer than the system
// takes, on systems without /proc.
var ErrPathTooLong = errors.New("statusapi: socket path too long")

// reachable returns a path to path that bind and connect take, and a
// function to call once they are done with it. A path too long for
// sun_path is reached on Linux through /proc/self/fd/N/name, N an open
// descriptor of its directory.
func reachable(path string) (string, func(), error) {
	if len(path) <= maxSockPath {
		return path, func() {}, nil
	}
	if runtime.GOOS != "linux" {
		return "", nil, fmt.Errorf("%w (%d bytes): %s; set $XDG_STATE_HOME to a shorter directory", ErrPathTooLong, len(path), path)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return "", nil, fmt.Errorf("statusapi: open %s: %w", filepath.Dir(path), err)
	}
	return fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), filepath.Base(path)), func() { d.Close() }, nil
}

// dial connects to the socket at path.
func dial(ctx context.Context, path string) (net.Conn, error) {
	p, done, err := reachable(path)
	if err != nil {
		return nil, err
	}
	defer done()
	var d net.Dialer
	return d.DialContext(ctx, "unix", p)
}

// prepareDir makes dir (0700) or checks the one there: a directory of this
// user's, closed to others (it is quotatui's own, so it is tightened to
// 0700 when it was not). It reports whether it tightened it.
func prepareDir(dir string) (tightened bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("statusapi: make %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return false, fmt.Errorf("statusapi: %w", err)
	}
	switch {
	case !fi.IsDir():
		return false, fmt.Errorf("statusapi: %s is not a directory", dir)
	case !ownedByMe(fi):
		return false, fmt.Errorf("statusapi: %s belongs to another user; quotatui puts its status socket only in a directory of its user's", dir)
	case fi.Mode().Perm()&0o077 != 0:
		if err := os.Chmod(dir, 0o700); err != nil {
			return false, fmt.Errorf("statusapi: %s is open to other users (%v) and cannot be closed: %w", dir, fi.Mode().Perm(), err)
		}
		return true, nil
	}
	return false, nil
}
