package proxy

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// affinityPrefix starts the session keys that keep a client's quota-free
// calls on one account (by the project it names, else by its credential):
// they are not conversations.
const affinityPrefix = "quota-free:"

// binding ties a session to an account for one model family.
type binding struct {
	account  int64
	lastUsed time.Time
}

// sessions binds conversations to accounts: a session keeps its account
// until it has been idle for longer than idle.
type sessions struct {
	idle time.Duration

	mu        sync.Mutex
	bindings  map[string]*binding // session + "\x00" + family
	lastSweep time.Time
}

func newSessions(idle time.Duration) *sessions {
	return &sessions{idle: idle, bindings: map[string]*binding{}}
}

func sessionKey(session string, f cloudcode.Family) string {
	if session == "" {
		return ""
	}
	return session + "\x00" + f.String()
}

// bound returns the session's live binding (0 when none or expired).
func (s *sessions) bound(key string, now time.Time) int64 {
	if key == "" {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.bindings[key]
	if !ok {
		return 0
	}
	if now.Sub(b.lastUsed) > s.idle {
		delete(s.bindings, key)
		return 0
	}
	return b.account
}

func (s *sessions) bind(key string, account int64, now time.Time) {
	if key == "" {
		return
	}
	s.mu.Lock()
	s.bindings[key] = &binding{account: account, lastUsed: now}
	if now.Sub(s.lastSweep) > time.Minute {
		s.sweepLocked(now)
	}
	s.mu.Unlock()
}

// sweep drops bindings idle for longer than the idle time.
func (s *sessions) sweep(now time.Time) {
	s.mu.Lock()
	s.sweepLocked(now)
	s.mu.Unlock()
}

func (s *sessions) sweepLocked(now time.Time) {
	s.lastSweep = now
	for k, b := range s.bindings {
		if now.Sub(b.lastUsed) > s.idle {
			delete(s.bindings, k)
		}
	}
}

// active counts the conversations with a live binding.
func (s *sessions) active(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, b := range s.bindings {
		if strings.HasPrefix(k, affinityPrefix) {
			continue // a client's passthrough calls, not a conversation
		}
		if now.Sub(b.lastUsed) <= s.idle {
			n++
		}
	}
	return n
}

// affinityKey keeps a client's quota-free calls together when they name
// no project a pool account owns (its first loadCodeAssist, its GETs): by
// a hash of its credential, which itself is never kept.
func affinityKey(auth string) string {
	if auth == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(auth))
	return affinityPrefix + hex.EncodeToString(sum[:8])
}

// SessionFromBody derives a session key from a generation request when
// the client sent no x-session-id: the request's sessionId (session_id
// as Gemini CLI spells it), else a hash of the first user message's text
// and the model family.
func SessionFromBody(request json.RawMessage, model string) string {
	var r struct {
		SessionID string `json:"sessionId"`
		// Gemini CLI's id: without it, every CLI conversation started in
		// one folder on one day hashes alike (its first user message is
		// a generated context block) and would share one binding.
		SessionIDSnake string `json:"session_id"`
		Contents       []struct {
			Role  string `json:"role"`
			Parts []struct {
				Text string `json:"text"`
			} `json:"parts"`
		} `json:"contents"`
	}
	if len(request) == 0 || json.Unmarshal(request, &r) != nil {
		return ""
	}
	if id := cmp.Or(r.SessionID, r.SessionIDSnake); id != "" {
		return id
	}
	for _, c := range r.Contents {
		if c.Role != "" && c.Role != "user" {
			continue
		}
		h := sha256.New()
		h.Write([]byte(cloudcode.ModelFamily(model).String()))
		text := false
		for _, p := range c.Parts {
			if p.Text != "" {
				h.Write([]byte{0})
				h.Write([]byte(p.Text))
				text = true
			}
		}
		if !text {
			return ""
		}
		return "h:" + hex.EncodeToString(h.Sum(nil)[:12])
	}
	return ""
}
