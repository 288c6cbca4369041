package frontend

import (
	"errors"
	"strings"
)

var errTrailing = errors.New("trailing data after the JSON value")

// MinThinkingBudget is the smallest budget Claude takes; below it thinking
// is left off rather than sent and refused.
const MinThinkingBudget = 1024

// answerRoom is what a thinking budget leaves for the answer itself:
// Google wants maxOutputTokens greater than the budget.
const answerRoom = 1024

// EffortBudget maps an effort level (Anthropic's output_config.effort,
// OpenAI's reasoning_effort) to a thinking budget. quotatui always sends a
// budget, never thinkingLevel: peers saw thinkingLevel refused on Gemini
// Pro through v1internal, and a budget works on every model.
func EffortBudget(effort string) int {
	switch strings.ToLower(effort) {
	case "minimal", "low":
		return 4096
	case "medium":
		return 12288
	case "max", "xhigh":
		return 32768
	default: // "high", "" (adaptive without an effort), anything new
		return 24576
	}
}

// MaxOutput returns the largest answer an upstream model allows.
func MaxOutput(model string) int {
	m := strings.ToLower(model)
	switch {
	case strings.Contains(m, "claude"):
		return 64000
	case strings.HasPrefix(m, "gpt-oss"):
		return 32768
	}
	return 65535
}

// Thinking builds the generation config's thinking and output limit for
// a wanted budget (0: no thinking) and the client's max tokens (0: not
// given). The budget is kept below the output limit with room for the
// answer, and dropped when that leaves less than MinThinkingBudget.
func Thinking(model string, budget, maxTokens int) (cfg *ThinkingConfig, maxOut int) {
	limit := MaxOutput(model)
	maxOut = min(max(maxTokens, 0), limit)
	if budget <= 0 {
		return nil, maxOut
	}
	ceiling := limit
	if maxOut > 0 {
		ceiling = maxOut
	}
	budget = min(budget, ceiling-answerRoom)
	if budget < MinThinkingBudget {
		return nil, maxOut
	}
	return &ThinkingConfig{IncludeThoughts: true, ThinkingBudget: budget}, maxOut
}
