package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode/cloudcodetest"
)

// loginRun is `quotatui login --no-browser` running in-process with a
// pipe for stdin, so the test can answer what it prints.
type loginRun struct {
	out, errOut *syncBuffer
	in          *io.PipeWriter
	cancel      context.CancelFunc
	done        chan int
}

func startLogin(t *testing.T, srv *cloudcodetest.Server, args ...string) *loginRun {
	t.Helper()
	dbPath := filepath.Join(t.TempDir(), "quotatui.db")
	pr, pw := io.Pipe()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	l := &loginRun{out: &syncBuffer{}, errOut: &syncBuffer{}, in: pw, cancel: cancel, done: make(chan int, 1)}
	argv := append(append([]string{"login", "--no-browser", "--timeout", "20s"}, simFlags(srv, dbPath)...), args...)
	go func() {
		l.done <- run(ctx, argv, &cli{stdin: pr, stdout: l.out, stderr: l.errOut, getenv: testEnv(t)})
	}()
	t.Cleanup(func() {
		cancel()
		pw.Close()
		<-l.done
	})
	return l
}

// wait returns login's exit status, failing the test after d.
func (l *loginRun) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case code := <-l.done:
		l.done <- code
		return code
	case <-time.After(d):
		t.Fatalf("login still running after %s; stdout %q, stderr %q", d, l.out.String(), l.errOut.String())
		return -1
	}
}

var authURLRe = regexp.MustCompile(`http://\S+state=\S+`)

// authURL waits for the sign-in URL login prints, and for the line
// after it that asks for a paste.
func (l *loginRun) authURL(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		out := l.out.String()
		if u := authURLRe.FindString(out); u != "" && strings.Contains(out, "press Enter") {
			return u
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("login printed no sign-in URL: %q", l.out.String())
	return ""
}

// signIn plays the browser on another machine: it follows the sign-in URL
// to the simulator and returns the address Google redirects to.
func signIn(t *testing.T, authURL string) *url.URL {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer c.CloseIdleConnections()
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("sign-in: HTTP %d", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

const pastePrompt = "paste the address"

func TestLoginNoBrowserRePromptsThenSignsIn(t *testing.T) {
	srv := cloudcodetest.NewServer(cloudcodetest.Options{})
	t.Cleanup(srv.Close)
	srv.SetNextLogin("headless@example.com")
	l := startLogin(t, srv)
	loc := signIn(t, l.authURL(t))
	prompts := strings.Count(strings.ToLower(l.out.String()), pastePrompt)

	// An empty line, words, and the sign-in page's own address: each is
	// refused with the prompt again, and nothing reaches the token endpoint.
	for i, line := range []string{"", "the code is on the other screen", "https://accounts.google.com/o/oauth2/v2/auth?client_id=x"} {
		fmt.Fprintln(l.in, line)
		want := prompts + i + 1
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(strings.ToLower(l.out.String()), pastePrompt) < want {
			if time.Now().After(deadline) {
				t.Fatalf("after %q, no new prompt; stdout:\n%s", line, l.out.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if n := srv.TotalRequests("token"); n != 0 {
		t.Fatalf("input that is not a code reached the token endpoint (%d requests)", n)
	}
	fmt.Fprintln(l.in, loc.String())
	if code := l.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("login exited %d; stdout %q, stderr %q", code, l.out.String(), l.errOut.String())
	}
	if !strings.Contains(l.out.String(), "signed in as headless@example.com") {
		t.Errorf("stdout does not say who signed in:\n%s", l.out.String())
	}
}

func TestLoginNoBrowserEndOfInput(t *testing.T) {
	srv := cloudcodetest.NewServer(cloudcodetest.Options{})
	t.Cleanup(srv.Close)
	l := startLogin(t, srv)
	l.authURL(t)
	fmt.Fprintln(l.in, "not a code")
	l.in.Close()
	if code := l.wait(t, 5*time.Second); code == 0 {
		t.Fatalf("login exited 0 at the end of its input")
	}
	msg := l.errOut.String()
	if !strings.Contains(msg, "end of input") || !strings.Contains(msg, "nothing was stored") {
		t.Errorf("stderr %q; want it to say the input ended and nothing was stored", msg)
	}
	if strings.Contains(msg, "context") {
		t.Errorf("stderr speaks of contexts: %q", msg)
	}
	if n := srv.TotalRequests("token"); n != 0 {
		t.Errorf("%d token requests; want none", n)
	}
}

func TestLoginNoBrowserInterrupted(t *testing.T) {
	srv := cloudcodetest.NewServer(cloudcodetest.Options{})
	t.Cleanup(srv.Close)
	l := startLogin(t, srv)
	l.authURL(t)
	l.cancel() // what Ctrl-C does through signal.NotifyContext
	if code := l.wait(t, 5*time.Second); code == 0 {
		t.Fatalf("login exited 0 when interrupted")
	}
	msg := l.errOut.String()
	if !strings.Contains(msg, "interrupted") || strings.Contains(msg, "context canceled") {
		t.Errorf("stderr %q; want a plain 'interrupted', not 'context canceled'", msg)
	}
}
