package cloudcodetest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// strict is the simulator's state for the checks Google makes and the
// answers it composes: thought signatures and the implicit prompt cache.
type strict struct {
	sigs  *signer
	mu    sync.Mutex
	cache map[string][]prefixMark // account tag + session -> last request's prefix marks
}

// prefixMark is the hash of a request's contents up to a turn, and the
// prompt tokens up to it.
type prefixMark struct {
	hash   string
	tokens int
}

// cacheMinTokens is the smallest prefix the implicit cache serves
// (Gemini's minimum for its implicit caching).
const cacheMinTokens = 1024

func newStrict(bindClaude bool) *strict {
	return &strict{sigs: newSigner(bindClaude), cache: map[string][]prefixMark{}}
}

// checkEnvelope checks a generate body's proto JSON (unknown names,
// value types) and returns its request, normalized.
func checkEnvelope(body []byte) (*simRequest, error) {
	if err := checkMessage("Envelope", body, ""); err != nil {
		return nil, err
	}
	var env struct {
		Request json.RawMessage `json:"request"`
	}
	_ = json.Unmarshal(normalize("Envelope", body), &env)
	var r simRequest
	if len(env.Request) > 0 {
		if err := json.Unmarshal(normalize("GenerateContentRequest", env.Request), &r); err != nil {
			return nil, &payloadError{"Invalid JSON payload received. " + err.Error()}
		}
	}
	return &r, nil
}

// writeCheckError answers a request the checks refused: 400
// INVALID_ARGUMENT, with Anthropic's error JSON inside the message when
// the Claude backend raised it.
func writeCheckError(w http.ResponseWriter, err error) {
	msg := err.Error()
	if re, ok := err.(*requestError); ok && re.claude {
		b, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]string{"type": "invalid_request_error", "message": re.msg},
			"request_id": fmt.Sprintf("req_vrtx_%016x", rand.Uint64())})
		msg = string(b)
	}
	writeGoogleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", msg)
}

// Proto3 JSON of an answer: zero values are left out.
type ansPart struct {
	Text             string   `json:"text,omitempty"`
	Thought          bool     `json:"thought,omitempty"`
	ThoughtSignature string   `json:"thoughtSignature,omitempty"`
	FunctionCall     *ansCall `json:"functionCall,omitempty"`
}

type ansCall struct {
	ID   string          `json:"id,omitempty"`
	Name string          `json:"name,omitempty"`
	Args json.RawMessage `json:"args,omitempty"`
}

type ansContent struct {
	Role  string    `json:"role,omitempty"`
	Parts []ansPart `json:"parts,omitempty"`
}

type ansCandidate struct {
	Content      ansContent `json:"content"`
	FinishReason string     `json:"finishReason,omitempty"`
}

type ansUsage struct {
	PromptTokenCount        int `json:"promptTokenCount,omitempty"`
	CandidatesTokenCount    int `json:"candidatesTokenCount,omitempty"`
	TotalTokenCount         int `json:"totalTokenCount,omitempty"`
	ThoughtsTokenCount      int `json:"thoughtsTokenCount,omitempty"`
	CachedContentTokenCount int `json:"cachedContentTokenCount,omitempty"`
}

type ansResponse struct {
	Candidates    []ansCandidate `json:"candidates,omitempty"`
	UsageMetadata ansUsage       `json:"usageMetadata"`
	ModelVersion  string         `json:"modelVersion,omitempty"`
	ResponseID    string         `json:"responseId,omitempty"`
}

type ansWrapped struct {
	Response ansResponse `json:"response"`
	TraceID  string      `json:"traceId,omitempty"`
}

// plan is one composed answer: what the model "says" to a request.
type plan struct {
	model      string
	responseID string
	thoughts   []ansPart // thought text, then (Claude) its signature part
	texts      []string
	calls      []ansPart
	finish     string
	prompt     int
	cached     int
	thoughtTok int
}

// tokens estimates a text's tokens the usual way: about four characters
// a token.
func tokens(s string) int { return (len(s) + 3) / 4 }

