package frontend

// StopKind is why an answer ended, in the terms both client APIs share.
type StopKind uint8

// The stop kinds.
const (
	StopEnd       StopKind = iota // STOP, OTHER, unspecified
	StopTools                     // any function call in the answer
	StopMaxTokens                 // MAX_TOKENS
	StopFilter                    // SAFETY, RECITATION and the like
)

// Stop maps Gemini's finish reason to a StopKind; any call in the answer
// wins, since Gemini says STOP or OTHER after calls and an agent loop that
// sees "end" would stop early.
func Stop(finishReason string, calls bool) StopKind {
	if calls {
		return StopTools
	}
	switch finishReason {
	case "MAX_TOKENS":
		return StopMaxTokens
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "LANGUAGE":
		return StopFilter
	}
	return StopEnd
}
