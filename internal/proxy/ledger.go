package proxy

import (
	"bytes"
	"net/http"
	"strings"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/frontend"
	"github.com/quotatui/quotatui/internal/quota"
)

// The proxy's part of the spend ledger (quota/ledger.go): forward, the
// one place every request of every API shape completes, records it once
// with the engine (Quota.Record): the account that served it, the model,
// whether the upstream charged it, whether the client got its answer, and
// the answer's final usageMetadata. The usage is found on the way past:
// a byte search per answer or stream event, and the last usageMetadata
// object kept (a stream's counts grow; the last is final); it is parsed
// once, when the request is over.

// usageKey is how usageMetadata starts in Google's JSON. Inside a string
// its quotes would be escaped, so a match is a member name.
var usageKey = []byte(`"usageMetadata"`)

// usageTap keeps the counts of the last usageMetadata object seen in one
// request's answer, read as each is seen: a stream's events are not kept,
// and copying each span to parse it once at the end cost an allocation,
// parsing it with encoding/json three more.
type usageTap struct {
	seen   bool
	counts quota.Tokens
	ok     bool // the last one seen was usable
}

// see looks for usageMetadata in one answer or stream event.
func (u *usageTap) see(data []byte) {
	if span := usageSpan(data); span != nil {
		u.seen = true
		u.counts, u.ok = parseUsage(span)
	}
}

// tokens returns the last counts seen; ok is false when no answer carried
// usage, or the last that did was not usable.
func (u *usageTap) tokens() (quota.Tokens, bool) {
	if !u.seen || !u.ok {
		return quota.Tokens{}, false
	}
	return u.counts, true
}

// parseUsage reads a usageMetadata object as encoding/json would decode
// it (frontend.ParseUsage: in place on the common shape, by encoding/json
// otherwise, whose error makes the object unusable). A negative count is
// not believed.
func parseUsage(span []byte) (quota.Tokens, bool) {
	u, ok := frontend.ParseUsage(span)
	t := quota.Tokens{Prompt: int64(u.PromptTokenCount), Candidates: int64(u.CandidatesTokenCount),
		Thoughts: int64(u.ThoughtsTokenCount), Cached: int64(u.CachedContentTokenCount), Total: int64(u.TotalTokenCount)}
	if !ok || t.Prompt < 0 || t.Candidates < 0 || t.Thoughts < 0 || t.Cached < 0 || t.Total < 0 {
		return quota.Tokens{}, false
	}
	return t, true
}

// usageSpan returns the object of the last usageMetadata member in data
// (a Gemini answer, wrapped or not), or nil. It reads the bytes only: no
// allocation, no parse.
func usageSpan(data []byte) []byte {
	i := bytes.LastIndex(data, usageKey)
	if i < 0 {
		return nil
	}
	rest := bytes.TrimLeft(data[i+len(usageKey):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return nil
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) == 0 || rest[0] != '{' {
		return nil
	}
	depth, inString, escaped := 0, false, false
	for j, c := range rest {
		switch {
		case escaped:
			escaped = false
		case inString:
			switch c {
			case '\\':
				escaped = true
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				return rest[:j+1]
			}
		}
	}
	return nil
}

// maxClientName bounds a client's name as the ledger keeps it.
const maxClientName = 40

// clientName names the program that sent r for the usage statistics: the
// first product of its User-Agent ("claude-cli", "GeminiCLI",
// "google-genai-sdk", "OpenAI"), else the API it speaks.
func clientName(r *http.Request) string {
	ua := r.Header.Get("User-Agent")
	name := ua
	if i := strings.IndexAny(name, "/ ("); i >= 0 {
		name = name[:i]
	}
	if len(name) > maxClientName {
		name = name[:maxClientName]
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x21 || c > 0x7e {
			name = ""
			break
		}
	}
	if name != "" {
		return name
	}
	switch clientShape(r) {
	case shapeAnthropic:
		return "anthropic"
	case shapeOpenAI:
		return "openai"
	}
	if strings.HasPrefix(r.URL.Path, "/v1internal") {
		return "code-assist"
	}
	return "gemini"
}

// charger is what an engine that counts a charge the moment the upstream
// accepts a call has (quota.Manager.Charge). An engine without it counts
// the charge when the request is recorded.
type charger interface {
	Charge(accountID int64, f cloudcode.Family, at time.Time)
}

// accepted is called when the upstream accepted an attempt (its headers
// arrived) and frees the account's low-zone gate. For a generation the
// unit is spent: an engine that counts charges as they happen is told
// now, and the request stops counting in flight on the account, since
// from here the engine's estimate has it (the last units: lowzone.go).
func (s *Server) accepted(c *call, ch *Choice) {
	if q, ok := s.q.(charger); ok && c.generation {
		q.Charge(ch.AccountID, c.family, s.clk.Now())
		ch.counted = true
		ch.Done()
		return
	}
	ch.Release()
}

// record enters a completed generation request in the engine's ledger:
// the last account tried (0 when none could be), charged when the
// upstream accepted that attempt, failed unless the client got the whole
// answer; the tokens of an answered one.
func (s *Server) record(r *http.Request, c *call, out outcome) {
	if !c.generation {
		return
	}
	failed := out.status != http.StatusOK || out.abort
	sp := quota.Spend{AccountID: out.accountID, Family: c.family, Model: c.model, Client: clientName(r), Session: c.session,
		Charged: out.charged, Counted: out.charged && out.counted, Failed: failed}
	if !failed {
		sp.Tokens = out.tokens
	}
	s.q.Record(sp)
}
