package cloudcodetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/quotatui/quotatui/internal/cloudcode"
)

// maxBody bounds a request body the simulator reads.
const maxBody = 32 << 20

// simModel is one entry of the simulated model catalogue.
type simModel struct {
	id, name              string
	maxTokens, maxOutput  int
	recommended, thinking bool
}

// catalogue is what fetchAvailableModels lists, internal models included.
var catalogue = []simModel{
	{"gemini-3-flash", "Gemini 3 Flash", 1048576, 65535, true, true},
	{"gemini-3-pro-high", "Gemini 3 Pro (High)", 1048576, 65535, true, true},
	{"gemini-3-pro-low", "Gemini 3 Pro (Low)", 1048576, 65535, false, true},
	{"gemini-2.5-flash", "Gemini 2.5 Flash", 1048576, 65535, false, true},
	// Gemini CLI routes and summarises with the lite model.
	{"gemini-3.1-flash-lite", "Gemini 3.1 Flash Lite", 1048576, 65535, false, false},
	{"claude-sonnet-4-6", "Claude Sonnet 4.6", 200000, 64000, false, false},
	{"claude-sonnet-4-6-thinking", "Claude Sonnet 4.6 (Thinking)", 200000, 64000, true, true},
	{"claude-opus-4-6-thinking", "Claude Opus 4.6 (Thinking)", 200000, 64000, true, true},
	{"gpt-oss-120b-medium", "GPT-OSS 120B (Medium)", 131072, 32768, false, true},
	{"chat_20706", "chat_20706", 0, 0, false, false},
	{"tab_flash_lite_preview", "tab_flash_lite_preview", 0, 0, false, false},
}

// deprecated maps retired model ids to their successors; generate calls
// still accept the old ids, as the service does for a while.
var deprecated = map[string]string{
	"gemini-2.5-pro":             "gemini-3-pro-high",
	"gemini-3-pro-preview":       "gemini-3-pro-high",
	"claude-sonnet-4-5":          "claude-sonnet-4-6",
	"claude-sonnet-4-5-thinking": "claude-sonnet-4-6-thinking",
	"claude-opus-4-5-thinking":   "claude-opus-4-6-thinking",
}

// knownModel reports whether a generate call may use id (a "models/"
// prefix allowed) and returns it without the prefix.
func knownModel(id string) (string, bool) {
	id = strings.TrimPrefix(id, "models/")
	if _, ok := deprecated[id]; ok {
		return id, true
	}
	for _, m := range catalogue {
		if m.id == id && !cloudcode.IsInternalModel(id) {
			return id, true
		}
	}
	return id, false
}

// methods are the v1internal methods the simulator implements, with the
// HTTP method each takes: quotatui's own and the Code Assist methods Gemini
// CLI calls. Google answers any other with 404, before it looks at the
// token; so does the simulator.
var methods = map[string]string{
	"loadCodeAssist":                 http.MethodPost,
	"fetchAvailableModels":           http.MethodPost,
	"retrieveUserQuotaSummary":       http.MethodPost,
	"generateContent":                http.MethodPost,
	"streamGenerateContent":          http.MethodPost,
	"countTokens":                    http.MethodPost,
	"listExperiments":                http.MethodPost,
	"retrieveUserQuota":              http.MethodPost,
	"fetchAdminControls":             http.MethodPost,
	"recordCodeAssistMetrics":        http.MethodPost,
	"onboardUser":                    http.MethodPost,
	"getCodeAssistGlobalUserSetting": http.MethodGet,
	"setCodeAssistGlobalUserSetting": http.MethodPost,
}

// rpcOperations is the counter name of GET v1internal/operations/<name>.
const rpcOperations = "operations"

// operationPolls is how many GETs of an onboarding operation answer "not
// done" before it is: one, so a client must poll as Gemini CLI does.
const operationPolls = 1

