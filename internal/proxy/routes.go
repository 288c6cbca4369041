package proxy

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/rawjson"
)

// generationRPCs spend model quota and are routed by model.
var generationRPCs = map[string]bool{"generateContent": true, "streamGenerateContent": true}

// sseQuery is the query of a streamed call, "alt=sse". It is shared by
// every call that has no other: read only.
var sseQuery = url.Values{"alt": {"sse"}}

// forwardQuery copies the client's query without the local API key. The
// usual queries, none and "alt=sse", cost nothing: nil, and sseQuery
// (read only, as every call's query is once made).
func forwardQuery(u *url.URL) url.Values {
	switch u.RawQuery {
	case "":
		return nil
	case "alt=sse":
		return sseQuery
	}
	out := url.Values{}
	for k, v := range u.Query() {
		if k != "key" {
			out[k] = v
		}
	}
	return out
}

// withAlt returns q with alt=sse, a copy: q may be shared.
func withAlt(q url.Values) url.Values {
	if len(q) == 0 {
		return sseQuery
	}
	out := make(url.Values, len(q)+1)
	for k, v := range q {
		out[k] = v
	}
	out.Set("alt", "sse")
	return out
}

// decodeObject parses a JSON object body, keeping every member raw so
// unknown fields reach the upstream untouched.
func decodeObject(body []byte) (map[string]json.RawMessage, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errEmptyBody
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	if m == nil { // the body was "null"
		return nil, errEmptyBody
	}
	return m, nil
}

// googleCall is a call in Google's shapes, its writer and its body's
// index, in one allocation where they took four. It lives as long as its
// request.
type googleCall struct {
	c   call
	g   googleWriter
	env envelope
	ms  [8]rawjson.Member
}

// handleInternal is the Code Assist passthrough: any v1internal method (or
// an operation's path), with the chosen account's token and project
// swapped in.
func (s *Server) handleInternal(w http.ResponseWriter, r *http.Request, rpc, path string) {
	body, taken, ok := s.admitBody(w, r, googleErrors)
	if !ok {
		return
	}
	defer s.budget.give(taken)
	p := &googleCall{}
	c := &p.c
	*c = call{rpc: rpc, path: path, httpMethod: r.Method, query: forwardQuery(r.URL),
		generation: generationRPCs[rpc], stream: rpc == "streamGenerateContent"}
	if c.stream && c.query.Get("alt") != "sse" {
		// The upstream streams SSE either way; the proxy rebuilds the
		// JSON array the client asked for from its events.
		c.jsonArray = true
		c.query = withAlt(c.query)
	}
	if r.Method == http.MethodPost && (len(bytes.TrimSpace(body)) > 0 || c.generation) {
		if err := p.env.parse(body, p.ms[:0]); err != nil {
			writeError(w, http.StatusBadRequest, jsonProblem(err))
			return
		}
		c.env = &p.env
		if raw := c.env.get("model"); raw != nil && !plainString(raw) {
			if err := json.Unmarshal(raw, &c.model); err != nil {
				writeError(w, http.StatusBadRequest, "request body's model must be a string: "+jsonProblem(err))
				return
			}
		} else if raw != nil {
			c.model = string(raw[1 : len(raw)-1]) // what decoding gives, without decoding (3 allocations)
		}
	}
	if c.generation {
		if c.model == "" {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("request body has no model: %s needs {\"model\": \"...\", \"request\": {...}}", rpc))
			return
		}
		c.setProject = true
	}
	c.model = strings.TrimPrefix(c.model, "models/")
	c.family = cloudcode.ModelFamily(c.model)
	c.session = r.Header.Get("X-Session-Id")
	if c.session == "" && c.generation {
		c.session = SessionFromBody(c.env.get("request"), c.model)
	}
	if !c.generation {
		// Gemini CLI names the project its loadCodeAssist returned in
		// every later call: keeping those calls on that account shows it
		// one account's plan and quota, not a different one per call.
		c.clientProject = projectOf(c.env.get("project"))
		if c.clientProject == "" {
			c.clientProject = projectOf(c.env.get("cloudaicompanionProject"))
		}
		if c.session == "" {
			c.session = affinityKey(r.Header.Get("Authorization"))
		}
	}
	p.g = c.googleWriter()
	c.out = &p.g
	s.forward(w, r, c)
}

