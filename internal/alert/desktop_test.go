package alert

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
)

// fakeNotifier records notifications; the desktop sink's tests need no
// notification service.
type fakeNotifier struct {
	mu     sync.Mutex
	got    []Notification
	err    error
	closed bool
}

func (f *fakeNotifier) Notify(_ context.Context, n Notification) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, n)
	return f.err
}

func (f *fakeNotifier) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func TestDesktopSink(t *testing.T) {
	n := &fakeNotifier{}
	d := NewDesktop(n)
	e := newEvent(KindVerification, t0, "ada needs a browser verification", "Google wants ada@example.com verified.")
	e.URL = "https://accounts.example/verify"
	if err := d.Send(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	want := Notification{Title: e.Title, Body: e.Message + "\n" + e.URL, Severity: SeverityWarning}
	if len(n.got) != 1 || n.got[0] != want {
		t.Errorf("notified %+v, want %+v", n.got, want)
	}
	n.err = errors.New("bus gone")
	if err := d.Send(context.Background(), e); err == nil {
		t.Error("a failed notification reported success")
	}
	if err := d.Close(); err != nil || !n.closed {
		t.Errorf("Close = %v, notifier closed = %v", err, n.closed)
	}
}

func TestSystemNotifier(t *testing.T) {
	for goos, want := range map[string]string{"linux": "*alert.DBusNotifier", "freebsd": "*alert.DBusNotifier",
		"darwin": "*alert.OsascriptNotifier"} {
		n, err := SystemNotifier(goos)
		if err != nil {
			t.Errorf("%s: %v", goos, err)
			continue
		}
		if got := typeName(n); got != want {
			t.Errorf("%s: %s, want %s", goos, got, want)
		}
	}
	if _, err := SystemNotifier("windows"); err == nil || !strings.Contains(err.Error(), "not supported on windows") {
		t.Errorf("windows: %v, want not supported", err)
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *DBusNotifier:
		return "*alert.DBusNotifier"
	case *OsascriptNotifier:
		return "*alert.OsascriptNotifier"
	}
	return "?"
}

func TestOsascriptPassesTextAsArguments(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs a shell script as the fake osascript")
	}
	// A fake osascript that writes each argument on its own line: the
	// title and body must arrive as arguments, whatever they contain,
	// never as part of the script.
	dir := t.TempDir()
	out := filepath.Join(dir, "args")
	prog := filepath.Join(dir, "osascript")
	script := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n--\\n' \"$a\"; done > " + out + "\n"
	if err := os.WriteFile(prog, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	o := &OsascriptNotifier{Program: prog}
	title := `ada "the" \admin\`
	body := `gemini exhausted" with title "pwned`
	if err := o.Notify(context.Background(), Notification{Title: title, Body: body}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Split(strings.TrimSuffix(string(data), "\n--\n"), "\n--\n")
	want := []string{"-e", osascriptLines[0], "-e", osascriptLines[1], "-e", osascriptLines[2], title, body}
	if strings.Join(args, "|") != strings.Join(want, "|") {
		t.Errorf("osascript args\n got %q\nwant %q", args, want)
	}

	missing := &OsascriptNotifier{Program: filepath.Join(dir, "no-such-program")}
	if err := missing.Notify(context.Background(), Notification{}); err == nil {
		t.Error("a missing osascript reported success")
	}
}

func TestDBusNotifierWithoutBusIsPermanent(t *testing.T) {
	d := &DBusNotifier{Address: "unix:path=" + filepath.Join(t.TempDir(), "no-bus")}
	err := d.Notify(context.Background(), Notification{Title: "t"})
	if err == nil || !IsPermanent(err) {
		t.Errorf("no bus: %v, want a permanent error", err)
	}
	if err := d.Close(); err != nil {
		t.Error(err)
	}
}

// notifyCall is one Notify call the fake notification service received.
type notifyCall struct {
	app, summary, body string
	urgency            byte
	timeout            int32
}

// fakeNotifications is a freedesktop notification service on a test bus.
type fakeNotifications struct {
	mu    sync.Mutex
	calls []notifyCall
}

// Notify implements org.freedesktop.Notifications.Notify.
func (f *fakeNotifications) Notify(app string, replaces uint32, icon, summary, body string, actions []string,
	hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var u byte
	if v, ok := hints["urgency"]; ok {
		u, _ = v.Value().(byte)
	}
	f.calls = append(f.calls, notifyCall{app, summary, body, u, timeout})
	return uint32(len(f.calls)), nil
}

// startBus runs a private dbus-daemon for the test and returns its
// address. The test is skipped where dbus-daemon is not installed.
func startBus(t *testing.T) string {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("dbus-daemon not installed (apt-get install dbus-daemon): the D-Bus notifier is not tested here")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "bus.conf")
	// A bus of its own with no service files: nothing is activated, so
	// only the fake service answers.
	err = os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=`+filepath.Join(dir, "bus")+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon, "--config-file="+conf, "--nofork", "--print-address=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dbus-daemon: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	// The daemon prints its address once it listens.
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon printed no address: %v", err)
	}
	return strings.TrimSpace(line)
}

// serveNotifications runs a fake notification service on the bus at addr
// until the test ends.
func serveNotifications(t *testing.T, addr string) *fakeNotifications {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fake := &fakeNotifications{}
	if err := conn.Export(fake, notifyPath, notifyService); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName(notifyService, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own %s: %v %v", notifyService, reply, err)
	}
	return fake
}

func TestDBusNotifier(t *testing.T) {
	addr := startBus(t)
	d := &DBusNotifier{Address: addr}
	defer d.Close()

	// No notification service yet: permanent, nothing to retry.
	err := d.Notify(context.Background(), Notification{Title: "t"})
	if err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), "no notification service") {
		t.Errorf("no service: %v, want a permanent error", err)
	}

	fake := serveNotifications(t, addr)

	sink := NewDesktop(d)
	e := newEvent(KindPoolExhausted, t0, "gemini: every account is out of quota", "None of the 3 accounts has quota left.")
	if err := sink.Send(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if err := sink.Send(context.Background(), newEvent(KindReset, t0, "ada: gemini quota back", "back")); err != nil {
		t.Fatal(err)
	}
	fake.mu.Lock()
	calls := append([]notifyCall(nil), fake.calls...)
	fake.mu.Unlock()
	want := []notifyCall{
		{app: "quotatui", summary: e.Title, body: e.Message, urgency: 2, timeout: -1},
		{app: "quotatui", summary: "ada: gemini quota back", body: "back", urgency: 0, timeout: -1},
	}
	if len(calls) != len(want) {
		t.Fatalf("service got %+v, want %+v", calls, want)
	}
	for i := range want {
		if calls[i] != want[i] {
			t.Errorf("call %d = %+v, want %+v", i, calls[i], want[i])
		}
	}
}