// handleV1Internal runs the steps every v1internal call shares (count,
// latency, host down, method, auth, hang, flags) and dispatches by method.
func (s *Server) handleV1Internal(w http.ResponseWriter, r *http.Request, host int, rpc string) {
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	a, body, ok := s.admit(w, r, host, rpc)
	if !ok {
		return
	}
	switch rpc {
	case "loadCodeAssist":
		s.loadCodeAssist(w, a)
	case "fetchAvailableModels":
		s.fetchAvailableModels(w, r, a, host, body)
	case "retrieveUserQuotaSummary":
		s.retrieveUserQuotaSummary(w, r, a, body)
	case "generateContent", "streamGenerateContent":
		s.generate(w, r, a, rpc, body)
	case "countTokens":
		s.countTokens(w, body)
	default:
		s.otherMethod(w, a, rpc)
	}
}

// handleOperation answers GET v1internal/operations/<name>: the state of a
// long-running operation (onboardUser's) the caller's account started.
func (s *Server) handleOperation(w http.ResponseWriter, r *http.Request, host int, name string) {
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	a, _, ok := s.admit(w, r, host, rpcOperations)
	if !ok {
		return
	}
	a.mu.Lock()
	mine := a.onboardOp != "" && a.onboardOp == "operations/"+name
	done := false
	if mine {
		// Onboarding takes a while: the first polls find it running.
		a.onboardPolls++
		if done = a.onboardPolls > operationPolls; done {
			a.notOnboarded = false
		}
	}
	a.mu.Unlock()
	if !mine {
		writeGoogleError(w, http.StatusNotFound, "NOT_FOUND", "Operation operations/"+name+" not found.")
		return
	}
	writeJSON(w, http.StatusOK, onboardAnswer(a, "operations/"+name, done))
}

// admit runs the shared steps of a v1internal call (the caller counts it
// in flight) and reports whether the call may go on, with the caller's account and the request body. It has
// answered the call when it reports false.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, host int, rpc string) (*account, []byte, bool) {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	a, valid, client := s.bearer(token)
	email := ""
	if a != nil {
		email = a.email
	}
	s.counts.add(email, rpc)

	// Read the body first: net/http notices a client that went away (and
	// cancels r.Context) only once the body has been consumed.
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeGoogleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Could not read the request body.")
		return nil, nil, false
	}
	if !s.sleep(r, time.Duration(s.latency.Load())) {
		return nil, nil, false
	}
	if status := int(s.hostDown[host].Load()); status != 0 {
		writeGoogleError(w, status, cloudcode.StatusName(status), "The service is currently unavailable.")
		return nil, nil, false
	}
	wantMethod, known := methods[rpc]
	if rpc == rpcOperations {
		wantMethod, known = http.MethodGet, true
	}
	if !known || r.Method != wantMethod {
		writeGoogleError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("Method not found: %s %s.", r.Method, rpc))
		return nil, nil, false
	}
	if !valid {
		reason := "ACCESS_TOKEN_TYPE_UNSUPPORTED" // a token the server never issued
		switch {
		case token == "":
			reason = "CREDENTIALS_MISSING"
		case a != nil:
			reason = "ACCESS_TOKEN_EXPIRED"
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
		writeGoogleError(w, http.StatusUnauthorized, "UNAUTHENTICATED",
			"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
			cloudcode.ErrorInfo{Type: cloudcode.ErrorInfoType, Reason: reason, Domain: "googleapis.com",
				Metadata: map[string]string{"service": cloudcode.ErrorDomain, "method": "google.internal.cloud.code.v1internal.CloudCode." + rpc}})
		return nil, nil, false
	}
	if client.Refused {
		// Google refuses the Cloud Code API to OAuth clients registered in
		// an ordinary Cloud project, whatever the account.
		project := fmt.Sprintf("%d", 100000000000+int64(emailHash(client.ID)))
		writeGoogleError(w, http.StatusForbidden, "PERMISSION_DENIED",
			fmt.Sprintf("Cloud Code Private API has not been used in project %s before or it is disabled. Enable it by visiting "+
				"https://console.developers.google.com/apis/api/cloudcode-pa.googleapis.com/overview?project=%s then retry.", project, project),
			cloudcode.ErrorInfo{Type: cloudcode.ErrorInfoType, Reason: "SERVICE_DISABLED", Domain: "googleapis.com",
				Metadata: map[string]string{"consumer": "projects/" + project, "service": cloudcode.ErrorDomain}})
		return nil, nil, false
	}
	if !s.waitHang(r, a) {
		return nil, nil, false
	}
	if s.writeFlagError(w, a, rpc) || s.writeReadLimit(w, a, rpc) {
		return nil, nil, false
	}
	return a, body, true
}

