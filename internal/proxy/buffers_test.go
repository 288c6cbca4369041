package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// TestStreamBuffersAreNotShared runs streams at once and one after
// another, each with its own content in events longer than a pooled
// read buffer, shorter, and in between: every client must get exactly its
// own stream's bytes. It catches a pooled reader or a reused event buffer
// that is given back while still in use, or not emptied before the next
// stream or event (the race detector catches the first, the comparison
// the others).
func TestStreamBuffersAreNotShared(t *testing.T) {
	id := regexp.MustCompile(`client-\d+-\d+`)
	events := func(who string) []string {
		long := strings.Repeat(who+" ", (streamBufSize*3/2)/(len(who)+1)) // over one read buffer
		return []string{
			fmt.Sprintf(`{"response":{"candidates":[{"content":{"role":"model","parts":[{"text":%q}]}}]}}`, long),
			fmt.Sprintf(`{"response":{"candidates":[{"content":{"role":"model","parts":[{"text":%q}]}}]}}`, who),
			fmt.Sprintf(`{"response":{"candidates":[{"content":{"role":"model","parts":[{"text":%q}]}}]}}`, strings.Repeat(who, 40)),
		}
	}
	h := newHarness(t, 2, NewOptions(), func(ctx context.Context, n int, r cloudcode.Request) (*http.Response, error) {
		return sseBody(events(id.FindString(string(r.Body)))...), nil
	})
	stream := func(who string) error {
		req, _ := http.NewRequest(http.MethodPost, h.ts.URL+"/v1internal:streamGenerateContent?alt=sse", strings.NewReader(genBody("gemini-3-flash", who)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := h.ts.Client().Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		if err != nil {
			return fmt.Errorf("%s: %w", who, err)
		}
		var want strings.Builder
		for _, e := range events(who) {
			want.WriteString("data: " + e + "\r\n\r\n")
		}
		if string(got) != want.String() {
			return fmt.Errorf("%s got %d bytes, want %d; other clients' bytes in it: %q", who, len(got), want.Len(), otherIDs(id, string(got), who))
		}
		return nil
	}
	for round := range 4 {
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for c := range 6 {
			wg.Go(func() { errs <- stream(fmt.Sprintf("client-%d-%d", round, c)) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	}
}

func otherIDs(id *regexp.Regexp, s, who string) []string {
	var other []string
	for _, m := range id.FindAllString(s, -1) {
		if m != who && len(other) < 3 {
			other = append(other, m)
		}
	}
	return other
}

// TestGoogleWriterEventsReuseNoBytes writes events of falling length
// through one writer, as Google's shape and as an array: each goes out
// exactly, with nothing left from the longer one before it.
func TestGoogleWriterEventsReuseNoBytes(t *testing.T) {
	evs := []string{`{"a":"` + strings.Repeat("x", 300) + `"}`, `{"b":1}`, `{"response":{"c":2}}`}
	for _, tt := range []struct {
		name string
		g    *googleWriter
		want string
	}{
		{"sse", &googleWriter{}, "data: " + evs[0] + "\r\n\r\ndata: " + evs[1] + "\r\n\r\ndata: " + evs[2] + "\r\n\r\n"},
		{"gemini sse", &googleWriter{unwrap: true}, "data: " + evs[0] + "\r\n\r\ndata: " + evs[1] + "\r\n\r\ndata: {\"c\":2}\r\n\r\n"},
		{"array", &googleWriter{array: true}, "[" + evs[0] + ",\r\n" + evs[1] + ",\r\n" + evs[2] + "]\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			for _, e := range evs {
				if err := tt.g.WriteEvent(w, []byte(e)); err != nil {
					t.Fatal(err)
				}
			}
			if err := tt.g.EndStream(w); err != nil {
				t.Fatal(err)
			}
			if got := w.Body.String(); got != tt.want {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestReadBody reads as io.ReadAll does whatever size it is told: the
// right one, a smaller or larger one, none, over the bound, with EOF
// together with the last bytes, and a read error after some.
func TestReadBody(t *testing.T) {
	body := strings.Repeat("0123456789", 1000)
	broken := errors.New("connection reset")
	for _, tt := range []struct {
		name string
		r    io.Reader
		size int64
		want string
		err  error
	}{
		{"exact", strings.NewReader(body), int64(len(body)), body, nil},
		{"smaller", strings.NewReader(body), 10, body, nil},
		{"larger", strings.NewReader(body), int64(len(body)) * 3, body, nil},
		{"unknown", strings.NewReader(body), -1, body, nil},
		{"over the bound", strings.NewReader(body), 1 << 40, body, nil},
		{"empty", strings.NewReader(""), 0, "", nil},
		{"data with EOF", iotest.DataErrReader(strings.NewReader(body)), int64(len(body)), body, nil},
		{"one byte at a time", iotest.OneByteReader(strings.NewReader(body)), int64(len(body)), body, nil},
		{"error", io.MultiReader(strings.NewReader(body[:100]), iotest.ErrReader(broken)), int64(len(body)), body[:100], broken},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readBody(tt.r, tt.size, 1<<20)
			if !errors.Is(err, tt.err) || string(got) != tt.want {
				t.Errorf("got %d bytes, err %v; want %d bytes, err %v", len(got), err, len(tt.want), tt.err)
			}
		})
	}
}

// TestReadUpTo reads what io.ReadAll(io.LimitReader(r, limit)) reads, and
// leaves the rest unread.
func TestReadUpTo(t *testing.T) {
	body := strings.Repeat("0123456789", 1000)
	for _, limit := range []int64{0, 1, 511, 512, 513, 4096, int64(len(body)) - 1, int64(len(body)), int64(len(body)) + 1} {
		for _, size := range []int64{-1, 0, 10, limit, int64(len(body)), 1 << 40} {
			for name, wrap := range map[string]func(io.Reader) io.Reader{
				"plain": func(r io.Reader) io.Reader { return r }, "one byte": iotest.OneByteReader, "data with EOF": iotest.DataErrReader,
			} {
				want, _ := io.ReadAll(io.LimitReader(strings.NewReader(body), limit))
				r := strings.NewReader(body)
				got, err := readUpTo(wrap(r), size, 1<<20, limit)
				if err != nil || string(got) != string(want) {
					t.Errorf("limit %d, size %d, %s: got %d bytes, err %v; want %d", limit, size, name, len(got), err, len(want))
				}
				if rest := r.Len(); rest != len(body)-len(want) && name != "data with EOF" {
					t.Errorf("limit %d, size %d, %s: %d bytes left unread, want %d", limit, size, name, rest, len(body)-len(want))
				}
			}
		}
	}
}
