package proxy

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// deadline cancels an upstream call that misses a time limit (its first
// byte, or the next stream event) with a *cloudcode.TimeoutError as the
// cause. It does what time.AfterFunc with a closure over the call's cancel
// did, without the timer and the closure per call: deadlines are pooled,
// each with one timer made once. One that fired, or may be firing, is
// never used again: its timer's func may still be about to run with the
// call it was armed for, so it is left to the garbage collector.
type deadline struct {
	t *time.Timer // runs fire; made once

	mu     sync.Mutex // fire against arm: fire runs on the timer's goroutine
	cancel context.CancelCauseFunc
	stage  string
	after  time.Duration

	armed bool // the timer is set (the call's goroutine only)
	spent bool // the timer fired or may fire: not pooled again
}

var deadlines = sync.Pool{New: func() any {
	d := &deadline{}
	d.t = time.AfterFunc(math.MaxInt64, d.fire)
	d.t.Stop()
	return d
}}

// startDeadline cancels the call with cancel after after, as missing
// stage, unless stopped first. Give it back with done.
func startDeadline(cancel context.CancelCauseFunc, stage string, after time.Duration) *deadline {
	d := deadlines.Get().(*deadline)
	d.mu.Lock()
	d.cancel, d.stage, d.after = cancel, stage, after
	d.mu.Unlock()
	d.armed = true
	d.t.Reset(after)
	return d
}

func (d *deadline) fire() {
	d.mu.Lock()
	cancel, stage, after := d.cancel, d.stage, d.after
	d.mu.Unlock()
	if cancel != nil {
		cancel(&cloudcode.TimeoutError{Stage: stage, After: after})
	}
}

// reset sets the limit to after from now again, as time.Timer.Reset: a
// deadline that already fired fires again (the call is cancelled already).
func (d *deadline) reset(after time.Duration) {
	if !d.t.Reset(after) {
		d.spent = true // it had fired: its func may be running
	}
	d.armed = true
}

// stop stops the deadline; a call it already cancelled stays cancelled.
// It is safe to call more than once.
func (d *deadline) stop() {
	if d.armed {
		d.armed = false
		if !d.t.Stop() {
			d.spent = true // fired: its func has started
		}
	}
}

// done stops the deadline and gives it back to the pool unless it fired.
func (d *deadline) done() {
	d.stop()
	if d.spent {
		return
	}
	d.mu.Lock()
	d.cancel = nil // nothing of the call is kept
	d.mu.Unlock()
	deadlines.Put(d)
}
