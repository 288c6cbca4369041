package cloudcode_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind, such
// as a response body the client forgot to close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
