package proxy

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// TestDeadlinesAreNotShared checks the pooled deadlines: one stopped in
// time never cancels its call, even once reused for another call; one
// that fired cancels its own call with its own stage and limit, and is not
// pooled again.
func TestDeadlinesAreNotShared(t *testing.T) {
	for round := range 50 {
		ctx1, cancel1 := context.WithCancelCause(context.Background())
		d1 := startDeadline(cancel1, "first byte", time.Hour)
		d1.stop()
		d1.done()

		ctx2, cancel2 := context.WithCancelCause(context.Background())
		d2 := startDeadline(cancel2, "stream event", time.Millisecond)
		<-ctx2.Done()
		var te *cloudcode.TimeoutError
		if !errors.As(context.Cause(ctx2), &te) || te.Stage != "stream event" || te.After != time.Millisecond {
			t.Fatalf("round %d: the call was cancelled with %v", round, context.Cause(ctx2))
		}
		d2.reset(time.Millisecond) // as the stream loop does after an event
		d2.done()
		if !d2.spent {
			t.Fatalf("round %d: a deadline that fired would be pooled", round)
		}

		ctx3, cancel3 := context.WithCancelCause(context.Background())
		d3 := startDeadline(cancel3, "first byte", time.Hour)
		if d3 == d2 {
			t.Fatalf("round %d: the pool gave back a deadline that fired", round)
		}
		if ctx1.Err() != nil || ctx3.Err() != nil {
			t.Fatalf("round %d: a stopped deadline cancelled a call: %v, %v", round, context.Cause(ctx1), context.Cause(ctx3))
		}
		d3.done()
		cancel1(nil)
		cancel2(nil)
		cancel3(nil)
	}
}