// waitHang blocks while the account is set to hang. It reports false if
// the request or the server ended first.
func (s *Server) waitHang(r *http.Request, a *account) bool {
	a.mu.Lock()
	hang := a.hang
	a.mu.Unlock()
	if hang == nil {
		return true
	}
	select {
	case <-hang:
		return true
	case <-r.Context().Done():
		return false
	case <-s.closing:
		return false
	}
}

// writeFlagError answers 403 for a forbidden or validation-flagged
// account and reports whether it did. loadCodeAssist still answers a
// flagged account: that is where clients learn the validation URL.
func (s *Server) writeFlagError(w http.ResponseWriter, a *account, rpc string) bool {
	a.mu.Lock()
	forbidden, reason, vurl := a.forbidden, a.forbidReason, a.validationURL
	a.mu.Unlock()
	switch {
	case forbidden && reason == "":
		writeGoogleError(w, http.StatusForbidden, "PERMISSION_DENIED", "The caller does not have permission")
	case forbidden:
		writeGoogleError(w, http.StatusForbidden, "PERMISSION_DENIED",
			fmt.Sprintf("Cloud AI Companion API has not been used in project %s before or it is disabled (%s).", a.project, reason),
			cloudcode.NewErrorInfo(reason, map[string]string{"consumer": "projects/" + a.project, "service": cloudcode.ErrorDomain}))
	case vurl != "" && rpc != "loadCodeAssist":
		writeGoogleError(w, http.StatusForbidden, "PERMISSION_DENIED", "To continue, verify your account at "+vurl,
			cloudcode.NewErrorInfo("VALIDATION_REQUIRED", map[string]string{"validation_link": vurl}))
	default:
		return false
	}
	return true
}

// writeReadLimit answers a quota read with 429 while the account's reads
// are rate-limited (SetQuotaReadLimit) and reports whether it did.
func (s *Server) writeReadLimit(w http.ResponseWriter, a *account, rpc string) bool {
	switch rpc {
	case "fetchAvailableModels", "retrieveUserQuotaSummary", "retrieveUserQuota":
	default:
		return false
	}
	a.mu.Lock()
	d := a.readLimit
	a.mu.Unlock()
	if d <= 0 {
		return false
	}
	writeGoogleError(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED",
		fmt.Sprintf("Quota exceeded for quota metric 'Read requests' of service '%s'. Please retry in %s.", cloudcode.ErrorDomain, cloudcode.NewRetryInfo(d).RetryDelay),
		cloudcode.NewErrorInfo("RATE_LIMIT_EXCEEDED", map[string]string{"service": cloudcode.ErrorDomain}),
		cloudcode.NewRetryInfo(d))
	return true
}

type tierJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	IsDefault   bool   `json:"isDefault,omitempty"`
}

type ineligibleTierJSON struct {
	ReasonCode    string `json:"reasonCode"`
	ReasonMessage string `json:"reasonMessage"`
	TierID        string `json:"tierId"`
	TierName      string `json:"tierName"`
	ValidationURL string `json:"validationUrl"`
}

type loadCodeAssistJSON struct {
	CurrentTier             *tierJSON            `json:"currentTier,omitempty"`
	AllowedTiers            []tierJSON           `json:"allowedTiers"`
	IneligibleTiers         []ineligibleTierJSON `json:"ineligibleTiers,omitempty"`
	CloudaicompanionProject any                  `json:"cloudaicompanionProject,omitempty"`
	PaidTier                *tierJSON            `json:"paidTier,omitempty"`
	GCPManaged              bool                 `json:"gcpManaged"`
}

