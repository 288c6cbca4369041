package cloudcodetest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// simRequest is a checked, normalized GenerateContentRequest.
type simRequest struct {
	Contents          []simContent `json:"contents"`
	SystemInstruction *simContent  `json:"systemInstruction"`
	Tools             []struct {
		FunctionDeclarations []struct {
			Name                 string          `json:"name"`
			Parameters           json.RawMessage `json:"parameters"`
			ParametersJSONSchema json.RawMessage `json:"parametersJsonSchema"`
		} `json:"functionDeclarations"`
	} `json:"tools"`
	ToolConfig *struct {
		FunctionCallingConfig *struct {
			Mode string `json:"mode"`
		} `json:"functionCallingConfig"`
	} `json:"toolConfig"`
	GenerationConfig *struct {
		MaxOutputTokens    int             `json:"maxOutputTokens"`
		ResponseMimeType   string          `json:"responseMimeType"`
		ResponseSchema     json.RawMessage `json:"responseSchema"`
		ResponseJSONSchema json.RawMessage `json:"responseJsonSchema"`
		ThinkingConfig     *struct {
			IncludeThoughts bool   `json:"includeThoughts"`
			ThinkingBudget  int    `json:"thinkingBudget"`
			ThinkingLevel   string `json:"thinkingLevel"`
		} `json:"thinkingConfig"`
	} `json:"generationConfig"`
	SessionID string `json:"sessionId"`
}

type simContent struct {
	Role  string    `json:"role"`
	Parts []simPart `json:"parts"`
}

type simPart struct {
	Text             *string `json:"text"`
	Thought          bool    `json:"thought"`
	ThoughtSignature string  `json:"thoughtSignature"`
	InlineData       *struct {
		MimeType string `json:"mimeType"`
		Data     string `json:"data"`
	} `json:"inlineData"`
	FileData *struct {
		FileURI string `json:"fileUri"`
	} `json:"fileData"`
	FunctionCall *struct {
		ID   string          `json:"id"`
		Name string          `json:"name"`
		Args json.RawMessage `json:"args"`
	} `json:"functionCall"`
	FunctionResponse *struct {
		ID       string          `json:"id"`
		Name     string          `json:"name"`
		Response json.RawMessage `json:"response"`
	} `json:"functionResponse"`
	ExecutableCode      json.RawMessage `json:"executableCode"`
	CodeExecutionResult json.RawMessage `json:"codeExecutionResult"`
}

func (p simPart) hasData() bool {
	return (p.Text != nil && *p.Text != "") || p.InlineData != nil || p.FileData != nil || p.FunctionCall != nil ||
		p.FunctionResponse != nil || len(p.ExecutableCode) > 0 || len(p.CodeExecutionResult) > 0
}

// requestError is a 400 the simulator answers. claude marks errors the
// Claude backend raises: Google wraps Anthropic's error JSON in its
// message, as the real service does.
type requestError struct {
	msg    string
	claude bool
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{msg: fmt.Sprintf(format, args...)}
}

func claudeError(format string, args ...any) error {
	return &requestError{msg: fmt.Sprintf(format, args...), claude: true}
}

// thinkingOn reports whether the request asks for thoughts.
func (r *simRequest) thinkingOn() bool {
	if r.GenerationConfig == nil || r.GenerationConfig.ThinkingConfig == nil {
		return false
	}
	tc := r.GenerationConfig.ThinkingConfig
	return tc.IncludeThoughts || tc.ThinkingBudget != 0 || tc.ThinkingLevel != ""
}