// compose decides the answer to a checked request: thoughts when asked
// for on a thinking model (Claude's signed), a tool call while the
// conversation's tool loop is short, else text in n pieces.
func (s *Server) compose(a *account, model string, r *simRequest, n int) *plan {
	p := &plan{model: model, finish: "STOP"}
	claude := strings.Contains(model, "claude")
	if claude {
		p.responseID = fmt.Sprintf("msg_vrtx_%016x", rand.Uint64())
	} else {
		p.responseID = fmt.Sprintf("sim-%016x", rand.Uint64())
	}
	p.prompt, p.cached = s.strict.promptUsage(a, r)
	last := lastUserText(r)
	if r.thinkingOn() && thinkingModel(model) {
		thought := "Thinking about the request: " + clip(last, 60)
		p.thoughts = []ansPart{{Text: thought, Thought: true}}
		if claude {
			p.thoughts = append(p.thoughts, ansPart{Thought: true, ThoughtSignature: s.strict.sigs.mint("claude", a, model, thought)})
		}
		p.thoughtTok = tokens(thought)
	}
	if fn, args, ok := toolToCall(r); ok {
		call := &ansCall{Name: fn, Args: args}
		part := ansPart{FunctionCall: call}
		if claude {
			call.ID = fmt.Sprintf("toolu_vrtx_%016x", rand.Uint64())
			p.finish = "OTHER" // as Claude ends tool turns through Antigravity
		} else if strings.HasPrefix(model, "gemini-3") {
			part.ThoughtSignature = s.strict.sigs.mint("gemini", a, model, "")
		}
		p.calls = []ansPart{part}
		return p
	}
	budget := 0
	if gc := r.GenerationConfig; gc != nil {
		budget = gc.MaxOutputTokens
		if strings.HasPrefix(gc.ResponseMimeType, "application/json") {
			// A JSON answer in the requested shape, in one piece.
			schema := gc.ResponseSchema
			if len(schema) == 0 {
				schema = gc.ResponseJSONSchema
			}
			p.texts = []string{string(argsFor(schema, last))}
			return p
		}
	}
	used := 0
	for i := range n {
		t := fmt.Sprintf("Simulated answer from %s, part %d of %d. ", model, i+1, n)
		if budget > 0 && used+tokens(t) > budget {
			p.finish = "MAX_TOKENS"
			if room := (budget - used) * 4; room > 0 {
				p.texts = append(p.texts, t[:min(room, len(t))])
			}
			break
		}
		used += tokens(t)
		p.texts = append(p.texts, t+s.padding(t)) // StreamFaults.EventBytes: events of many MiB
	}
	return p
}

// chunks splits the answer into k stream events (at least one); every
// event carries usageMetadata, the last the finish reason.
func (p *plan) chunks(k int) []ansWrapped {
	k = max(k, 1)
	groups := make([][]ansPart, k)
	groups[0] = append(groups[0], p.thoughts...)
	for i, t := range p.texts {
		g := i * k / max(len(p.texts), 1)
		groups[g] = append(groups[g], ansPart{Text: t})
	}
	groups[k-1] = append(groups[k-1], p.calls...)
	out := make([]ansWrapped, 0, k)
	cand := 0
	for i, parts := range groups {
		for _, pt := range parts {
			if !pt.Thought {
				cand += tokens(pt.Text)
				if pt.FunctionCall != nil {
					cand += tokens(pt.FunctionCall.Name) + tokens(string(pt.FunctionCall.Args))
				}
			}
		}
		resp := ansResponse{ModelVersion: p.model, ResponseID: p.responseID,
			Candidates: []ansCandidate{{Content: ansContent{Role: "model", Parts: parts}}}}
		if i == k-1 {
			resp.Candidates[0].FinishReason = p.finish
		}
		resp.UsageMetadata = ansUsage{PromptTokenCount: p.prompt, CandidatesTokenCount: cand, ThoughtsTokenCount: p.thoughtTok,
			CachedContentTokenCount: p.cached, TotalTokenCount: p.prompt + cand + p.thoughtTok}
		out = append(out, ansWrapped{Response: resp, TraceID: fmt.Sprintf("%016x", rand.Uint64())})
	}
	return out
}

// whole is the non-streaming answer.
func (p *plan) whole() ansWrapped { return p.chunks(1)[0] }

