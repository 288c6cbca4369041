package proxy

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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

// appendSessionKey appends the session's binding key for family f to dst
// (session + "\x00" + family; nothing for no session). The proxy builds it
// in a buffer on the stack, and the in-memory bindings look it up without
// making it a string (a concatenation per request).
func appendSessionKey(dst []byte, session string, f cloudcode.Family) []byte {
	if session == "" {
		return dst
	}
	return append(append(append(dst, session...), 0), f.String()...)
}

// bound returns the session's live binding (0 when none or expired).
func (s *sessions) bound(key string, now time.Time) int64 {
	return s.boundBytes([]byte(key), now)
}

// boundBytes is bound for a key in bytes.
func (s *sessions) boundBytes(key []byte, now time.Time) int64 {
	if len(key) == 0 {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.bindings[string(key)]
	if !ok {
		return 0
	}
	if now.Sub(b.lastUsed) > s.idle {
		delete(s.bindings, string(key))
		return 0
	}
	return b.account
}

func (s *sessions) bind(key string, account int64, now time.Time) {
	s.bindBytes([]byte(key), account, now)
}

// bindBytes is bind for a key in bytes; it makes the key a string only
// for a new binding.
func (s *sessions) bindBytes(key []byte, account int64, now time.Time) {
	if len(key) == 0 {
		return
	}
	s.mu.Lock()
	if b, ok := s.bindings[string(key)]; ok {
		b.account, b.lastUsed = account, now // no new binding per request
	} else {
		s.bindings[string(key)] = &binding{account: account, lastUsed: now}
	}
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
			if id, ok = decodeString(v, id); !ok {
				return ""
			}
		case m.Fold("session_id"):
			if idSnake, ok = decodeString(v, idSnake); !ok {
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
		if raw, ok := rawjson.Field(elem, "role"); ok && !rawjson.IsNull(raw) {
			role, ok := decodeString(raw, "")
			if !ok {
				return false
			}
			if role != "" && role != "user" {
				return true // a model turn: the first user message is further on
			}
		}
		h := sha256.New()
		h.Write([]byte(cloudcode.ModelFamily(model).String()))
		text := false
		add := func(t []byte) {
			if len(t) > 0 {
				h.Write([]byte{0})
				h.Write(t)
				text = true
			}
		}
		if parts, ok := plainParts(elem); ok {
			// The common shape, read in place (decoding it cost a
			// dozen allocations per request).
			rawjson.Elements(parts, func(p []byte) bool {
				if t, ok := rawjson.Field(p, "text"); ok && !rawjson.IsNull(t) {
					add(t[1 : len(t)-1])
				}
				return true
			})
		} else {
			var c struct {
				Role  string `json:"role"`
				Parts []struct {
					Text string `json:"text"`
				} `json:"parts"`
			}
			if json.Unmarshal(elem, &c) != nil {
				return false
			}
			for _, p := range c.Parts {
				add([]byte(p.Text))
			}
		}
		if text {
			// One allocation, the key itself (hex.EncodeToString and
			// the concatenation took three).
			var sum [sha256.Size]byte
			var out [2 + 24]byte
			copy(out[:], "h:")
			hex.Encode(out[2:], h.Sum(sum[:0])[:12])
			key = string(out[:])
		}
		return false
	})
	return key
}

// decodeString decodes a JSON string value as encoding/json does into a
// string that holds old: null leaves old; ok is false for any other type.
// A plain string (no escapes, UTF-8) is its bytes, without decoding.
func decodeString(v []byte, old string) (string, bool) {
	if plainString(v) {
		return string(v[1 : len(v)-1]), true
	}
	s := old
	if json.Unmarshal(v, &s) != nil {
		return "", false
	}
	return s, true
}

// plainParts returns the "parts" of a content element when the element
// has the plain shape whose texts can be read in place with the meaning
// decoding gives them: an object whose roles are strings or null, with at
// most one parts (null or an array of nulls and objects with at
// most one text each, a string without escapes, in UTF-8, or null). ok is
// false for anything else (repeated keys, escapes, wrong types), which
// the caller decodes.
func plainParts(elem []byte) (parts []byte, ok bool) {
	var buf [8]rawjson.Member
	ms, isObj := rawjson.Members(buf[:0], elem)
	if !isObj {
		return nil, false
	}
	partsSeen := 0
	for _, m := range ms {
		v := elem[m.Value:m.End]
		switch {
		case m.Fold("role"): // each a string or null, or decoding fails
			if !plainString(v) && !rawjson.IsNull(v) {
				return nil, false
			}
		case m.Fold("parts"):
			partsSeen++
			if partsSeen > 1 {
				return nil, false
			}
			parts = v
		}
	}
	if parts == nil || rawjson.IsNull(parts) {
		return nil, true
	}
	plain := true
	wellFormed := rawjson.Elements(parts, func(p []byte) bool {
		plain = plainPart(p)
		return plain
	})
	if !plain || !wellFormed {
		return nil, false
	}
	return parts, true
}

// plainPart reports whether a part is null or an object with at most one
// text, a plain string or null.
func plainPart(p []byte) bool {
	if rawjson.IsNull(p) {
		return true
	}
	var buf [4]rawjson.Member
	ms, isObj := rawjson.Members(buf[:0], p)
	if !isObj {
		return false
	}
	texts := 0
	for _, m := range ms {
		if m.Fold("text") {
			texts++
			if v := p[m.Value:m.End]; texts > 1 || !plainString(v) && !rawjson.IsNull(v) {
				return false
			}
		}
	}
	return true
}

// plainString reports whether v is a JSON string whose bytes between the
// quotes are its value: no escapes, valid UTF-8 (encoding/json replaces
// invalid bytes).
func plainString(v []byte) bool {
	return len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' &&
		bytes.IndexByte(v[1:len(v)-1], '\\') < 0 && utf8.Valid(v[1:len(v)-1])
}
