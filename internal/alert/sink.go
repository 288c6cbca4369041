package alert

import (
	"context"
	"errors"
)

// Sink delivers alerts to one place. The dispatcher calls Send from one
// goroutine per sink, one alert at a time, under a context that ends when
// the service stops; Send bounds each attempt by its own timeout.
type Sink interface {
	// Name says which sink this is in logs and in `quotatui alerts test`
	// ("desktop", "webhook ntfy.sh", "command"). It never holds a secret.
	Name() string
	// Send delivers e once. An error wrapped by Permanent is not retried.
	Send(ctx context.Context, e Event) error
}

// Route is one sink with the alert kinds it wants.
type Route struct {
	Sink   Sink
	Filter Filter
}

// PermanentError is a failure that retrying cannot fix: the webhook
// answered 400 or 404, there is no desktop notification service. The
// dispatcher drops the alert at once instead of retrying it.
type PermanentError struct{ Err error }

// Error returns the wrapped error's text.
func (e *PermanentError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a PermanentError (nil stays nil).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err is, or wraps, a PermanentError.
func IsPermanent(err error) bool {
	var pe *PermanentError
	return errors.As(err, &pe)
}
