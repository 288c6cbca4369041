package alert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// desktopTimeout bounds one desktop notification.
const desktopTimeout = 10 * time.Second

// Notification is what a desktop notification shows.
type Notification struct {
	Title    string
	Body     string
	Severity Severity
}

// Notifier shows desktop notifications. The desktop sink declares it so
// tests need no notification service; DBusNotifier and OsascriptNotifier
// are the real ones.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// Desktop shows each alert as a desktop notification.
type Desktop struct{ n Notifier }

// NewDesktop returns the desktop sink over n.
func NewDesktop(n Notifier) *Desktop { return &Desktop{n: n} }

// Name returns "desktop".
func (d *Desktop) Name() string { return "desktop" }

// Send shows e: its title, and its message with the place to act.
func (d *Desktop) Send(ctx context.Context, e Event) error {
	ctx, cancel := context.WithTimeout(ctx, desktopTimeout)
	defer cancel()
	body := e.Message
	if e.URL != "" {
		body += "\n" + e.URL
	}
	return d.n.Notify(ctx, Notification{Title: e.Title, Body: body, Severity: e.Severity})
}

// Close releases the notifier's connection, if it has one.
func (d *Desktop) Close() error {
	if c, ok := d.n.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// SystemNotifier returns the notifier for the operating system goos
// (runtime.GOOS outside tests): D-Bus on Linux and the BSDs, osascript on
// macOS, an error elsewhere.
func SystemNotifier(goos string) (Notifier, error) {
	switch goos {
	case "linux", "freebsd", "openbsd", "netbsd", "dragonfly":
		return &DBusNotifier{}, nil
	case "darwin":
		return &OsascriptNotifier{}, nil
	}
	return nil, fmt.Errorf("desktop notifications are not supported on %s; use alerts.webhook or alerts.command", goos)
}

// The freedesktop notification service (Desktop Notifications
// Specification 1.2).
const (
	notifyService = "org.freedesktop.Notifications"
	notifyPath    = dbus.ObjectPath("/org/freedesktop/Notifications")
	notifyMethod  = notifyService + ".Notify"
)

// DBusNotifier sends freedesktop notifications over the D-Bus session bus.
// It connects on first use, and again after the connection breaks, so a
// desktop session started after quotatui still gets its alerts.
type DBusNotifier struct {
	// Address is the bus address; "" means the session bus named by
	// $DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus. A bus is
	// never started: a machine without one has no desktop to notify.
	Address string

	mu   sync.Mutex
	conn *dbus.Conn
}

// Notify shows n. Having no session bus or no notification service is a
// permanent error: retrying will not make one appear for this alert.
func (d *DBusNotifier) Notify(ctx context.Context, n Notification) error {
	conn, err := d.connection()
	if err != nil {
		return Permanent(fmt.Errorf("desktop: %w", err))
	}
	urgency := byte(1)
	switch n.Severity {
	case SeverityCritical:
		urgency = 2
	case SeverityInfo:
		urgency = 0
	}
	call := conn.Object(notifyService, notifyPath).CallWithContext(ctx, notifyMethod, 0,
		"quotatui", uint32(0), "", n.Title, n.Body, []string{},
		map[string]dbus.Variant{"urgency": dbus.MakeVariant(urgency)}, int32(-1))
	if call.Err == nil {
		return nil
	}
	var de dbus.Error
	if errors.As(call.Err, &de) && de.Name == "org.freedesktop.DBus.Error.ServiceUnknown" {
		return Permanent(errors.New("desktop: no notification service on the session bus"))
	}
	if !conn.Connected() {
		d.drop(conn)
	}
	return fmt.Errorf("desktop: notify: %w", call.Err)
}

// connection returns the open connection, connecting when there is none.
func (d *DBusNotifier) connection() (*dbus.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil && d.conn.Connected() {
		return d.conn, nil
	}
	if d.conn != nil {
		_ = d.conn.Close()
		d.conn = nil
	}
	addr := d.Address
	if addr == "" {
		addr = sessionBusAddress()
	}
	if addr == "" {
		return nil, errors.New("no D-Bus session bus ($DBUS_SESSION_BUS_ADDRESS is not set and $XDG_RUNTIME_DIR/bus does not exist)")
	}
	conn, err := dbus.Connect(addr)
	if err != nil {
		return nil, fmt.Errorf("connect to the D-Bus session bus: %w", err)
	}
	d.conn = conn
	return conn, nil
}

// drop forgets conn after it broke, so the next Notify reconnects.
func (d *DBusNotifier) drop(conn *dbus.Conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == conn {
		_ = conn.Close()
		d.conn = nil
	}
}

// Close closes the connection, if any; the notifier may be used again.
func (d *DBusNotifier) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == nil {
		return nil
	}
	err := d.conn.Close()
	d.conn = nil
	return err
}

// sessionBusAddress finds the session bus the way libdbus does, without
// starting one and without changing the process's environment (the
// library's own lookup sets $DBUS_SESSION_BUS_ADDRESS and may autolaunch).
func sessionBusAddress() string {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return a
	}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		p := filepath.Join(dir, "bus")
		if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return "unix:path=" + dbus.EscapeBusAddressValue(p)
		}
	}
	return ""
}

// OsascriptNotifier shows notifications on macOS with osascript. Title and
// body are passed as arguments to the script, never spliced into it, so no
// text can change what the script does.
type OsascriptNotifier struct {
	Program string // "" = osascript from $PATH
}

// osascriptLines is the AppleScript that shows argv's items.
var osascriptLines = [...]string{
	"on run argv",
	`display notification (item 2 of argv) with title "quotatui" subtitle (item 1 of argv)`,
	"end run",
}

// Notify runs osascript to show n.
func (o *OsascriptNotifier) Notify(ctx context.Context, n Notification) error {
	prog := o.Program
	if prog == "" {
		prog = "osascript"
	}
	args := make([]string, 0, 2*len(osascriptLines)+2)
	for _, l := range osascriptLines {
		args = append(args, "-e", l)
	}
	args = append(args, n.Title, n.Body)
	cmd := exec.CommandContext(ctx, prog, args...)
	var stderr tailBuffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = waitDelay
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return Permanent(fmt.Errorf("desktop: %s not found", prog))
		}
		return fmt.Errorf("desktop: %s: %w%s", filepath.Base(prog), err, stderr.hint())
	}
	return nil
}

// defaultNotifier is SystemNotifier for this machine.
func defaultNotifier() (Notifier, error) { return SystemNotifier(runtime.GOOS) }
