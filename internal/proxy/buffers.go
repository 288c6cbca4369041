package proxy

import (
	"bufio"
	"io"
	"sync"
)

// streamBufSize is the read buffer of an upstream stream: most events fit
// in it, so they are read without being assembled from fragments.
const streamBufSize = 64 << 10

// streamReaders recycles the readers of upstream streams: a new 64 KiB
// bufio.Reader per stream, allocated and zeroed, was most of a stream's
// memory (65 of 89 KB per request in BenchmarkHandlerGenerate/stream),
// and the event buffer that grew per stream an allocation more. A reader
// is Reset onto the stream's body when taken and onto nil when given back,
// and its event buffers are emptied, so nothing of one stream can be read
// in another.
var streamReaders = sync.Pool{New: func() any { return &eventReader{br: bufio.NewReaderSize(nil, streamBufSize)} }}

// getEventReader returns a pooled event reader over body, taking events
// of up to max bytes; give it back with putEventReader when the stream is
// done with it.
func getEventReader(body io.Reader, max int) *eventReader {
	r := streamReaders.Get().(*eventReader)
	r.br.Reset(body)
	r.max = max
	return r
}

func putEventReader(r *eventReader) {
	r.br.Reset(nil) // drop what is buffered and the body
	// Keep buffers of a usual size; one that grew for a huge event goes.
	r.line, r.data = keepSmall(r.line[:0]), keepSmall(r.data[:0])
	streamReaders.Put(r)
}

func keepSmall(b []byte) []byte {
	if cap(b) > streamBufSize {
		return nil
	}
	return b
}

// readBody reads r to its end as io.ReadAll does, starting with room for
// size bytes when the size is known (a Content-Length up to max): one
// allocation instead of ReadAll's doubling series from 512 bytes, which
// for a 40 KB Gemini CLI turn was eight allocations and as many copies. A
// wrong size only costs growth: the reading is the same.
func readBody(r io.Reader, size, max int64) ([]byte, error) {
	return readUpTo(r, size, max, -1)
}

// readUpTo is readBody reading at most limit bytes (limit < 0: no limit),
// as through io.LimitReader, which cost an allocation per answer.
func readUpTo(r io.Reader, size, max, limit int64) ([]byte, error) {
	n := int64(512) // io.ReadAll's first buffer
	if size > 0 && size <= max {
		n = size + 1 // +1: the read that finds EOF needs no growth
	}
	if limit >= 0 {
		n = min(n, limit)
	}
	b := make([]byte, 0, n)
	for {
		if limit >= 0 && int64(len(b)) >= limit {
			return b, nil
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		p := b[len(b):cap(b)]
		if limit >= 0 && int64(len(p)) > limit-int64(len(b)) {
			p = p[:limit-int64(len(b))]
		}
		n, err := r.Read(p)
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
	}
}
