package proxy

import (
	"bufio"
	"io"
	"sync"
)

// streamBufSize is the read buffer of an upstream stream: most events fit
// in it, so they are read without being assembled from fragments.
const streamBufSize = 64 << 10

// streamReaders recycles the read buffers of upstream streams: a new
// 64 KiB reader per stream, allocated and zeroed, was most of a stream's
// memory (65 of 89 KB per request in BenchmarkHandlerGenerate/stream).
// A reader is Reset onto the stream's body when taken and onto nil when
// given back, so nothing of one stream can be read in another.
var streamReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, streamBufSize) }}

// getStreamReader returns a pooled reader over body; give it back with
// putStreamReader when the stream is done with it.
func getStreamReader(body io.Reader) *bufio.Reader {
	br := streamReaders.Get().(*bufio.Reader)
	br.Reset(body)
	return br
}

func putStreamReader(br *bufio.Reader) {
	br.Reset(nil) // drop what is buffered and the body
	streamReaders.Put(br)
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
