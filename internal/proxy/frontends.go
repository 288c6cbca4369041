package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/frontend"
	"github.com/quotatui/quotatui/internal/frontend/anthropic"
	"github.com/quotatui/quotatui/internal/frontend/openai"
)

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
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, s.opt.BodyLimit))
		writeJSON(w, http.StatusOK, struct{}{})
	})
}

// shape is the API whose error format a request gets.
type shape uint8

const (
	shapeGoogle shape = iota
	shapeAnthropic
	shapeOpenAI
)

// clientShape tells the API a request speaks from its path and, on the
// paths the Gemini API shares (GET /v1/models...), its headers: the
// Google SDKs send x-goog-api-key or x-goog-api-client (or ?key=), the
// Anthropic SDK and Claude Code anthropic-version; anything else is
// taken for an OpenAI client.
func clientShape(r *http.Request) shape {
	p := r.URL.Path
	switch {
	case p == "/v1/messages" || strings.HasPrefix(p, "/v1/messages/"):
		return shapeAnthropic
	case p == "/v1/chat/completions" || p == "/chat/completions" || p == "/v1/responses" || p == "/responses":
		return shapeOpenAI
	case p == "/v1/models" || strings.HasPrefix(p, "/v1/models/"):
		if r.Method != http.MethodGet {
			return shapeGoogle // POST /v1/models/{model}:generateContent
		}
		if r.Header.Get("x-goog-api-key") != "" || r.Header.Get("x-goog-api-client") != "" || r.URL.Query().Has("key") {
			return shapeGoogle
		}
		if r.Header.Get("anthropic-version") != "" {
			return shapeAnthropic
		}
		return shapeOpenAI
	}
	return shapeGoogle
}

// shapeErrors rewrites the proxy's errors (Google's envelope, written by
// every error path of the forwarding loop, the API-key check and the
// pause) into the client's own shape and status, for the Anthropic and
// OpenAI routes. Success answers pass through untouched.
func (s *Server) shapeErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sh := clientShape(r)
		if sh == shapeGoogle {
			next.ServeHTTP(w, r)
			return
		}
		ew := &errorShaper{ResponseWriter: w, shape: sh}
		next.ServeHTTP(ew, r)
		ew.finish()
	})
}

// errorShaper holds back an error answer until the handler is done, then
// writes it in the client's shape.
type errorShaper struct {
	http.ResponseWriter
	shape   shape
	status  int // error status held back; 0 when passing through
	passing bool
	body    []byte
}

func (e *errorShaper) WriteHeader(code int) {
	if e.status != 0 || e.passing {
		return
	}
	if code >= 400 {
		e.status = code
		return
	}
	e.passing = true
	e.ResponseWriter.WriteHeader(code)
}

func (e *errorShaper) Write(b []byte) (int, error) {
	if e.status == 0 && !e.passing {
		e.WriteHeader(http.StatusOK)
	}
	if e.status != 0 {
		e.body = append(e.body, b...)
		return len(b), nil
	}
	return e.ResponseWriter.Write(b)
}

// Flush passes through for answers; a held error is not flushed.
func (e *errorShaper) Flush() {
	if e.passing {
		_ = http.NewResponseController(e.ResponseWriter).Flush()
	}
}

// Unwrap lets http.ResponseController reach the real writer.
func (e *errorShaper) Unwrap() http.ResponseWriter { return e.ResponseWriter }

