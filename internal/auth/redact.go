package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// Redacted replaces secrets in text.
const Redacted = "[REDACTED]"

// The patterns are applied in order. Keyed forms come first so that the
// key stays readable ("refresh_token":"[REDACTED]") and the bare-token
// patterns then catch tokens that appear without a key.
var redactions = []struct {
	re   *regexp.Regexp
	repl string
}{
	// JSON members: "access_token": "...", also id_token, client_secret, code.
	{regexp.MustCompile(`("(?:access_token|refresh_token|id_token|client_secret|code|token)"\s*:\s*)"(?:[^"\\]|\\.)*"`), `${1}"` + Redacted + `"`},
	// Form and query parameters: refresh_token=...&.
	{regexp.MustCompile(`\b((?:access_token|refresh_token|id_token|client_secret|code)=)[^&\s"']+`), "${1}" + Redacted},
	// Authorization headers.
	{regexp.MustCompile(`(?i)\b(bearer\s+)[A-Za-z0-9._~+/=\-]+`), "${1}" + Redacted},
	// Google access tokens.
	{regexp.MustCompile(`ya29\.[A-Za-z0-9._\-]+`), Redacted},
	// Google refresh tokens.
	{regexp.MustCompile(`1//[A-Za-z0-9._\-]+`), Redacted},
	// Authorization codes.
	{regexp.MustCompile(`\b4/[0-9A-Za-z._\-]{10,}`), Redacted},
	// JWTs (id tokens).
	{regexp.MustCompile(`eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*`), Redacted},
	// Any other long base64url run: nothing quotatui prints legitimately
	// looks like this, and an unknown token format must not slip through.
	{regexp.MustCompile(`[A-Za-z0-9_\-]{40,}`), Redacted},
}

// Redact returns s with anything that looks like an OAuth token replaced by
// [REDACTED]: Google access tokens (ya29.…), refresh tokens (1//…), bearer
// headers, token members of JSON bodies and form parameters, JWTs, and long
// base64url runs. Every error built from upstream text goes through it.
func Redact(s string) string {
	// OAuth client ids are public and name the client an error is about
	// ("configure client 1071...-abc.apps.googleusercontent.com"): the
	// long-run rule would hide them, so the text between them is redacted
	// and they are kept.
	ids := clientIDRE.FindAllStringIndex(s, -1)
	if len(ids) == 0 {
		return redact(s)
	}
	var b strings.Builder
	last := 0
	for _, span := range ids {
		b.WriteString(redact(s[last:span[0]]))
		b.WriteString(s[span[0]:span[1]])
		last = span[1]
	}
	b.WriteString(redact(s[last:]))
	return b.String()
}

// clientIDRE matches a Google OAuth client id.
var clientIDRE = regexp.MustCompile(`\b[0-9]+-[0-9a-z]+\.apps\.googleusercontent\.com\b`)

// redact applies the redactions to s.
func redact(s string) string {
	for _, r := range redactions {
		s = r.re.ReplaceAllString(s, r.repl)
	}
	return s
}

// RedactToken returns a short fingerprint of tok that identifies it
// without revealing it: the first 8 hex digits of its SHA-256.
func RedactToken(tok string) string {
	if tok == "" {
		return "(none)"
	}
	sum := sha256.Sum256([]byte(tok))
	return "sha256:" + hex.EncodeToString(sum[:4])
}

// redactedError wraps an error so its text is redacted while errors.Is and
// errors.As still see the original.
type redactedError struct{ err error }

func (e redactedError) Error() string { return Redact(e.err.Error()) }
func (e redactedError) Unwrap() error { return e.err }

// redactErr returns err with its text redacted (nil stays nil).
func redactErr(err error) error {
	if err == nil {
		return nil
	}
	return redactedError{err}
}

// NewRedactingHandler wraps h so that every message and every string,
// error and Stringer attribute passes through Redact before h sees it.
func NewRedactingHandler(h slog.Handler) slog.Handler {
	return redactingHandler{h}
}

type redactingHandler struct{ h slog.Handler }

func (r redactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return r.h.Enabled(ctx, l)
}

func (r redactingHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, Redact(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return r.h.Handle(ctx, out)
}

func (r redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = redactAttr(a)
	}
	return redactingHandler{r.h.WithAttrs(red)}
}

func (r redactingHandler) WithGroup(name string) slog.Handler {
	return redactingHandler{r.h.WithGroup(name)}
}

// redactAttr redacts a's value. Values that render as text (strings,
// errors, Stringers, anything else of kind Any) become redacted strings;
// numbers, times and the like cannot hold a token and pass unchanged.
func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Redact(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]slog.Attr, len(g))
		for i, ga := range g {
			red[i] = redactAttr(ga)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(red...)}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, Redact(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, Redact(x.String()))
		default:
			return slog.String(a.Key, Redact(fmt.Sprintf("%+v", x)))
		}
	default:
		return slog.Attr{Key: a.Key, Value: v}
	}
}
