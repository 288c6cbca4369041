package proxy

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/quotatui/quotatui/internal/rawjson"
)

// envelope is a client's JSON object body (or one the proxy built), kept
// as its bytes with the offsets of its top-level members. The proxy reads
// the few members it needs from it and writes the upstream body by
// copying it with the project swapped: every other byte goes on as the
// client sent it (key order, unknown fields, numbers, escapes), and the
// body is never decoded and re-encoded whole.
type envelope struct {
	raw     []byte
	members []rawjson.Member
}

// parseEnvelope checks that body is one valid JSON object and indexes its
// members. Its errors are encoding/json's, as decoding the body into a
// map would give them (jsonProblem words them for the client).
func parseEnvelope(body []byte) (*envelope, error) {
	e := &envelope{}
	if err := e.parse(body, make([]rawjson.Member, 0, 8)); err != nil {
		return nil, err
	}
	return e, nil
}

// parse is parseEnvelope into e, indexing the members in ms (appended
// to: room for them saves an allocation).
func (e *envelope) parse(body []byte, ms []rawjson.Member) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errEmptyBody
	}
	if !rawjson.Valid(body) {
		return decodeError(body)
	}
	ms, ok := rawjson.Members(ms, body)
	if !ok {
		return decodeError(body) // valid JSON, but not an object
	}
	*e = envelope{raw: body, members: ms}
	return nil
}

// decodeError is encoding/json's error for a body that is not one JSON
// object (errEmptyBody for "null"): the words clients got before the
// proxy stopped decoding bodies whole. Only refused bodies pay for it.
func decodeError(body []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return err
	}
	return errEmptyBody
}

// get returns the value of member key (the last one, as a map would keep
// it), or nil; nil for a nil envelope (a call without a body).
func (e *envelope) get(key string) json.RawMessage {
	if e == nil {
		return nil
	}
	for i := len(e.members) - 1; i >= 0; i-- {
		if m := e.members[i]; m.Is(key) {
			return e.raw[m.Value:m.End]
		}
	}
	return nil
}

// has reports whether the envelope has member key.
func (e *envelope) has(key string) bool { return e.get(key) != nil }

// withProject returns the upstream body: the envelope with every project
// the client named set to project, the account's ("project",
// "cloudaicompanionProject" and "metadata.duetProject"; Gemini CLI sends
// the project it got from loadCodeAssist, or GOOGLE_CLOUD_PROJECT, in all
// three), and "project" added first when add is set and it has none. An
// empty project removes those members: the client's project must never go
// out with another account's token. A key the client wrote twice goes out
// once, with its last value, as decoding into a map kept it. When there
// is nothing to change it returns the envelope's own bytes.
func (e *envelope) withProject(project string, add bool) []byte {
	hasProject := e.has("project")
	edit := add && !hasProject
	for _, m := range e.members {
		if m.Is("project") || m.Is("cloudaicompanionProject") || m.Is("metadata") && duetProject(e.raw[m.Value:m.End]) != nil {
			edit = true
			break
		}
	}
	last := lastOfKeys(e.members)
	if !edit && last == nil {
		return e.raw
	}
	// "project": and the quoted project in one buffer, on the stack for
	// a project id of usual length: first is all of it, quoted its value.
	var buf [96]byte
	var quoted, first []byte
	if project != "" {
		first = rawjson.AppendString(append(buf[:0], `"project":`...), project)
		quoted = first[len(`"project":`):]
	}
	if !add || quoted == nil || hasProject {
		first = nil
	}
	out := make([]byte, 0, len(e.raw)+len(first)+len(quoted)+16)
	return appendObject(out, e.raw, e.members, last, first, func(m rawjson.Member, v []byte, out []byte) ([]byte, bool) {
		switch {
		case m.Is("project") || m.Is("cloudaicompanionProject"):
			return append(out, quoted...), quoted != nil
		case m.Is("metadata"):
			if md := duetProject(v); md != nil {
				return appendObject(out, v, md, lastOfKeys(md), nil, func(d rawjson.Member, dv []byte, out []byte) ([]byte, bool) {
					if d.Is("duetProject") {
						return append(out, quoted...), quoted != nil
					}
					return append(out, dv...), true
				}), true
			}
		}
		return append(out, v...), true
	})
}