func (e *errorShaper) finish() {
	if e.status == 0 {
		return
	}
	msg, reason := strings.TrimSpace(string(e.body)), ""
	var raw struct {
		Error struct {
			Message string            `json:"message"`
			Details []json.RawMessage `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(e.body, &raw) == nil && raw.Error.Message != "" {
		msg = raw.Error.Message
		for _, d := range raw.Error.Details {
			var info struct {
				Type   string `json:"@type"`
				Reason string `json:"reason"`
			}
			if json.Unmarshal(d, &info) == nil && info.Type == cloudcode.ErrorInfoType {
				reason = info.Reason
			}
		}
	}
	var status int
	var body []byte
	h := e.Header()
	switch e.shape {
	case shapeAnthropic:
		status, body = anthropic.MapError(anthropic.UpstreamError{Status: e.status, Message: msg, Reason: reason})
	default:
		status, body = openai.MapError(openai.UpstreamError{Status: e.status, Message: msg, Reason: reason})
		if ms := openai.RetryAfterMS(h.Get("Retry-After")); ms != "" {
			h.Set("retry-after-ms", ms)
		}
	}
	if status == 529 || status >= 500 && status != http.StatusNotImplemented {
		h.Set("x-should-retry", "true")
	}
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	e.ResponseWriter.WriteHeader(status)
	_, _ = e.ResponseWriter.Write(append(body, '\n'))
}

// knownModels returns a predicate for the models the pool's accounts
// list, or nil while no account has synced (then every name is tried).
// It scans the accounts' snapshots and stops at the first match, so a
// known model costs little even in a large pool.
func (s *Server) knownModels() func(string) bool {
	all := s.q.GetAllQuotas()
	listed := false
	for i := range all {
		for _, fq := range all[i].Families {
			if len(fq.Models) > 0 {
				listed = true
				break
			}
		}
	}
	if !listed {
		return nil
	}
	return func(id string) bool {
		if cloudcode.IsInternalModel(id) {
			return false
		}
		for i := range all {
			for _, fq := range all[i].Families {
				for _, m := range fq.Models {
					if m.ID == id {
						return true
					}
				}
			}
		}
		return false
	}
}

// resolveModel maps a client's model name to an upstream id, answering
// 404 itself when the pool does not serve it.
func (s *Server) resolveModel(w http.ResponseWriter, name string) (string, bool) {
	model, ok := s.fe.aliases.Resolve(name, s.knownModels())
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("model %q is not served by this quotatui pool (it maps to %q, which no account lists); GET /v1/models lists the models, [models.aliases] maps names", name, model))
		return "", false
	}
	return model, true
}

// generationCall is a translated generation request, ready for the one
// forwarding path (selection, attempts, retries, marks, counters).
func (s *Server) generationCall(model, session string, request []byte, stream bool) *call {
	c := &call{rpc: "generateContent", httpMethod: http.MethodPost, query: url.Values{}, model: model,
		family: cloudcode.ModelFamily(model), session: session, generation: true, setProject: true, stream: stream}
	if stream {
		c.rpc = "streamGenerateContent"
		c.query.Set("alt", "sse")
	}
	mj, _ := json.Marshal(model)
	c.env = map[string]json.RawMessage{
		"model":       mj,
		"userAgent":   json.RawMessage(`"antigravity"`),
		"requestType": json.RawMessage(`"agent"`),
		"requestId":   requestID(s.clk.Now()),
		"request":     request,
	}
	return c
}

// readFrontend reads the body of a translated route, answering the
// client itself on failure (paused, too big).
func (s *Server) readFrontend(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if s.checkPaused(w) {
		return nil, false
	}
	return s.readBody(w, r)
}

// requestError answers a request the translator refused.
func requestError(w http.ResponseWriter, err error) {
	var ae *anthropic.RequestError
	var oe *openai.RequestError
	if errors.As(err, &ae) || errors.As(err, &oe) {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeError(w, http.StatusInternalServerError, err.Error())
}

// translation is what a route's translator made of a client request.
type translation struct {
	body    []byte // the Gemini request
	session string
	stream  bool
	// streamer starts the translation of a streamed answer; whole
	// translates a non-streaming one.
	streamer func() answerStream
	whole    func(*frontend.Response) any
}

// serveTranslated runs a translated generation route: read, parse (which
// names the client's model), resolve the model, translate, and forward
// through the one forwarding path with the translator as the answer.
func (s *Server) serveTranslated(w http.ResponseWriter, r *http.Request, parse func(body []byte) (model string, err error),
	translate func(model string) (*translation, error)) {
	body, ok := s.readFrontend(w, r)
	if !ok {
		return
	}
	name, err := parse(body)
	if err != nil {
		requestError(w, err)
		return
	}
	model, ok := s.resolveModel(w, name)
	if !ok {
		return
	}
	tr, err := translate(model)
	if err != nil {
		requestError(w, err)
		return
	}
	c := s.generationCall(model, tr.session, tr.body, tr.stream)
	if tr.stream {
		c.answer = s.streamAnswer(tr.streamer)
	} else {
		c.answer = s.jsonAnswer(tr.whole)
	}
	s.forward(w, r, c)
}

func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request) {
	var req *anthropic.Request
	s.serveTranslated(w, r, func(body []byte) (string, error) {
		var err error
		if req, err = anthropic.Parse(body); err != nil {
			return "", err
		}
		return req.Model, nil
	}, func(model string) (*translation, error) {
		session := anthropic.SessionKey(firstHeader(r, "X-Claude-Code-Session-Id", "x-session-id"), req)
		tr, err := anthropic.Translate(req, model, session, s.fe.schemas)
		if err != nil {
			return nil, err
		}
		return &translation{body: tr.Body, session: session, stream: tr.Stream,
			streamer: func() answerStream { return anthropic.NewStream(tr.ClientModel, tr.Names, true) },
			whole:    func(g *frontend.Response) any { return anthropic.TranslateResponse(g, tr.ClientModel, tr.Names) }}, nil
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
	body, ok := s.readFrontend(w, r)
	if !ok {
		return
	}
	req, err := anthropic.Parse(body)
	if err != nil {
		requestError(w, err)
		return
	}
	model, ok := s.resolveModel(w, req.Model)
	if !ok {
		return
	}
	tr, err := anthropic.Translate(req, model, "", s.fe.schemas)
	if err != nil {
		requestError(w, err)
		return
	}
	var g frontend.Request
	if err := json.Unmarshal(tr.Body, &g); err != nil {
		writeError(w, http.StatusInternalServerError, "count_tokens: "+err.Error())
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
		env: map[string]json.RawMessage{"request": inner}, session: anthropic.SessionKey(firstHeader(r, "X-Claude-Code-Session-Id", "x-session-id"), req)}
	c.answer = func(w http.ResponseWriter, resp *http.Response, commit func()) (int, bool) {
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamBody))
		var n struct {
			TotalTokens int `json:"totalTokens"`
		}
		if err != nil || !isJSONDocument(b) || json.Unmarshal(unwrap(b), &n) != nil {
			return 0, false
		}
		commit()
		writeJSON(w, http.StatusOK, map[string]int{"input_tokens": n.TotalTokens})
		return http.StatusOK, true
	}
	s.forward(w, r, c)
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	var req *openai.ChatRequest
	s.serveTranslated(w, r, func(body []byte) (string, error) {
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
			streamer: func() answerStream { return openai.NewChatStream(tr.ClientModel, tr.Names, true, tr.IncludeUsage, now) },
			whole:    func(g *frontend.Response) any { return openai.TranslateChatResponse(g, tr.ClientModel, tr.Names, now) }}, nil
	})
}

func (s *Server) handleResponses(w http.ResponseWriter, r *http.Request) {
	var req *openai.ResponsesRequest
	s.serveTranslated(w, r, func(body []byte) (string, error) {
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
			streamer: func() answerStream { return openai.NewRespStream(tr.ClientModel, tr.Names, true, now) },
			whole: func(g *frontend.Response) any {
				return openai.TranslateResponsesResponse(g, tr.ClientModel, tr.Names, now)
			}}, nil
	})
}

// answerStream is a translator of a streamed answer.
type answerStream interface {
	Chunk(*frontend.Response)
	Finish()
	Fail(errType, msg string)
	Ping()
	Take() []byte
}

// jsonAnswer answers a non-streaming request: the upstream's JSON is
// parsed before anything is written, so an unusable 2xx can still move
// to another account.
func (s *Server) jsonAnswer(translate func(*frontend.Response) any) answerFunc {
	return func(w http.ResponseWriter, resp *http.Response, commit func()) (int, bool) {
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamBody))
		if err != nil || !isJSONDocument(b) {
			return 0, false
		}
		g, err := frontend.ParseResponse(b)
		if err != nil || (len(g.Candidates) == 0 && g.UsageMetadata == nil && g.PromptFeedback == nil) {
			return 0, false
		}
		commit()
		writeJSON(w, http.StatusOK, translate(g))
		return http.StatusOK, true
	}
}

// streamItem is one upstream event, parsed, or the error that ended them.
type streamItem struct {
	resp *frontend.Response
	err  error
}

// streamAnswer answers a streaming request. The first upstream event is
// read and parsed before the 200 goes out (until then a failure can still
// move to another account); then events are translated as they come, with
// a keep-alive during silent gaps, and the stream ends at the upstream's
// end of body (not at its finishReason: usage can follow).
func (s *Server) streamAnswer(newStream func() answerStream) answerFunc {
	return func(w http.ResponseWriter, resp *http.Response, commit func()) (int, bool) {
		er := frontend.NewEventReader(resp.Body)
		data, err := er.Next()
		if err != nil {
			return 0, false
		}
		first, err := frontend.ParseResponse(data)
		if err != nil {
			return 0, false
		}
		commit()
		h := w.Header()
		h.Set("Content-Type", "text/event-stream; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		st := newStream()
		send := func() bool {
			if b := st.Take(); len(b) > 0 {
				if _, err := w.Write(b); err != nil {
					return false
				}
				_ = rc.Flush()
			}
			return true
		}
		st.Chunk(first)
		if !send() {
			return http.StatusOK, true
		}

		items := make(chan streamItem)
		quit := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				var it streamItem
				d, err := er.Next()
				if err != nil {
					it.err = err
				} else {
					it.resp, it.err = frontend.ParseResponse(d)
				}
				select {
				case items <- it:
				case <-quit:
					return
				}
				if it.err != nil {
					return
				}
			}
		}()
		defer func() {
			close(quit)
			resp.Body.Close() // unblocks the reader
			<-done
		}()
		ping := time.NewTicker(s.fe.ping)
		defer ping.Stop()
		for {
			select {
			case it := <-items:
				switch {
				case it.err == nil:
					st.Chunk(it.resp)
				case errors.Is(it.err, io.EOF):
					st.Finish()
					send()
					return http.StatusOK, true
				default:
					if ctx := resp.Request; ctx != nil && ctx.Context().Err() != nil {
						return http.StatusOK, true // the client left; nothing to tell it
					}
					s.log.Warn("upstream stream broke after the first byte; ending the client's stream", "err", it.err)
					typ := "api_error"
					if errors.Is(it.err, context.DeadlineExceeded) {
						typ = "overloaded_error"
					}
					st.Fail(typ, "the upstream stream broke: "+it.err.Error())
					send()
					return http.StatusOK, true
				}
			case <-ping.C:
				st.Ping()
			}
			if !send() {
				return http.StatusOK, true // the client is gone; its context cancels the upstream
			}
		}
	}
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
	if clientShape(r) == shapeGoogle {
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
	writeError(w, http.StatusNotFound, fmt.Sprintf("model %q is not served by this quotatui pool; GET /v1/models lists the models", name))
}

// answerFunc writes a translated answer from a 2xx upstream response. It
// calls commit once it has decided the answer is usable, before writing
// anything; it reports false, having written nothing, when the answer is
// unusable, so the forwarding loop can try another account.
type answerFunc func(w http.ResponseWriter, resp *http.Response, commit func()) (status int, ok bool)
