package frontend

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxNameLen is Google's limit on a function name.
const maxNameLen = 64

// Names maps the clients' tool names to the names sent upstream and back.
// Google wants [A-Za-z0-9_.:-], a letter or underscore first, at most 64
// characters; MCP tools such as mcp__server__a_long_tool_name break that.
// The map is built from the request alone, so it is the same on every turn.
type Names struct {
	up   map[string]string // client -> upstream
	down map[string]string // upstream -> client
}

// NewNames returns an empty map (its maps are made at the first name: a
// request without tools has none).
func NewNames() *Names { return &Names{} }

// Upstream returns the upstream name for a client name, adding it to the
// map. Two client names never share an upstream name.
func (n *Names) Upstream(name string) string {
	if s, ok := n.up[name]; ok {
		return s
	}
	s := SanitizeName(name)
	if prev, taken := n.down[s]; taken && prev != name {
		s = hashed(s, name)
	}
	if n.up == nil {
		n.up, n.down = map[string]string{}, map[string]string{}
	}
	n.up[name], n.down[s] = s, name
	return s
}

// Client returns the client's name for an upstream name; a name the map
// never saw comes back unchanged.
func (n *Names) Client(upstream string) string {
	if c, ok := n.down[upstream]; ok {
		return c
	}
	return upstream
}

// SanitizeName makes a tool name Google accepts. Valid names are kept.
func SanitizeName(name string) string {
	if validName(name) {
		return name
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == ':', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if s == "" || !(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')) {
		s = "_" + s
	}
	if len(s) > maxNameLen {
		return hashed(s, name)
	}
	return s
}

// validName reports a name SanitizeName keeps as it is.
func validName(name string) bool {
	if name == "" || len(name) > maxNameLen {
		return false
	}
	if c := name[0]; !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		return false
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// hashed shortens s and appends a hash of the original name, so distinct
// names stay distinct.
func hashed(s, original string) string {
	sum := sha256.Sum256([]byte(original))
	suffix := "_" + hex.EncodeToString(sum[:4])
	if len(s) > maxNameLen-len(suffix) {
		s = s[:maxNameLen-len(suffix)]
	}
	return s + suffix
}

// SanitizeID makes a tool-call id fit Anthropic's ^[a-zA-Z0-9_-]+$ (also
// fine for Google): other characters become '_'.
func SanitizeID(id string) string {
	ok := true
	for i := 0; i < len(id); i++ {
		if !idByte(id[i]) {
			ok = false
			break
		}
	}
	if ok {
		return id
	}
	b := []byte(id)
	for i := range b {
		if !idByte(b[i]) {
			b[i] = '_'
		}
	}
	return string(b)
}

func idByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
