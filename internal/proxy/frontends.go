package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/frontend"
	"github.com/quotatui/quotatui/internal/frontend/anthropic"
	"github.com/quotatui/quotatui/internal/frontend/openai"
)

// The Anthropic Messages, OpenAI Chat Completions and Responses routes:
// each translates its client's request into a v1internal generation
// call, sets an AnswerWriter of its API's shape (shapes.go) and runs the
// call through the one forwarding loop (forward.go), which selects,
// retries, marks and counts as for the Google routes.

// DefaultPingInterval is how often a silent translated stream gets a
// keep-alive: Claude Code aborts a stream silent for 300 s, and Claude
// can think for longer than that without sending a byte.
const DefaultPingInterval = 15 * time.Second

// FrontendOptions configure the Anthropic and OpenAI front-ends.
type FrontendOptions struct {
	// Aliases maps client model names to upstream ids ([models.aliases]),
	// on top of frontend.DefaultAliases: an entry here wins. A key ending
	// in "*" is a prefix.
	Aliases map[string]string
	// PingInterval is the keep-alive period of translated streams;
	// default DefaultPingInterval.
	PingInterval time.Duration
}

// frontends is the server's front-end state, fixed at New.
type frontends struct {
	aliases *frontend.Aliases
	ping    time.Duration
	schemas *frontend.SchemaCache // cleaned tool schemas, shared by all routes
}

func newFrontends(opt FrontendOptions) (*frontends, error) {
	table := frontend.DefaultAliases()
	for k, v := range opt.Aliases {
		table[k] = v
	}
	a, err := frontend.NewAliases(table)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	if opt.PingInterval <= 0 {
		opt.PingInterval = DefaultPingInterval
	}
	return &frontends{aliases: a, ping: opt.PingInterval, schemas: frontend.NewSchemaCache()}, nil
}

// frontendRoutes adds the Anthropic and OpenAI routes. GET /v1/models and
// GET /v1/models/{model} are shared with the Gemini API and told apart by
// the caller's headers (see clientShape).
func (s *Server) frontendRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/messages", s.handleMessages)
	mux.HandleFunc("POST /v1/messages/count_tokens", s.handleCountTokens)
	mux.HandleFunc("POST /v1/chat/completions", s.handleChat)
	mux.HandleFunc("POST /chat/completions", s.handleChat)
	mux.HandleFunc("POST /v1/responses", s.handleResponses)
	mux.HandleFunc("POST /responses", s.handleResponses)
	mux.HandleFunc("GET /v1/models", s.handleV1Models)
	mux.HandleFunc("GET /v1/models/{model}", s.handleV1Model)
	// Claude Code's start-up probe and telemetry: answered so its logs
	// stay clean; nothing is kept.
	mux.HandleFunc("HEAD /api/hello", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /api/hello", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("POST /api/event_logging/batch", func(w http.ResponseWriter, r *http.Request) {
		// Read under the same rules as any body (JSON, size, deadline).
		if _, done, ok := s.admit(w, r, errorWriter(shapeAnthropic)); ok {
			done()
			writeJSON(w, http.StatusOK, struct{}{})
		}
	})
}

// knownModels returns a predicate for the models the pool's accounts
// list, or nil while no account has synced (then every name is tried).
// It scans the accounts' snapshots and stops at the first match, so a
// known model costs little even in a large pool.
func (s *Server) knownModels() func(string) bool {
	if _, listed := s.q.ModelListed(""); !listed {
		return nil
	}
	return s.modelKnown
}

// modelKnown is knownModels' predicate: a user model some account lists.
func (s *Server) modelKnown(id string) bool {
	if cloudcode.IsInternalModel(id) {
		return false
	}
	known, _ := s.q.ModelListed(id)
	return known
}

// resolveModel maps a client's model name to an upstream id, answering
// 404 itself through out when the pool does not serve it.
func (s *Server) resolveModel(w http.ResponseWriter, out AnswerWriter, name string) (string, bool) {
	model, ok := s.fe.aliases.Resolve(name, s.knownModels())
	if !ok {
		out.WriteError(w, &ClientError{Status: http.StatusNotFound, Message: fmt.Sprintf("model %q is not served by this quotatui pool (it maps to %q, which no account lists); GET /v1/models lists the models, [models.aliases] maps names", name, model)})
		return "", false
	}
	return model, true
}

// requestError is the answer to a request the translator refused: 400
// for the client's own mistake, 500 for the proxy's.
func requestError(err error) *ClientError {
	var ae *anthropic.RequestError
	var oe *openai.RequestError
	if errors.As(err, &ae) || errors.As(err, &oe) {
		return &ClientError{Status: http.StatusBadRequest, Message: err.Error()}
	}
	return &ClientError{Status: http.StatusInternalServerError, Message: err.Error()}
}