// tierName is the display name the service gives a tier id.
func tierName(id string) string {
	switch id {
	case "free-tier":
		return "Gemini Code Assist for individuals"
	case "legacy-tier":
		return "Gemini Code Assist (legacy)"
	case "standard-tier":
		return "Gemini Code Assist"
	case "g1-pro-tier":
		return "Google AI Pro"
	case "g1-ultra-tier":
		return "Google AI Ultra"
	case "ws-ai-ultra-business-tier":
		return "Google AI Ultra for Business"
	case "g1-plus-tier":
		return "Google AI Plus"
	}
	return id
}

func (s *Server) loadCodeAssist(w http.ResponseWriter, a *account) {
	a.mu.Lock()
	vurl, noProject := a.validationURL, a.notOnboarded
	a.mu.Unlock()
	resp := loadCodeAssistJSON{
		AllowedTiers: []tierJSON{
			{ID: "free-tier", Name: tierName("free-tier"), IsDefault: a.tier == cloudcode.TierFree || a.tier == cloudcode.TierUnknown},
			{ID: "standard-tier", Name: tierName("standard-tier"), IsDefault: a.tier == cloudcode.TierPro || a.tier == cloudcode.TierUltra},
		},
	}
	switch a.tierID {
	case "free-tier", "legacy-tier", "standard-tier":
		resp.CurrentTier = &tierJSON{ID: a.tierID, Name: tierName(a.tierID), Description: "Code assistance for " + tierName(a.tierID)}
	default:
		// Paid plans show up as paidTier on top of the standard tier.
		resp.CurrentTier = &tierJSON{ID: "standard-tier", Name: tierName("standard-tier")}
		resp.PaidTier = &tierJSON{ID: a.tierID, Name: tierName(a.tierID)}
	}
	switch {
	case noProject:
		// Never onboarded: Google names no project until onboardUser.
	case a.projectAsObject:
		resp.CloudaicompanionProject = map[string]string{"id": a.project, "name": a.project}
	default:
		resp.CloudaicompanionProject = a.project
	}
	if vurl != "" {
		resp.IneligibleTiers = []ineligibleTierJSON{{
			ReasonCode:    "VALIDATION_REQUIRED",
			ReasonMessage: "Verify your account to continue.",
			TierID:        a.tierID,
			TierName:      tierName(a.tierID),
			ValidationURL: vurl,
		}}
	}
	writeJSON(w, http.StatusOK, resp)
}

// projectBody is the body of the quota methods.
type projectBody struct {
	Project string `json:"project"`
}

// parseProject reads the optional project of a quota call, answering 400
// on a body that is not JSON.
func parseProject(w http.ResponseWriter, body []byte) (string, bool) {
	var pb projectBody
	if len(strings.TrimSpace(string(body))) == 0 {
		return "", true
	}
	if err := json.Unmarshal(body, &pb); err != nil {
		writeGoogleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error())
		return "", false
	}
	return pb.Project, true
}

func writeProjectDenied(w http.ResponseWriter, project string) {
	writeGoogleError(w, http.StatusForbidden, "PERMISSION_DENIED",
		fmt.Sprintf("Permission denied on resource project %s.", project),
		cloudcode.NewErrorInfo("CONSUMER_INVALID", map[string]string{"consumer": "projects/" + project, "service": cloudcode.ErrorDomain}))
}

// figure is one bucket's state at a moment.
type figure struct {
	fraction float64
	reset    time.Time
}

// snapshot rolls the account's buckets and returns their figures,
// indexed like account.buckets.
func (s *Server) snapshot(a *account) (figs [3][2]figure, frozen bool) {
	now := s.clk.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, f := range cloudcode.Families {
		for wi := range a.buckets[f] {
			b := &a.buckets[f][wi]
			b.roll(now)
			figs[f][wi] = figure{s.reported(b.fraction()), b.reset}
		}
	}
	return figs, a.frozenProd
}

