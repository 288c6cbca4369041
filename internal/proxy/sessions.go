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
	"github.com/quotatui/quotatui/internal/rawjson"
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
// and the model family. request is a JSON object the caller has checked
// is valid; anything else gives "".
//
// It reads only those members (rawjson), as decoding the request into a
// struct would (keys matched without regard to case, the last one of a
// key winning, a value of the wrong type giving ""), without decoding the
// rest: a Gemini CLI turn carries its whole history and system prompt.
func SessionFromBody(request json.RawMessage, model string) string {
	var buf [16]rawjson.Member
	ms, ok := rawjson.Members(buf[:0], request)
	if !ok {
		return ""
	}
	var id, idSnake string
	var contents []byte
	for _, m := range ms {
		v := request[m.Value:m.End]
		switch {
		case m.Fold("sessionId"):
			if json.Unmarshal(v, &id) != nil {
				return ""
			}
		case m.Fold("session_id"):
			if json.Unmarshal(v, &idSnake) != nil {
				return ""
			}
		case m.Fold("contents"):
			contents = v
		}
	}
	if id := cmp.Or(id, idSnake); id != "" {
		return id
	}
	if contents == nil || rawjson.IsNull(contents) {
		return ""
	}
	key := ""
	rawjson.Elements(contents, func(elem []byte) bool {
		var c struct {
			Role  string `json:"role"`
			Parts []struct {
				Text string `json:"text"`
			} `json:"parts"`
		}
		if role, ok := rawjson.Field(elem, "role"); ok && !rawjson.IsNull(role) {
			if json.Unmarshal(role, &c.Role) != nil {
				return false
			}
			if c.Role != "" && c.Role != "user" {
				return true // a model turn: the first user message is further on
			}
		}
		if json.Unmarshal(elem, &c) != nil {
			return false
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
		if text {
			key = "h:" + hex.EncodeToString(h.Sum(nil)[:12])
		}
		return false
	})
	return key
}
