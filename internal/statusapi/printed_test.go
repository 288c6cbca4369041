package statusapi

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/clock"
	"github.com/quotatui/quotatui/internal/cloudcode"
)

// The text an instance writes for `status --json` and `status` is what
// status prints from the decoded answer, byte for byte, and its headers
// carry the summary and the poller.
func TestPrintedIsWhatStatusPrints(t *testing.T) {
	p := newPool(t, 4)
	p.sim.SetRemaining("user1@example.com", cloudcode.FamilyGemini, cloudcode.Window5h, 0.42)
	p.sim.SetRemaining("user2@example.com", cloudcode.FamilyGemini, cloudcode.WindowWeekly, 0) // and user3 is FREE: Claude/GPT spent
	p.sim.SetQuotaReadLimit("user4@example.com", time.Hour)
	p.q.SyncAll(context.Background())
	for _, polls := range []bool{false, true} {
		dir := shortDir(t)
		at := time.Now().Add(-time.Minute).Truncate(time.Second)
		r := serveWith(t, Options{
			Dir: dir, DB: p.db, Engine: poller{p.q, polls}, Judge: testJudge,
			Instance: NewInstance("dashboard", "test", p.db, at), Clock: clock.NewFake(at),
		})
		ans, err := ask(dir, p.db)
		if err != nil {
			t.Fatal(err)
		}
		var wantJSON, wantTable bytes.Buffer
		if err := WriteJSON(&wantJSON, ans.Accounts); err != nil {
			t.Fatal(err)
		}
		if err := WriteStatus(&wantTable, ans); err != nil {
			t.Fatal(err)
		}
		for res, want := range map[string]string{JSONPath: wantJSON.String(), TablePath: wantTable.String()} {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			got, err := AskPrinted(ctx, dir, p.db, res)
			cancel()
			if err != nil {
				t.Fatalf("%s: %v", res, err)
			}
			if string(got.Text) != want {
				t.Errorf("%s differs from what status prints from the answer:\n got %s\nwant %s", res, got.Text, want)
			}
			if got.Summary != ans.Summary || got.Poller != polls {
				t.Errorf("%s: summary %+v poller %v; want %+v %v", res, got.Summary, got.Poller, ans.Summary, polls)
			}
		}
		if ans.Summary.Exhausted != 2 || ans.Summary.SyncErrors != 1 || !strings.Contains(wantTable.String(), "from the running dashboard") {
			t.Errorf("the pool is not what the test set up: %+v\n%s", ans.Summary, wantTable.String())
		}
		r.halt(t)
	}
}

// fakeInstance answers on a socket where status looks for db's instances
// with handler, as a broken or different quotatui might.
func fakeInstance(t *testing.T, dir, db string, handler http.Handler) {
	t.Helper()
	if _, err := prepareDir(dir); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, sockName(key(db))))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler}
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
}

// A short, malformed or foreign printed answer is an error that says what
// was wrong, and none of its text is returned.
func TestPrintedRefusesABrokenAnswer(t *testing.T) {
	good := func(h http.Header) {
		h.Set(headerSchema, Schema)
		h.Set(headerPoller, "true")
		h.Set(headerSummary, `{"accounts":2}`)
	}
	for _, tt := range []struct {
		name, want string
		headers    func(http.Header)
		length     int // announced; -1 for none
		body       string
	}{
		{"cut short", "19 of 5000 bytes: unexpected EOF", good, 5000, "[\n  {\n    \"id\": 1,\n"},
		{"no length", "unknown or unlikely length", good, -1, "[]\n"},
		{"last line unended", "does not end its last line", good, 3, "[\n "},
		{"another schema", `in schema "quotatui.status/v0"`, func(h http.Header) { good(h); h.Set(headerSchema, "quotatui.status/v0") }, 3, "[]\n"},
		{"an older quotatui", `in schema ""`, func(http.Header) {}, 3, "[]\n"},
		{"no poller", "no Quotatui-Poller header", func(h http.Header) { good(h); h.Del(headerPoller) }, 3, "[]\n"},
		{"bad summary", "unreadable Quotatui-Summary", func(h http.Header) { good(h); h.Set(headerSummary, `{"accounts":`) }, 3, "[]\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir, db := shortDir(t), "/data/quotatui.db"
			fakeInstance(t, dir, db, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// Written by hand: the process may die mid-answer.
				conn, _, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				defer conn.Close()
				h := http.Header{}
				tt.headers(h)
				if tt.length >= 0 {
					h.Set("Content-Length", strconv.Itoa(tt.length))
				}
				var b bytes.Buffer
				b.WriteString("HTTP/1.1 200 OK\r\n")
				h.Write(&b)
				b.WriteString("\r\n" + tt.body)
				conn.Write(b.Bytes())
			}))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err := AskPrinted(ctx, dir, db, JSONPath)
			if err == nil || got != nil {
				t.Fatalf("answered %+v, %v; want an error", got, err)
			}
			if !errors.Is(err, ErrNoAnswer) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q; want ErrNoAnswer saying %q", err, tt.want)
			}
		})
	}
	// An older quotatui knows no such resource: 404, said as such.
	dir, db := shortDir(t), "/data/quotatui.db"
	fakeInstance(t, dir, db, http.NotFoundHandler())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := AskPrinted(ctx, dir, db, TablePath); !errors.Is(err, ErrNoAnswer) || !strings.Contains(err.Error(), "404") {
		t.Errorf("a 404: %v; want ErrNoAnswer saying 404", err)
	}
}