// quotaInfoJSON is a model's 5-hour figure. A 0 fraction is not written
// (writeJSON encodes proto3 JSON), as Google sends an exhausted model.
type quotaInfoJSON struct {
	RemainingFraction float64 `json:"remainingFraction"`
	ResetTime         string  `json:"resetTime"`
}

type modelJSON struct {
	DisplayName      string         `json:"displayName"`
	QuotaInfo        *quotaInfoJSON `json:"quotaInfo,omitempty"`
	MaxTokens        int            `json:"maxTokens,omitempty"`
	MaxOutputTokens  int            `json:"maxOutputTokens,omitempty"`
	Recommended      bool           `json:"recommended,omitempty"`
	SupportsThinking bool           `json:"supportsThinking,omitempty"`
	ModelProvider    string         `json:"modelProvider,omitempty"`
}

type newModelJSON struct {
	NewModelID string `json:"newModelId"`
}

type availableModelsJSON struct {
	Models             map[string]modelJSON    `json:"models"`
	DeprecatedModelIDs map[string]newModelJSON `json:"deprecatedModelIds"`
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (s *Server) fetchAvailableModels(w http.ResponseWriter, r *http.Request, a *account, host int, body []byte) {
	project, ok := parseProject(w, body)
	if !ok {
		return
	}
	if project != "" && project != a.project {
		writeProjectDenied(w, project)
		return
	}
	figs, frozen := s.snapshot(a)
	now := s.clk.Now()
	resp := availableModelsJSON{Models: make(map[string]modelJSON, len(catalogue)), DeprecatedModelIDs: make(map[string]newModelJSON, len(deprecated))}
	for old, repl := range deprecated {
		resp.DeprecatedModelIDs[old] = newModelJSON{NewModelID: repl}
	}
	for _, m := range catalogue {
		mj := modelJSON{DisplayName: m.name, MaxTokens: m.maxTokens, MaxOutputTokens: m.maxOutput, Recommended: m.recommended, SupportsThinking: m.thinking}
		f := cloudcode.ModelFamily(m.id)
		switch {
		case f == cloudcode.FamilyUnknown:
			// Internal models carry no quota.
		case host == 1 && frozen:
			// The prod host's frozen placeholder: full, resetting in 5h.
			mj.QuotaInfo = &quotaInfoJSON{RemainingFraction: 1, ResetTime: formatTime(now.Add(fiveHours))}
		case project == "":
			// The real quirk: without a project every model reads 100 %.
			mj.QuotaInfo = &quotaInfoJSON{RemainingFraction: 1, ResetTime: formatTime(figs[f][0].reset)}
		default:
			fig := figs[f][0]
			mj.QuotaInfo = &quotaInfoJSON{RemainingFraction: fig.fraction, ResetTime: formatTime(fig.reset)}
		}
		if f == cloudcode.FamilyClaudeGPT {
			mj.ModelProvider = "MODEL_PROVIDER_ANTHROPIC"
			if strings.HasPrefix(m.id, "gpt") {
				mj.ModelProvider = "MODEL_PROVIDER_OPENAI"
			}
		}
		resp.Models[m.id] = mj
	}
	if !s.holdReply(r, a) {
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

type summaryBucketJSON struct {
	BucketID          string  `json:"bucketId"`
	Window            string  `json:"window"`
	RemainingFraction float64 `json:"remainingFraction"`
	ResetTime         string  `json:"resetTime"`
}

type summaryGroupJSON struct {
	DisplayName string              `json:"displayName"`
	Buckets     []summaryBucketJSON `json:"buckets"`
}

type summaryJSON struct {
	Groups []summaryGroupJSON `json:"groups"`
}

// bucketPrefix is the family's bucket id prefix in the quota summary.
func bucketPrefix(f cloudcode.Family) string {
	if f == cloudcode.FamilyGemini {
		return "gemini"
	}
	return "3p"
}

func (s *Server) retrieveUserQuotaSummary(w http.ResponseWriter, r *http.Request, a *account, body []byte) {
	project, ok := parseProject(w, body)
	if !ok {
		return
	}
	if project != a.project {
		writeProjectDenied(w, project)
		return
	}
	figs, _ := s.snapshot(a)
	var sum summaryJSON
	for _, f := range cloudcode.Families {
		g := summaryGroupJSON{DisplayName: f.Title()}
		for wi, win := range [2]cloudcode.Window{cloudcode.Window5h, cloudcode.WindowWeekly} {
			fig := figs[f][wi]
			g.Buckets = append(g.Buckets, summaryBucketJSON{
				BucketID:          bucketPrefix(f) + "-" + string(win),
				Window:            string(win),
				RemainingFraction: fig.fraction,
				ResetTime:         formatTime(fig.reset),
			})
		}
		sum.Groups = append(sum.Groups, g)
	}
	if !s.holdReply(r, a) {
		return
	}
	if a.wrapSummary {
		writeJSON(w, http.StatusOK, map[string]any{"quotaSummary": sum})
		return
	}
	writeJSON(w, http.StatusOK, sum)
}

// holdReply delays a quota answer that is already computed by the
// account's reply delay (SetReplyDelay), as a slow network does on the way
// back: the figure is the one from before the delay. It reports false if
// the request or the server ended first.
func (s *Server) holdReply(r *http.Request, a *account) bool {
	a.mu.Lock()
	d := a.replyDelay
	a.mu.Unlock()
	if d <= 0 {
		return true
	}
	s.held.Add(1)
	defer s.held.Add(-1)
	return s.sleep(r, d)
}

// otherMethod answers the Code Assist methods quotatui does not use
// itself with plausible minimal bodies, so a passthrough proxy can be
// tested against the calls Gemini CLI makes.
func (s *Server) otherMethod(w http.ResponseWriter, a *account, rpc string) {
	var resp any
	switch rpc {
	case "listExperiments":
		resp = map[string]any{"experimentIds": []int{45000001, 45000002}, "flags": []map[string]any{
			{"flagId": 45000001, "boolValue": true}, {"flagId": 45000002, "intValue": "3"}}}
	case "retrieveUserQuota":
		// Per-model buckets of the 5-hour window, as Gemini CLI reads them.
		figs, _ := s.snapshot(a)
		var buckets []map[string]any
		for _, m := range catalogue {
			f := cloudcode.ModelFamily(m.id)
			if f == cloudcode.FamilyUnknown {
				continue
			}
			fig := figs[f][0]
			buckets = append(buckets, map[string]any{"modelId": m.id, "remainingFraction": fig.fraction, "resetTime": formatTime(fig.reset), "tokenType": "REQUESTS"})
		}
		resp = map[string]any{"buckets": buckets}
	case "onboardUser":
		a.mu.Lock()
		pending := a.notOnboarded
		if pending {
			// Onboarding a new account takes a while: the caller polls the
			// operation (GET v1internal/operations/<name>) until done.
			a.onboardOp = "operations/onboard-" + a.id
			a.onboardPolls = 0
		}
		a.mu.Unlock()
		resp = onboardAnswer(a, "operations/onboard-"+a.id, !pending)
	case "getCodeAssistGlobalUserSetting", "setCodeAssistGlobalUserSetting":
		resp = map[string]any{"cloudaicompanionProject": a.project, "freeTierDataCollectionOptin": false}
	default:
		// fetchAdminControls (a personal account has none) and
		// recordCodeAssistMetrics answer an empty message.
		resp = map[string]any{}
	}
	writeJSON(w, http.StatusOK, resp)
}

// onboardAnswer is onboardUser's long-running operation, done or not.
func onboardAnswer(a *account, name string, done bool) map[string]any {
	op := map[string]any{"name": name, "done": done}
	if done {
		op["response"] = map[string]any{
			"@type":                   "type.googleapis.com/google.internal.cloud.code.v1internal.OnboardUserResponse",
			"cloudaicompanionProject": map[string]string{"id": a.project, "name": a.project},
		}
	}
	return op
}
