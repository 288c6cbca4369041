package frontend

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
)

// HashSession returns a session key from texts that identify a
// conversation (its system prompt and first user message), or "" when
// they are all empty.
func HashSession(texts ...string) string {
	h := sha256.New()
	any := false
	for _, t := range texts {
		if strings.TrimSpace(t) == "" {
			continue
		}
		h.Write([]byte(t))
		h.Write([]byte{0})
		any = true
	}
	if !any {
		return ""
	}
	return "h:" + hex.EncodeToString(h.Sum(nil)[:12])
}

// UpstreamSessionID derives the request's sessionId from the session key
// the way Antigravity spells it ("-<digits>"), stable across turns.
func UpstreamSessionID(session string) string {
	if session == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(session))
	n := binary.BigEndian.Uint64(sum[:8]) >> 1
	return "-" + uitoa(n)
}

func uitoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// IsReminder reports a Claude Code system-reminder block, which is not
// what identifies a conversation.
func IsReminder(text string) bool {
	return strings.HasPrefix(strings.TrimSpace(text), "<system-reminder>")
}

// BillingHeader reports Claude Code's attribution block, which changes
// per version and must not reach the upstream or the session hash.
func BillingHeader(text string) bool {
	return strings.HasPrefix(strings.TrimSpace(text), "x-anthropic-billing-header:")
}
