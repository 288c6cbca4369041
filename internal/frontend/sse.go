package frontend

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxEventSize bounds one upstream SSE event: answers carry base64 images
// of many MiB, so Go's 64 KiB scanner default would break them.
const MaxEventSize = 64 << 20

// EventReader reads the data payloads of a v1internal SSE stream.
type EventReader struct {
	r   *bufio.Reader
	buf []byte
}

// NewEventReader reads events from r.
func NewEventReader(r io.Reader) *EventReader {
	return &EventReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// ErrEventTooLarge says an event passed MaxEventSize.
var ErrEventTooLarge = fmt.Errorf("upstream SSE event larger than %d bytes", MaxEventSize)

// Next returns the next event's data (data lines joined by "\n"),
// skipping comments and events without data. It returns io.EOF at the end
// of the body. The slice is valid until the next call.
func (e *EventReader) Next() ([]byte, error) {
	e.buf = e.buf[:0]
	found := false
	for {
		line, err := e.readLine()
		if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
			if errors.Is(err, io.EOF) && found {
				return e.buf, nil
			}
			return nil, err
		}
		if len(line) == 0 {
			if found {
				return e.buf, nil
			}
			continue
		}
		if d, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			d = bytes.TrimPrefix(d, []byte(" "))
			if found {
				e.buf = append(e.buf, '\n')
			}
			if len(e.buf)+len(d) > MaxEventSize {
				return nil, ErrEventTooLarge
			}
			e.buf = append(e.buf, d...)
			found = true
		}
		if errors.Is(err, io.EOF) {
			if found {
				return e.buf, nil
			}
			return nil, io.EOF
		}
	}
}

// readLine returns one line without its line ending, however long (up to
// MaxEventSize).
func (e *EventReader) readLine() ([]byte, error) {
	line, err := e.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		long := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = e.r.ReadSlice('\n')
			long = append(long, line...)
			if len(long) > MaxEventSize {
				return nil, ErrEventTooLarge
			}
		}
		line = long
	}
	return bytes.TrimRight(line, "\r\n"), err
}
