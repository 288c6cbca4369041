package cloudcodetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// envelope is the wrapped generation request.
type envelope struct {
	Project string          `json:"project"`
	Model   string          `json:"model"`
	Request json.RawMessage `json:"request"`
}

// genRequest is the part of a Gemini GenerateContentRequest the simulator
// reads to count tokens.
type genRequest struct {
	Contents []struct {
		Parts []struct {
			Text string `json:"text"`
		} `json:"parts"`
	} `json:"contents"`
}

// promptTokens estimates a request's prompt size the usual way: about four
// characters a token.
func promptTokens(raw json.RawMessage) int {
	var req genRequest
	if len(raw) == 0 || json.Unmarshal(raw, &req) != nil {
		return 1
	}
	n := 0
	for _, c := range req.Contents {
		for _, p := range c.Parts {
			n += len(p.Text)
		}
	}
	return n/4 + 1
}

// generate runs the checks of a generate call in the service's order
// (RPM, faults, empty bucket), drains the family's buckets and answers.
func (s *Server) generate(w http.ResponseWriter, r *http.Request, a *account, rpc string, body []byte) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		writeGoogleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error())
		return
	}
	req, err := checkEnvelope(body)
	if err != nil {
		writeCheckError(w, err)
		return
	}
	if env.Model == "" {
		writeGoogleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Request contains an invalid argument: model is required.")
		return
	}
	model, ok := knownModel(env.Model)
	if !ok {
		writeGoogleError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("Requested entity was not found: model %s.", env.Model))
		return
	}
	if env.Project != a.project {
		writeProjectDenied(w, env.Project)
		return
	}
	if err := s.checkTurns(a, model, req); err != nil {
		writeCheckError(w, err)
		return
	}
	family := cloudcode.ModelFamily(model)
	now := s.clk.Now()

	if delay, limited := s.rateLimit(a, now); limited {
		writeGoogleError(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED",
			fmt.Sprintf("Rate limit exceeded for model %s. Please retry in %s.", model, cloudcode.NewRetryInfo(delay).RetryDelay),
			cloudcode.NewErrorInfo("RATE_LIMIT_EXCEEDED", map[string]string{"model": model}),
			cloudcode.NewRetryInfo(delay))
		return
	}
	if s.bare429(w, a) {
		return
	}
	switch s.faults.draw() {
	case bareFault:
		writeGoogleError(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", bareExhaustedMessage)
		return
	case capacityFault:
		writeCapacityError(w, http.StatusServiceUnavailable, "UNAVAILABLE", model)
		return
	case capacity429Fault:
		writeCapacityError(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", model)
		return
	}
	s.spendAlongside(a, family, now)
	if reset, spent := s.consume(a, family, now); spent {
		delay := reset.Sub(now)
		writeGoogleError(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED",
			"You have exhausted your capacity on this model. Your quota will reset after "+messageDuration(delay)+".",
			cloudcode.NewErrorInfo("QUOTA_EXHAUSTED", map[string]string{
				"model":               model,
				"quotaResetDelay":     delay.String(),
				"quotaResetTimeStamp": formatTime(reset),
			}),
			cloudcode.NewRetryInfo(delay))
		return
	}

	w = s.faultyAnswer(w, r, a)
	p := s.compose(a, model, req, s.opts.StreamChunks)
	if rpc == "generateContent" {
		writeJSON(w, http.StatusOK, p.whole())
		return
	}
	s.stream(w, r, p)
}

// writeCapacityError answers that Google is out of capacity for model.
func writeCapacityError(w http.ResponseWriter, code int, status, model string) {
	writeGoogleError(w, code, status,
		fmt.Sprintf("No capacity available for model %s on the server", model),
		cloudcode.NewErrorInfo("MODEL_CAPACITY_EXHAUSTED", map[string]string{"model": model}),
		cloudcode.NewRetryInfo(40*time.Second))
}

// rateLimit applies the per-account RPM limit over the last minute of sim
// time, recording the call when it passes.
func (s *Server) rateLimit(a *account, now time.Time) (time.Duration, bool) {
	if s.opts.RPM <= 0 {
		return 0, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	cut := 0
	for cut < len(a.rpmLog) && !a.rpmLog[cut].After(now.Add(-time.Minute)) {
		cut++
	}
	a.rpmLog = a.rpmLog[cut:]
	if len(a.rpmLog) >= s.opts.RPM {
		return a.rpmLog[0].Add(time.Minute).Sub(now), true
	}
	a.rpmLog = append(a.rpmLog, now)
	return 0, false
}

// consume takes one unit from both buckets of the family. When either is
// empty it takes nothing and returns when the family is usable again.
func (s *Server) consume(a *account, f cloudcode.Family, now time.Time) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	bs := &a.buckets[f]
	var reset time.Time
	for i := range bs {
		bs[i].roll(now)
		if bs[i].empty() && bs[i].reset.After(reset) {
			reset = bs[i].reset
		}
	}
	if !reset.IsZero() {
		return reset, true
	}
	for i := range bs {
		bs[i].used++
	}
	return time.Time{}, false
}

// stream answers streamGenerateContent: SSE events StreamInterval apart
// with ?alt=sse, else one JSON array as the service does. A client that
// goes away, or Close, ends the stream.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, p *plan) {
	chunks := p.chunks(s.opts.StreamChunks)
	if r.URL.Query().Get("alt") != "sse" {
		writeJSON(w, http.StatusOK, chunks)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	var buf bytes.Buffer
	for i := range chunks {
		if i > 0 && !s.sleep(r, s.opts.StreamInterval) {
			return
		}
		data, err := marshalProto3(chunks[i])
		if err != nil {
			return // cannot happen with these types; the client sees a short stream
		}
		buf.Reset()
		buf.WriteString("data: ")
		buf.Write(data)
		buf.WriteString("\n\n")
		if _, err := w.Write(buf.Bytes()); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
}

// countTokens answers {"totalTokens": N}; it costs no quota.
func (s *Server) countTokens(w http.ResponseWriter, body []byte) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		writeGoogleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error())
		return
	}
	raw := env.Request
	if len(raw) == 0 {
		raw = body // a bare GenerateContentRequest
	}
	writeJSON(w, http.StatusOK, map[string]int{"totalTokens": promptTokens(raw)})
}