// duetProject returns the members of a metadata object that has a
// duetProject, else nil.
func duetProject(v []byte) []rawjson.Member {
	if len(v) == 0 || v[0] != '{' {
		return nil
	}
	ms, ok := rawjson.Members(nil, v)
	if !ok {
		return nil
	}
	for _, d := range ms {
		if d.Is("duetProject") {
			return ms
		}
	}
	return nil
}

// appendObject appends the object obj, whose members are ms, member by
// member: first (a member, when not nil) at the start, then each member
// that is the last of its key (last[i], when last is not nil), as its key
// followed by what value appends (which says whether to keep it at all).
func appendObject(out, obj []byte, ms []rawjson.Member, last []bool, first []byte,
	value func(m rawjson.Member, v []byte, out []byte) ([]byte, bool)) []byte {
	out = append(out, '{')
	open := len(out)
	out = append(out, first...)
	for i, m := range ms {
		if last != nil && !last[i] {
			continue
		}
		mark := len(out)
		if mark > open {
			out = append(out, ',')
		}
		out = append(out, obj[m.Start:m.Value]...)
		var keep bool
		if out, keep = value(m, obj[m.Value:m.End], out); !keep {
			out = out[:mark]
		}
	}
	return append(out, '}')
}

// lastOfKeys says which members are the last of their key, or returns nil
// when no key is written twice (the usual case).
func lastOfKeys(ms []rawjson.Member) []bool {
	var last []bool
	mark := func(i int) {
		if last == nil {
			last = make([]bool, len(ms))
			for k := range last {
				last[k] = true
			}
		}
		last[i] = false
	}
	if len(ms) <= 16 {
		for i := range ms {
			for j := i + 1; j < len(ms); j++ {
				if ms[i].SameKey(ms[j]) {
					mark(i)
					break
				}
			}
		}
		return last
	}
	seen := make(map[string]int, len(ms))
	for i, m := range ms {
		if j, ok := seen[m.Name()]; ok {
			mark(j)
		}
		seen[m.Name()] = i
	}
	return last
}

// generationEnv is the v1internal envelope of a generation call for model
// around a request the caller has checked is one JSON object (the project
// is set per account when the call goes out).
func generationEnv(model string, request []byte, now time.Time) *envelope {
	// The envelope and room for its five members in one allocation (the
	// members grew four times).
	e := &struct {
		envelope
		ms [5]rawjson.Member
	}{}
	out := make([]byte, 0, len(request)+len(model)+128)
	ms := e.ms[:0]
	member := func(key string, value func([]byte) []byte) {
		if len(ms) > 0 {
			out = append(out, ',')
		}
		start := len(out)
		out = append(append(append(out, '"'), key...), `":`...)
		v := len(out)
		out = value(out)
		ms = append(ms, rawjson.Member{Start: start, Value: v, End: len(out)})
	}
	out = append(out, '{')
	member("model", func(b []byte) []byte { return rawjson.AppendString(b, model) })
	member("userAgent", func(b []byte) []byte { return append(b, `"antigravity"`...) })
	member("requestType", func(b []byte) []byte { return append(b, `"agent"`...) })
	member("requestId", func(b []byte) []byte { return appendRequestID(b, now) })
	member("request", func(b []byte) []byte { return append(b, bytes.TrimSpace(request)...) })
	out = append(out, '}')
	// The keys point into out, which no longer moves.
	for i := range ms {
		ms[i].Key = out[ms[i].Start+1 : ms[i].Value-2]
	}
	e.envelope = envelope{raw: out, members: ms}
	return &e.envelope
}

// appendRequestID appends an Antigravity-style request id,
// "agent/<ms>/<random>", as a JSON string.
func appendRequestID(b []byte, now time.Time) []byte {
	b = append(b, `"agent/`...)
	b = strconv.AppendInt(b, now.UnixMilli(), 10)
	b = append(b, '/')
	var r [4]byte
	_, _ = rand.Read(r[:])
	b = hex.AppendEncode(b, r[:])
	return append(b, '"')
}

// requestEnv is the envelope {"request": request} (countTokens).
func requestEnv(request []byte) *envelope {
	out := append(append([]byte(`{"request":`), request...), '}')
	return &envelope{raw: out, members: []rawjson.Member{{Key: out[2:9], Start: 1, Value: 11, End: len(out) - 1}}}
}
