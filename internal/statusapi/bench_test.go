package statusapi

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkAsk is `quotatui status`'s question to a running instance, less
// the process start: find the sockets, connect, get the answer of a real
// engine synced against the simulator, decode it. One op is one question:
// the whole answer decoded, the text of --json or of the table as the
// instance writes it, or the line (--line).
//
//	go test -run '^$' -bench Ask -benchmem ./internal/statusapi
func BenchmarkAsk(b *testing.B) {
	for _, n := range []int{12, 1000} {
		b.Run(fmt.Sprintf("accounts=%d", n), func(b *testing.B) {
			p := newPool(b, n)
			dir := shortDir(b)
			serve(b, dir, p.db, p.q, "serve")
			ctx := context.Background()
			b.Run("answer", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					a, err := Ask(ctx, dir, p.db)
					if err != nil || len(a.Accounts) != n {
						b.Fatalf("Ask: %v", err)
					}
				}
			})
			for _, res := range []string{JSONPath, TablePath} {
				// status --json and status: the instance writes the text.
				b.Run(map[string]string{JSONPath: "json", TablePath: "table"}[res], func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						p, err := AskPrinted(ctx, dir, p.db, res)
						if err != nil || p.Summary.Accounts != n {
							b.Fatalf("AskPrinted: %v", err)
						}
					}
				})
			}
			b.Run("line", func(b *testing.B) { // status --line
				b.ReportAllocs()
				for b.Loop() {
					l, err := AskLine(ctx, dir, p.db)
					if err != nil || l.Accounts != n {
						b.Fatalf("AskLine: %v", err)
					}
				}
			})
		})
	}
}

// BenchmarkLine is the client's work after the answer for --line.
func BenchmarkLine(b *testing.B) {
	p := newPool(b, 1000)
	a := Build(p.q, testJudge, nil, p.q.GetAllQuotas()[0].At)
	tmpl, err := ParseFormat(LineOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var sink discard
	for b.Loop() {
		if err := WriteLine(&sink, tmpl, LineOf(a)); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