// thinkingModel reports whether a model thinks (the catalogue says so).
func thinkingModel(model string) bool {
	for _, m := range catalogue {
		if m.id == model {
			return m.thinking
		}
	}
	if succ, ok := deprecated[model]; ok {
		return thinkingModel(succ)
	}
	return false
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// lastUserText is the last text of the last user turn with text, leaving
// out Claude Code's <system-reminder> blocks (they list every tool).
func lastUserText(r *simRequest) string {
	for i := len(r.Contents) - 1; i >= 0; i-- {
		c := r.Contents[i]
		if c.Role == "model" {
			continue
		}
		for j := len(c.Parts) - 1; j >= 0; j-- {
			if t := c.Parts[j].Text; t != nil && *t != "" && !strings.HasPrefix(strings.TrimSpace(*t), "<system-reminder>") {
				return *t
			}
		}
	}
	return ""
}

// maxToolRounds is how many tool calls in a row the simulated model makes
// after a user's message before it answers in text.
const maxToolRounds = 2

// toolToCall decides whether the model calls a tool: tools are declared,
// the mode allows calls, and the conversation since the user's last text
// has had fewer than maxToolRounds tool results (mode ANY always calls).
// It calls the function the user's last text names (as a whole word),
// else the first one, with its required arguments; see argsFor.
func toolToCall(r *simRequest) (string, json.RawMessage, bool) {
	mode := "AUTO"
	if r.ToolConfig != nil && r.ToolConfig.FunctionCallingConfig != nil && r.ToolConfig.FunctionCallingConfig.Mode != "" {
		mode = strings.ToUpper(r.ToolConfig.FunctionCallingConfig.Mode)
	}
	if mode == "NONE" || len(r.Tools) == 0 || len(r.Tools[0].FunctionDeclarations) == 0 {
		return "", nil, false
	}
	rounds := 0
	for i := len(r.Contents) - 1; i >= 0; i-- {
		c := r.Contents[i]
		if c.Role == "model" {
			continue
		}
		if len(responseParts(c)) == 0 {
			break
		}
		rounds++
	}
	if mode != "ANY" && rounds >= maxToolRounds {
		return "", nil, false
	}
	text := lastUserText(r)
	d := r.Tools[0].FunctionDeclarations[0]
	for _, t := range r.Tools {
		for _, fd := range t.FunctionDeclarations {
			if namesWord(text, fd.Name) {
				d = fd
				break
			}
		}
	}
	schema := d.Parameters
	if len(schema) == 0 {
		schema = d.ParametersJSONSchema
	}
	return d.Name, argsFor(schema, text), true
}

// namesWord reports whether text contains name as a whole word.
func namesWord(text, name string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], name)
		if j < 0 || name == "" {
			return false
		}
		j += i
		end := j + len(name)
		before := j == 0 || !wordByte(text[j-1])
		after := end == len(text) || !wordByte(text[end])
		if before && after {
			return true
		}
		i = j + 1
	}
}

func wordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// argsFor fills a schema's required properties: a string property P
// takes what follows "P: " in the user's text up to the line's end (so
// "run Bash with the command: echo hi" gives command "echo hi"), else
// "sim"; other types take plain values.
func argsFor(schema json.RawMessage, text string) json.RawMessage {
	var s struct {
		Properties map[string]struct {
			Type string `json:"type"`
			Enum []any  `json:"enum"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	_ = json.Unmarshal(schema, &s)
	args := map[string]any{}
	for _, name := range s.Required {
		if e := s.Properties[name].Enum; len(e) > 0 {
			args[name] = e[0]
			continue
		}
		switch strings.ToLower(s.Properties[name].Type) {
		case "integer", "number":
			args[name] = 1
		case "boolean":
			args[name] = true
		case "array":
			args[name] = []any{}
		case "object":
			args[name] = map[string]any{}
		default:
			args[name] = "sim"
			if _, rest, ok := strings.Cut(text, name+": "); ok {
				v, _, _ := strings.Cut(rest, "\n")
				if v = strings.TrimSpace(v); v != "" {
					args[name] = v
				}
			}
		}
	}
	b, _ := json.Marshal(args)
	return b
}

// promptUsage counts the prompt's tokens and the part of it the implicit
// cache serves: the longest prefix of turns this account saw in the same
// session's previous request, once it reaches cacheMinTokens.
func (st *strict) promptUsage(a *account, r *simRequest) (prompt, cached int) {
	var marks []prefixMark
	h := sha256.New()
	add := func(c simContent) int {
		b, _ := json.Marshal(c)
		h.Write(b)
		n := 0
		for _, p := range c.Parts {
			switch {
			case p.Text != nil:
				n += tokens(*p.Text)
			case p.FunctionCall != nil:
				n += tokens(p.FunctionCall.Name) + tokens(string(p.FunctionCall.Args))
			case p.FunctionResponse != nil:
				n += tokens(string(p.FunctionResponse.Response))
			case p.InlineData != nil:
				n += 258 // an image's flat cost
			}
		}
		return n
	}
	if r.SystemInstruction != nil {
		prompt += add(*r.SystemInstruction)
	}
	for _, c := range r.Contents {
		prompt += add(c)
		marks = append(marks, prefixMark{hex.EncodeToString(h.Sum(nil)), prompt})
	}
	prompt = max(prompt, 1)
	if r.SessionID == "" {
		return prompt, 0
	}
	key := accountTag(a) + "\x00" + r.SessionID
	st.mu.Lock()
	prev := st.cache[key]
	st.cache[key] = marks
	st.mu.Unlock()
	// The longest shared prefix, strictly before the last turn.
	i := sort.Search(min(len(prev), len(marks)), func(i int) bool { return prev[i].hash != marks[i].hash })
	if i > 0 && marks[i-1].tokens >= cacheMinTokens {
		cached = marks[i-1].tokens
	}
	return prompt, cached
}
