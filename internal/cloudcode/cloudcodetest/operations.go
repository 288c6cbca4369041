package cloudcodetest

import (
	"fmt"
	"net/http"
	"strings"
)

// operationPolls is how many GETs of an onboarding operation answer "not
// done" before it is: one, so a client must poll as Gemini CLI does.
const operationPolls = 1

// operation is a long-running onboardUser, owned by the account that
// started it.
type operation struct {
	name  string
	owner *account
	polls int
}

// isOperationPath reports whether a v1internal path names an operation.
func isOperationPath(rpc string) bool { return strings.HasPrefix(rpc, "operations/") }

// serveOperations answers onboardUser with a long-running operation and a
// GET of v1internal/operations/<name> with its state, and reports whether
// rpc was one of them. As Google does, an operation is found only by the
// account that started it, and "done" is left out while it is false.
func (s *Server) serveOperations(w http.ResponseWriter, a *account, rpc string) bool {
	switch {
	case rpc == "onboardUser":
		s.inject.mu.Lock()
		s.inject.nextOp++
		op := &operation{name: fmt.Sprintf("operations/onboard-%d", s.inject.nextOp), owner: a}
		s.inject.ops[op.name] = op
		s.inject.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"name": op.name})
		return true
	case isOperationPath(rpc):
		s.inject.mu.Lock()
		op := s.inject.ops[rpc]
		done := false
		if op != nil && op.owner == a {
			op.polls++
			done = op.polls > operationPolls
		}
		s.inject.mu.Unlock()
		if op == nil || op.owner != a {
			writeGoogleError(w, http.StatusNotFound, "NOT_FOUND", "Requested entity was not found.")
			return true
		}
		if !done {
			writeJSON(w, http.StatusOK, map[string]any{"name": op.name})
			return true
		}
		writeJSON(w, http.StatusOK, map[string]any{"name": op.name, "done": true, "response": map[string]any{
			"@type":                   "type.googleapis.com/google.internal.cloud.code.v1internal.OnboardUserResponse",
			"cloudaicompanionProject": map[string]string{"id": a.project, "name": a.project},
		}})
		return true
	}
	return false
}