// generationCall is a translated generation request, ready for the one
// forwarding path (selection, attempts, retries, marks, counters). A
// stream is always asked for as SSE.
func (s *Server) generationCall(model, session string, request []byte, stream bool) *call {
	c := &call{rpc: "generateContent", httpMethod: http.MethodPost, query: url.Values{}, model: model,
		family: cloudcode.ModelFamily(model), session: session, generation: true, setProject: true, stream: stream,
		env: generationEnv(model, request, s.clk.Now())}
	if stream {
		c.rpc = "streamGenerateContent"
		c.query.Set("alt", "sse")
	}
	return c
}

// translation is what a route's translator made of a client request.
type translation struct {
	body    []byte // the Gemini request
	session string
	stream  bool
	// newStream starts the translation of a streamed answer; whole
	// translates a non-streaming one.
	newStream func() answerStream
	whole     func(*frontend.Response) any
}

// serveTranslated runs a translated generation route: admit the body,
// parse it (which names the client's model), resolve the model,
// translate, and forward through the one forwarding loop with the
// translation's writer. Every refusal reaches the client in sh's shape.
func (s *Server) serveTranslated(w http.ResponseWriter, r *http.Request, sh shape, parse func(body []byte) (model string, err error),
	translate func(model string) (*translation, error)) {
	errs := errorWriter(sh)
	model, done, ok := s.admitTranslated(w, r, errs, parse)
	if !ok {
		return
	}
	defer done()
	tr, err := translate(model)
	if err != nil {
		errs.WriteError(w, requestError(err))
		return
	}
	c := s.generationCall(model, tr.session, tr.body, tr.stream)
	out := &translated{shape: sh, whole: tr.whole, ping: s.fe.ping}
	if tr.stream {
		out.stream = tr.newStream()
	}
	c.out = out
	s.forward(w, r, c)
}

// admitTranslated admits a translated route's body (admit), parses it and
// resolves the model it names. On a refusal it has answered through errs
// and returns ok false; else call done when the request is over.
func (s *Server) admitTranslated(w http.ResponseWriter, r *http.Request, errs AnswerWriter, parse func(body []byte) (model string, err error)) (model string, done func(), ok bool) {
	body, done, ok := s.admit(w, r, errs)
	if !ok {
		return "", done, false
	}
	name, err := parse(body)
	if err != nil {
		errs.WriteError(w, requestError(err))
		done()
		return "", func() {}, false
	}
	if model, ok = s.resolveModel(w, errs, name); !ok {
		done()
		return "", func() {}, false
	}
	return model, done, true
}

// parseMessages returns a parser of a Messages request into *req.
func parseMessages(req **anthropic.Request) func(body []byte) (string, error) {
	return func(body []byte) (string, error) {
		var err error
		if *req, err = anthropic.Parse(body); err != nil {
			return "", err
		}
		return (*req).Model, nil
	}
}

func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request) {
	var req *anthropic.Request
	s.serveTranslated(w, r, shapeAnthropic, parseMessages(&req), func(model string) (*translation, error) {
		session := anthropic.SessionKey(firstHeader(r, "X-Claude-Code-Session-Id", "x-session-id"), req)
		tr, err := anthropic.Translate(req, model, session, s.fe.schemas)
		if err != nil {
			return nil, err
		}
		return &translation{body: tr.Body, session: session, stream: tr.Stream,
			newStream: func() answerStream { return anthropic.NewStream(tr.ClientModel, tr.Names, true) },
			whole:     func(g *frontend.Response) any { return anthropic.TranslateResponse(g, tr.ClientModel, tr.Names) }}, nil
	})
}

