// Package frontend holds what the Anthropic Messages and OpenAI front-ends
// of quotatui's proxy share: the Gemini GenerateContentRequest they build
// (from an allow-list, so no client field ever reaches Google), the
// response they read, tool-schema cleaning, reversible tool-name
// sanitising, the turn-structure rules Google enforces, thinking budgets,
// usage and stop-reason mapping, model aliases and session keys.
//
// Everything here is pure and deterministic: the same client history maps
// to the same upstream bytes on every turn, because Claude's thinking
// checks and prompt caching both key on the earlier turns.
package frontend

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/quotatui/quotatui/internal/rawjson"
)

// Request is the allow-listed Gemini GenerateContentRequest that goes into
// the v1internal envelope's "request". Fields are in a fixed order and
// zero values are left out, as proto3 JSON does.
type Request struct {
	Contents          []Content         `json:"contents"`
	SystemInstruction *Content          `json:"systemInstruction,omitempty"`
	Tools             []Tool            `json:"tools,omitempty"`
	ToolConfig        *ToolConfig       `json:"toolConfig,omitempty"`
	GenerationConfig  *GenerationConfig `json:"generationConfig,omitempty"`
	SessionID         string            `json:"sessionId,omitempty"`
}

// Content is one turn: role "user" or "model" and its parts.
type Content struct {
	Role  string `json:"role,omitempty"`
	Parts []Part `json:"parts"`
}

// Part is one piece of a turn. Exactly one of Text, InlineData, FileData,
// FunctionCall or FunctionResponse is set (Text may be empty on a
// signature-only thought part in answers).
type Part struct {
	Text             string            `json:"text,omitempty"`
	Thought          bool              `json:"thought,omitempty"`
	ThoughtSignature string            `json:"thoughtSignature,omitempty"`
	InlineData       *Blob             `json:"inlineData,omitempty"`
	FileData         *FileData         `json:"fileData,omitempty"`
	FunctionCall     *FunctionCall     `json:"functionCall,omitempty"`
	FunctionResponse *FunctionResponse `json:"functionResponse,omitempty"`
}

// Blob is inline binary data (base64 in JSON).
type Blob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

// FileData points at data by URI.
type FileData struct {
	MimeType string `json:"mimeType,omitempty"`
	FileURI  string `json:"fileUri"`
}

// FunctionCall is a tool call; Args is always a JSON object.
type FunctionCall struct {
	ID   string          `json:"id,omitempty"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args,omitempty"`
}

// FunctionResponse is a tool's result; Response is always a JSON object.
// Parts carries images returned by the tool: Cloud Code only shows the
// model tool images nested here.
type FunctionResponse struct {
	ID       string          `json:"id,omitempty"`
	Name     string          `json:"name"`
	Response json.RawMessage `json:"response"`
	Parts    []Part          `json:"parts,omitempty"`
}

// Tool holds the function declarations; quotatui sends one Tool with all
// of them.
type Tool struct {
	FunctionDeclarations []FunctionDeclaration `json:"functionDeclarations,omitempty"`
}

// FunctionDeclaration declares one tool; Parameters is a cleaned schema.
type FunctionDeclaration struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

// ToolConfig says how the model may call tools.
type ToolConfig struct {
	FunctionCallingConfig *FunctionCallingConfig `json:"functionCallingConfig,omitempty"`
}

// FunctionCallingConfig is the mode (AUTO, ANY, NONE) and, for ANY, the
// functions allowed.
type FunctionCallingConfig struct {
	Mode                 string   `json:"mode,omitempty"`
	AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
}

// GenerationConfig holds the sampling settings. Pointers keep a client's
// explicit 0 (temperature 0 is a real choice) apart from "not given".
type GenerationConfig struct {
	MaxOutputTokens  int             `json:"maxOutputTokens,omitempty"`
	Temperature      *float64        `json:"temperature,omitempty"`
	TopP             *float64        `json:"topP,omitempty"`
	TopK             *int            `json:"topK,omitempty"`
	StopSequences    []string        `json:"stopSequences,omitempty"`
	ResponseMimeType string          `json:"responseMimeType,omitempty"`
	ResponseSchema   json.RawMessage `json:"responseSchema,omitempty"`
	ThinkingConfig   *ThinkingConfig `json:"thinkingConfig,omitempty"`
}

// Empty reports a config with nothing set, which is then left out.
func (g *GenerationConfig) Empty() bool {
	return g.MaxOutputTokens == 0 && g.Temperature == nil && g.TopP == nil && g.TopK == nil && len(g.StopSequences) == 0 &&
		g.ResponseMimeType == "" && len(g.ResponseSchema) == 0 && g.ThinkingConfig == nil
}

