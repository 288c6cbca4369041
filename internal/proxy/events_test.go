package proxy

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestEventReader reads events of many MiB (the 64 KiB scanner limit broke
// peers), comments, CRLF line ends, multi-line data and a last event
// without its blank line; an event over the limit is refused.
func TestEventReader(t *testing.T) {
	big := strings.Repeat("A", 5<<20)
	in := ": keep-alive\n\ndata: {\"a\":1}\r\n\r\ndata: {\"b\":\ndata: 2}\n\ndata: \"" + big + "\"\n\nevent: x\ndata: last"
	read := func(max int) ([]string, error) {
		r := &eventReader{br: bufio.NewReaderSize(strings.NewReader(in), 64<<10), max: max}
		var got []string
		for {
			d, err := r.next()
			if errors.Is(err, io.EOF) {
				return got, nil
			}
			if err != nil {
				return got, err
			}
			got = append(got, string(d))
		}
	}
	got, err := read(DefaultMaxEventBytes)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0] != `{"a":1}` || got[1] != "{\"b\":\n2}" || len(got[2]) != len(big)+2 || got[3] != "last" {
		t.Errorf("events: %d, first %q", len(got), got[0])
	}
	if got, err := read(1 << 20); !errors.Is(err, errEventTooLarge) || len(got) != 2 {
		t.Errorf("over the limit: %d events, err %v; want 2 and errEventTooLarge", len(got), err)
	}
}