func firstHeader(r *http.Request, names ...string) string {
	for _, n := range names {
		if v := r.Header.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// handleCountTokens counts with the upstream's countTokens (never a
// guess of 0, which would make Claude Code's /context lie).
func (s *Server) handleCountTokens(w http.ResponseWriter, r *http.Request) {
	errs := errorWriter(shapeAnthropic)
	var req *anthropic.Request
	model, done, ok := s.admitTranslated(w, r, errs, parseMessages(&req))
	if !ok {
		return
	}
	defer done()
	tr, err := anthropic.Translate(req, model, "", s.fe.schemas)
	if err != nil {
		errs.WriteError(w, requestError(err))
		return
	}
	var g frontend.Request
	if err := json.Unmarshal(tr.Body, &g); err != nil {
		errs.WriteError(w, &ClientError{Status: http.StatusInternalServerError, Message: "count_tokens: " + err.Error()})
		return
	}
	// Code Assist counts {"request": {"model": "models/x", "contents": [...]}};
	// the system prompt is counted as a first user turn.
	contents := g.Contents
	if g.SystemInstruction != nil {
		contents = append([]frontend.Content{{Role: "user", Parts: g.SystemInstruction.Parts}}, contents...)
	}
	inner, _ := json.Marshal(struct {
		Model    string             `json:"model"`
		Contents []frontend.Content `json:"contents"`
	}{"models/" + model, contents})
	c := &call{rpc: "countTokens", httpMethod: http.MethodPost, query: url.Values{},
		env:     requestEnv(inner),
		session: anthropic.SessionKey(firstHeader(r, "X-Claude-Code-Session-Id", "x-session-id"), req),
		out:     &tokenCount{translated: translated{shape: shapeAnthropic}}}
	s.forward(w, r, c)
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	var req *openai.ChatRequest
	s.serveTranslated(w, r, shapeOpenAI, func(body []byte) (string, error) {
		var err error
		if req, err = openai.ParseChat(body); err != nil {
			return "", err
		}
		return req.Model, nil
	}, func(model string) (*translation, error) {
		session := openai.ChatSessionKey(firstHeader(r, "x-session-id", "X-Session-Key"), req)
		tr, err := openai.TranslateChat(req, model, session, s.fe.schemas)
		if err != nil {
			return nil, err
		}
		now := s.clk.Now()
		return &translation{body: tr.Body, session: session, stream: tr.Stream,
			newStream: func() answerStream { return openai.NewChatStream(tr.ClientModel, tr.Names, true, tr.IncludeUsage, now) },
			whole:     func(g *frontend.Response) any { return openai.TranslateChatResponse(g, tr.ClientModel, tr.Names, now) }}, nil
	})
}

func (s *Server) handleResponses(w http.ResponseWriter, r *http.Request) {
	var req *openai.ResponsesRequest
	s.serveTranslated(w, r, shapeOpenAI, func(body []byte) (string, error) {
		var err error
		if req, err = openai.ParseResponses(body); err != nil {
			return "", err
		}
		return req.Model, nil
	}, func(model string) (*translation, error) {
		session := openai.ResponsesSessionKey(firstHeader(r, "x-session-id", "X-Session-Key", "session_id"), req)
		tr, err := openai.TranslateResponses(req, model, session, s.fe.schemas)
		if err != nil {
			return nil, err
		}
		now := s.clk.Now()
		return &translation{body: tr.Body, session: session, stream: tr.Stream,
			newStream: func() answerStream { return openai.NewRespStream(tr.ClientModel, tr.Names, true, now) },
			whole: func(g *frontend.Response) any {
				return openai.TranslateResponsesResponse(g, tr.ClientModel, tr.Names, now)
			}}, nil
	})
}

// v1Model is one entry of GET /v1/models for OpenAI and Anthropic
// clients: both field sets in one object.
type v1Model struct {
	ID          string `json:"id"`
	Object      string `json:"object"`
	Created     int64  `json:"created"`
	OwnedBy     string `json:"owned_by"`
	Type        string `json:"type"`
	DisplayName string `json:"display_name"`
	CreatedAt   string `json:"created_at"`
}

func (s *Server) v1Models() []v1Model {
	gm := s.poolModels()
	out := make([]v1Model, 0, len(gm))
	for _, m := range gm {
		owner := "google"
		if strings.HasPrefix(m.BaseModelID, "claude") {
			owner = "anthropic"
		}
		out = append(out, v1Model{ID: m.BaseModelID, Object: "model", Created: s.started.Unix(), OwnedBy: owner,
			Type: "model", DisplayName: m.DisplayName, CreatedAt: s.started.UTC().Format(time.RFC3339)})
	}
	return out
}

// handleV1Models lists the pool's models: in the Gemini API's shape for
// Google clients, else in one object that is both OpenAI's list and
// Anthropic's.
func (s *Server) handleV1Models(w http.ResponseWriter, r *http.Request) {
	if clientShape(r) == shapeGoogle {
		s.handleListModels(w, r)
		return
	}
	list := s.v1Models()
	first, last := "", ""
	if len(list) > 0 {
		first, last = list[0].ID, list[len(list)-1].ID
	}
	writeJSON(w, http.StatusOK, struct {
		Object  string    `json:"object"`
		Data    []v1Model `json:"data"`
		HasMore bool      `json:"has_more"`
		FirstID string    `json:"first_id"`
		LastID  string    `json:"last_id"`
	}{"list", list, false, first, last})
}

// handleV1Model answers one model: Gemini's shape for Google clients,
// else the OpenAI/Anthropic object (after alias resolution).
func (s *Server) handleV1Model(w http.ResponseWriter, r *http.Request) {
	sh := clientShape(r)
	if sh == shapeGoogle {
		s.handleGetModel(w, r)
		return
	}
	name := r.PathValue("model")
	id, ok := s.fe.aliases.Resolve(name, s.knownModels())
	if ok {
		for _, m := range s.v1Models() {
			if m.ID == id {
				m.ID = name
				writeJSON(w, http.StatusOK, m)
				return
			}
		}
	}
	errorWriter(sh).WriteError(w, &ClientError{Status: http.StatusNotFound,
		Message: fmt.Sprintf("model %q is not served by this quotatui pool; GET /v1/models lists the models", name)})
}