// ThinkingConfig asks for thoughts and bounds them.
type ThinkingConfig struct {
	IncludeThoughts bool `json:"includeThoughts,omitempty"`
	ThinkingBudget  int  `json:"thinkingBudget,omitempty"`
}

// Response is one Gemini GenerateContentResponse (a whole answer, or one
// chunk of a stream).
type Response struct {
	Candidates     []Candidate `json:"candidates"`
	UsageMetadata  *Usage      `json:"usageMetadata"`
	ModelVersion   string      `json:"modelVersion"`
	ResponseID     string      `json:"responseId"`
	PromptFeedback *struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
}

// Candidate is one answer candidate; quotatui asks for one.
type Candidate struct {
	Content      Content `json:"content"`
	FinishReason string  `json:"finishReason"`
}

// Usage is Gemini's usageMetadata. Missing counts are zero (proto3).
type Usage struct {
	PromptTokenCount        int `json:"promptTokenCount"`
	CandidatesTokenCount    int `json:"candidatesTokenCount"`
	TotalTokenCount         int `json:"totalTokenCount"`
	ThoughtsTokenCount      int `json:"thoughtsTokenCount"`
	CachedContentTokenCount int `json:"cachedContentTokenCount"`
}

// Input is the prompt tokens not read from cache (Anthropic's
// input_tokens: Antigravity's prompt count includes the cached part).
func (u Usage) Input() int { return max(u.PromptTokenCount-u.CachedContentTokenCount, 0) }

// Output is what the answer cost: candidates plus thoughts, since both are
// billed as output. When the candidates count is missing but the total is
// not, it is derived from the total.
func (u Usage) Output() int {
	out := u.CandidatesTokenCount + u.ThoughtsTokenCount
	if u.CandidatesTokenCount == 0 && u.TotalTokenCount > u.PromptTokenCount {
		out = max(out, u.TotalTokenCount-u.PromptTokenCount)
	}
	return out
}

// Total is prompt plus output.
func (u Usage) Total() int { return max(u.TotalTokenCount, u.PromptTokenCount+u.Output()) }

// ParseResponse reads a Gemini answer, unwrapping v1internal's
// {"response": ...} envelope when present. It fails on anything that is
// not a JSON object. The common shape is read by decodeResponse, the rest
// (and every error) by encoding/json.
func ParseResponse(b []byte) (*Response, error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' && rawjson.Valid(b) {
		// The usual envelope, read in the same pass as its response.
		if r, ok := decodeEnvelope(b); ok {
			return r, nil
		}
		// Find "response" without decoding the envelope (a second scan
		// of every answer and event, and a copy of the response).
		if v, ok := rawjson.Field(b, "response"); ok && !rawjson.IsNull(v) {
			b = v
		}
		if r, ok := decodeResponse(b); ok {
			return r, nil
		}
	} else {
		// Not an object: encoding/json's words for what is wrong.
		var env struct {
			Response json.RawMessage `json:"response"`
		}
		if err := json.Unmarshal(b, &env); err != nil {
			return nil, err
		}
		if len(env.Response) > 0 && string(env.Response) != "null" {
			b = env.Response
		}
	}
	var r Response
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Parts returns the first candidate's parts (none when there is no
// candidate).
func (r *Response) Parts() []Part {
	if len(r.Candidates) == 0 {
		return nil
	}
	return r.Candidates[0].Content.Parts
}

// FinishReason returns the first candidate's finish reason, or "".
func (r *Response) FinishReason() string {
	if len(r.Candidates) == 0 {
		if r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" {
			return "SAFETY"
		}
		return ""
	}
	return r.Candidates[0].FinishReason
}

// Family is the model family that decides the translation rules: the
// upstream id contains "claude", "gemini", or neither.
type Family uint8

// The families.
const (
	Other Family = iota
	Claude
	Gemini
)

// FamilyOf returns the translation family of an upstream model id.
func FamilyOf(model string) Family {
	m := strings.ToLower(model)
	switch {
	case strings.Contains(m, "claude"):
		return Claude
	case strings.Contains(m, "gemini"):
		return Gemini
	}
	return Other
}

// SkipSignature is the sentinel Gemini accepts on a replayed function
// call whose own signature is not usable (another account or model
// issued it, or the client dropped it). Claude rejects it.
const SkipSignature = "skip_thought_signature_validator"