// checkTurns applies the turn rules of the Gemini API and, for Claude
// models, of Anthropic's Messages API behind it.
func (s *Server) checkTurns(a *account, model string, r *simRequest) error {
	if len(r.Contents) == 0 {
		return badRequest("* GenerateContentRequest.contents: contents is not specified")
	}
	claude := strings.Contains(model, "claude")
	for i, c := range r.Contents {
		if c.Role != "" && c.Role != "user" && c.Role != "model" {
			return badRequest("Please use a valid role: user, model.")
		}
		if len(c.Parts) == 0 {
			return badRequest("* GenerateContentRequest.contents[%d].parts: contents.parts must not be empty.", i)
		}
		for j, p := range c.Parts {
			if !p.hasData() {
				if claude && p.Text != nil {
					return claudeError("messages.%d.content.%d.text: text content blocks must be non-empty", i, j)
				}
				return badRequest("* GenerateContentRequest.contents[%d].parts[%d].data: required oneof field 'data' must have one initialized field", i, j)
			}
		}
	}
	if r.SystemInstruction != nil {
		for j, p := range r.SystemInstruction.Parts {
			if !p.hasData() {
				return badRequest("* GenerateContentRequest.system_instruction.parts[%d].data: required oneof field 'data' must have one initialized field", j)
			}
		}
	}
	// Function calls and responses pair up turn by turn.
	for i, c := range r.Contents {
		calls := callParts(c)
		resps := responseParts(c)
		if len(calls) > 0 {
			if i == 0 || r.Contents[i-1].Role == "model" {
				return badRequest("Please ensure that function call turn comes immediately after a user turn or after a function response turn.")
			}
		}
		if len(resps) > 0 {
			if i == 0 || len(callParts(r.Contents[i-1])) == 0 {
				if claude {
					return claudeError("messages.%d.content.0: unexpected `tool_use_id` found in `tool_result` blocks: %s. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.", i, resps[0].FunctionResponse.ID)
				}
				return badRequest("Please ensure that function response turn comes immediately after a function call turn.")
			}
			prev := callParts(r.Contents[i-1])
			if len(prev) != len(resps) {
				return badRequest("Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.")
			}
			if claude {
				for k := range prev {
					if prev[k].FunctionCall.ID != resps[k].FunctionResponse.ID {
						return claudeError("messages.%d.content.%d: unexpected `tool_use_id` found in `tool_result` blocks: %s. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.", i, k, resps[k].FunctionResponse.ID)
					}
				}
			}
		}
		if len(calls) > 0 && claude {
			if i+1 >= len(r.Contents) || len(responseParts(r.Contents[i+1])) == 0 {
				if i+1 < len(r.Contents) {
					return claudeError("messages.%d: `tool_use` ids were found without `tool_result` blocks immediately after: %s. Each `tool_use` block must have a corresponding `tool_result` block in the next message.", i, calls[0].FunctionCall.ID)
				}
			}
		}
	}
	if claude {
		return s.checkClaudeThinking(a, model, r)
	}
	return s.checkGeminiSignatures(a, model, r)
}

// callParts and responseParts return a turn's function calls and
// function responses.
func callParts(c simContent) []simPart {
	return partsWhere(c, func(p simPart) bool { return p.FunctionCall != nil })
}

func responseParts(c simContent) []simPart {
	return partsWhere(c, func(p simPart) bool { return p.FunctionResponse != nil })
}

func partsWhere(c simContent, keep func(simPart) bool) []simPart {
	var out []simPart
	for _, p := range c.Parts {
		if keep(p) {
			out = append(out, p)
		}
	}
	return out
}

// checkClaudeThinking applies Anthropic's thinking rules: replayed
// thinking needs the signature Claude issued for that text and model; with
// thinking on, the budget must fit under max tokens and an open tool loop
// must start with thinking.
func (s *Server) checkClaudeThinking(a *account, model string, r *simRequest) error {
	for i, c := range r.Contents {
		for j, p := range c.Parts {
			if !p.Thought {
				continue
			}
			if p.ThoughtSignature == "" {
				return claudeError("messages.%d.content.%d.thinking.signature: Field required", i, j)
			}
			text := ""
			if p.Text != nil {
				text = *p.Text
			}
			if !s.strict.sigs.validClaude(p.ThoughtSignature, a, model, text) {
				return claudeError("messages.%d.content.%d: Invalid `signature` in `thinking` block", i, j)
			}
		}
	}
	if !r.thinkingOn() {
		return nil
	}
	tc := r.GenerationConfig.ThinkingConfig
	if tc.ThinkingBudget > 0 {
		if tc.ThinkingBudget < 1024 {
			return claudeError("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
		}
		if max := r.GenerationConfig.MaxOutputTokens; max > 0 && max <= tc.ThinkingBudget {
			return claudeError("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size")
		}
	}
	n := len(r.Contents)
	if n >= 2 && len(responseParts(r.Contents[n-1])) > 0 {
		m := r.Contents[n-2]
		if first := m.Parts[0]; !first.Thought {
			found := "text"
			if first.FunctionCall != nil {
				found = "tool_use"
			}
			return claudeError("messages.%d.content.0.type: Expected `thinking` or `redacted_thinking`, but found `%s`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable `thinking`.", n-2, found)
		}
	}
	return nil
}

// checkGeminiSignatures applies Gemini 3's rule: the first function call
// of each model turn carries a thought signature this account and model
// issued, or the sentinel that skips the check.
func (s *Server) checkGeminiSignatures(a *account, model string, r *simRequest) error {
	if !strings.HasPrefix(model, "gemini-3") {
		return nil
	}
	for i, c := range r.Contents {
		if c.Role != "model" {
			continue
		}
		calls := callParts(c)
		if len(calls) == 0 {
			continue
		}
		p := calls[0]
		switch {
		case p.ThoughtSignature == "":
			return badRequest("Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call `default_api:%s` , position %d. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.", p.FunctionCall.Name, i+1)
		case p.ThoughtSignature == skipSignature:
		case !s.strict.sigs.validGemini(p.ThoughtSignature, a, model):
			return badRequest("Corrupted thought signature.")
		}
	}
	return nil
}

// skipSignature is the sentinel Gemini accepts in place of a function
// call's signature.
const skipSignature = "skip_thought_signature_validator"