// projectOf reads a project as v1internal spells it: a string or an
// object {"id": "..."}. It returns "" for anything else.
func projectOf(raw json.RawMessage) string {
	var id string
	if json.Unmarshal(raw, &id) == nil {
		return id
	}
	var obj struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		return obj.ID
	}
	return ""
}

// handleGemini serves the Gemini API's model calls by wrapping them into
// the v1internal envelope.
func (s *Server) handleGemini(w http.ResponseWriter, r *http.Request) {
	model, method, ok := strings.Cut(r.PathValue("call"), ":")
	if !ok || model == "" {
		writeError(w, http.StatusNotFound, fmt.Sprintf("quotatui proxy has no route for POST %s; use /v1beta/models/<model>:generateContent", r.URL.Path))
		return
	}
	switch method {
	case "generateContent", "streamGenerateContent", "countTokens":
	default:
		writeError(w, http.StatusNotFound, fmt.Sprintf("method %q is not supported by quotatui's Gemini API; use generateContent, streamGenerateContent or countTokens", method))
		return
	}
	body, taken, ok := s.admitBody(w, r, googleErrors)
	if !ok {
		return
	}
	defer s.budget.give(taken)
	p := &googleCall{}
	if err := p.env.parse(body, p.ms[:0]); err != nil { // checked, not kept
		writeError(w, http.StatusBadRequest, jsonProblem(err))
		return
	}
	c := &p.c
	*c = call{rpc: method, httpMethod: http.MethodPost, model: model,
		family: cloudcode.ModelFamily(model), gemini: true}
	if method == "countTokens" {
		// Code Assist counts {"request": {"model": "models/x", "contents": [...]}}.
		inner, err := decodeObject(body)
		if err != nil {
			writeError(w, http.StatusBadRequest, jsonProblem(err))
			return
		}
		if g, ok := inner["generateContentRequest"]; ok {
			if inner, err = decodeObject(g); err != nil {
				writeError(w, http.StatusBadRequest, "generateContentRequest: "+jsonProblem(err))
				return
			}
		}
		inner["model"], _ = json.Marshal("models/" + model)
		b, _ := json.Marshal(inner)
		c.env = requestEnv(b)
		p.g = c.googleWriter()
		c.out = &p.g
		s.forward(w, r, c)
		return
	}
	c.generation = true
	c.setProject = true
	c.stream = method == "streamGenerateContent"
	if c.stream {
		c.jsonArray = forwardQuery(r.URL).Get("alt") != "sse" // the client's alt, as r.URL.Query() has it
		c.query = sseQuery                                    // the array form is rebuilt from SSE events
	}
	c.env = generationEnv(model, body, s.clk.Now())
	c.session = r.Header.Get("X-Session-Id")
	if c.session == "" {
		c.session = SessionFromBody(body, model)
	}
	p.g = c.googleWriter()
	c.out = &p.g
	s.forward(w, r, c)
}

// geminiModel is one entry of the Gemini API's model list.
type geminiModel struct {
	Name                       string   `json:"name"`
	BaseModelID                string   `json:"baseModelId"`
	DisplayName                string   `json:"displayName"`
	SupportedGenerationMethods []string `json:"supportedGenerationMethods"`
}

// poolModels lists the user models any account in the pool knows.
func (s *Server) poolModels() []geminiModel {
	seen := map[string]geminiModel{}
	for _, st := range s.q.GetAllQuotas() {
		for _, fq := range st.Families {
			for _, m := range fq.Models {
				if _, ok := seen[m.ID]; ok || cloudcode.IsInternalModel(m.ID) {
					continue
				}
				seen[m.ID] = geminiModel{Name: "models/" + m.ID, BaseModelID: m.ID, DisplayName: cmp.Or(m.DisplayName, m.ID),
					SupportedGenerationMethods: []string{"generateContent", "streamGenerateContent", "countTokens"}}
			}
		}
	}
	out := make([]geminiModel, 0, len(seen))
	for _, m := range seen {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b geminiModel) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

func (s *Server) handleListModels(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		Models []geminiModel `json:"models"`
	}{s.poolModels()})
}

func (s *Server) handleGetModel(w http.ResponseWriter, r *http.Request) {
	name := "models/" + strings.TrimPrefix(r.PathValue("model"), "models/")
	for _, m := range s.poolModels() {
		if m.Name == name {
			writeJSON(w, http.StatusOK, m)
			return
		}
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("no account in the pool offers %s; GET /v1beta/models lists the models it knows", name))
}
