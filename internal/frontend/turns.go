package frontend

import (
	"bytes"
	"encoding/json"
)

// interruptedResult answers a tool call the client never answered (the
// user interrupted it): Google and Claude both refuse a call without its
// result right after it.
var interruptedResult = json.RawMessage(`{"error":"Tool execution interrupted: no result was provided."}`)

// FixTurns applies the turn rules Google and Claude enforce to translated
// history, in place of a 400:
//   - no empty text parts and no contents without parts;
//   - in a model turn: thoughts first, then text and data, then calls;
//   - consecutive turns of one role merged;
//   - every model turn with calls followed by one user turn that starts
//     with all their responses, in call order (missing ones answered as
//     interrupted; responses to no call dropped);
//   - for Gemini and other non-Claude targets, a user turn first;
//   - thought signatures per SignCalls.
func FixTurns(contents []Content, f Family) []Content {
	contents = dropEmpty(contents, f != Claude)
	contents = merge(contents)
	var out []Content
	for i := 0; i < len(contents); i++ {
		c := contents[i]
		if c.Role == "model" {
			c.Parts = orderModelParts(c.Parts)
			out = append(out, c)
			calls := callsOf(c.Parts)
			if len(calls) == 0 {
				continue
			}
			var next *Content
			if i+1 < len(contents) && contents[i+1].Role == "user" {
				next = &contents[i+1]
				i++
			}
			out = append(out, answerCalls(calls, next))
			continue
		}
		// A user turn not right after calls keeps no function responses.
		c.Parts = withoutResponses(c.Parts)
		if len(c.Parts) > 0 {
			out = append(out, c)
		}
	}
	out = merge(out)
	if f != Claude && len(out) > 0 && out[0].Role == "model" {
		out = append([]Content{{Role: "user", Parts: []Part{{Text: "."}}}}, out...)
	}
	SignCalls(out, f)
	return out
}

// SignCalls sets the thought signatures history replays with (brief
// §4.2, §4.3). Claude: only thought parts keep theirs. Gemini: the first
// call of each model turn carries the sentinel and no other part a
// signature: quotatui does not carry Gemini's own signatures through the
// clients, and the sentinel is valid on every account and model, so an
// account switch in a tool loop cannot break it ("Corrupted thought
// signature"). Other models get no signatures (FixTurns has dropped
// their thoughts).
func SignCalls(contents []Content, f Family) {
	for i := range contents {
		c := &contents[i]
		first := true
		for j, p := range c.Parts {
			switch f {
			case Claude:
				if !p.Thought {
					p.ThoughtSignature = ""
				}
			case Gemini:
				p.ThoughtSignature = ""
				if p.FunctionCall != nil && c.Role == "model" && first {
					p.ThoughtSignature = SkipSignature
					first = false
				}
			default:
				p.ThoughtSignature = ""
			}
			c.Parts[j] = p
		}
	}
}

// dropEmpty removes empty text parts (and with thoughts, thought parts)
// and contents left with no parts.
func dropEmpty(in []Content, thoughts bool) []Content {
	out := make([]Content, 0, len(in))
	for _, c := range in {
		parts := make([]Part, 0, len(c.Parts))
		for _, p := range c.Parts {
			if isEmptyPart(p) || (thoughts && p.Thought) {
				continue
			}
			parts = append(parts, p)
		}
		if len(parts) > 0 {
			out = append(out, Content{Role: c.Role, Parts: parts})
		}
	}
	return out
}

// isEmptyPart reports a part with no data: Gemini answers "required oneof
// field 'data' must have one initialized field".
func isEmptyPart(p Part) bool {
	if p.InlineData != nil || p.FileData != nil || p.FunctionCall != nil || p.FunctionResponse != nil {
		return false
	}
	for _, r := range p.Text {
		if r != ' ' && r != '\n' && r != '\t' && r != '\r' {
			return false
		}
	}
	return true
}

// merge joins consecutive contents of one role.
func merge(in []Content) []Content {
	var out []Content
	for _, c := range in {
		if n := len(out); n > 0 && out[n-1].Role == c.Role {
			out[n-1].Parts = append(out[n-1].Parts, c.Parts...)
			continue
		}
		out = append(out, Content{Role: c.Role, Parts: append([]Part(nil), c.Parts...)})
	}
	return out
}

// orderModelParts puts thoughts first and calls last, keeping the order
// within each group.
func orderModelParts(parts []Part) []Part {
	out := make([]Part, 0, len(parts))
	for _, pass := range []int{0, 1, 2} {
		for _, p := range parts {
			kind := 1
			switch {
			case p.Thought:
				kind = 0
			case p.FunctionCall != nil:
				kind = 2
			}
			if kind == pass {
				out = append(out, p)
			}
		}
	}
	return out
}

func callsOf(parts []Part) []*FunctionCall {
	var calls []*FunctionCall
	for _, p := range parts {
		if p.FunctionCall != nil {
			calls = append(calls, p.FunctionCall)
		}
	}
	return calls
}

// answerCalls builds the user turn after a model turn with calls: one
// response per call in call order, then the rest of the next user turn.
func answerCalls(calls []*FunctionCall, next *Content) Content {
	var rest []Part
	byID := map[string]*FunctionResponse{}
	var byOrder []*FunctionResponse
	if next != nil {
		for _, p := range next.Parts {
			if p.FunctionResponse == nil {
				rest = append(rest, p)
				continue
			}
			if p.FunctionResponse.ID != "" {
				if _, dup := byID[p.FunctionResponse.ID]; !dup {
					byID[p.FunctionResponse.ID] = p.FunctionResponse
				}
			}
			byOrder = append(byOrder, p.FunctionResponse)
		}
	}
	used := map[*FunctionResponse]bool{}
	parts := make([]Part, 0, len(calls)+len(rest))
	for i, call := range calls {
		r := byID[call.ID]
		if r == nil && call.ID == "" && i < len(byOrder) && byOrder[i].ID == "" {
			r = byOrder[i] // Gemini pairs by order when ids are absent
		}
		if r == nil || used[r] {
			r = &FunctionResponse{ID: call.ID, Name: call.Name, Response: interruptedResult}
		}
		used[r] = true
		fr := *r
		fr.Name = call.Name
		parts = append(parts, Part{FunctionResponse: &fr})
	}
	parts = append(parts, rest...)
	return Content{Role: "user", Parts: parts}
}

func withoutResponses(parts []Part) []Part {
	out := parts[:0:0]
	for _, p := range parts {
		if p.FunctionResponse == nil {
			out = append(out, p)
		}
	}
	return out
}

// OpenToolLoop reports whether the history ends in tool results, and
// whether the model turn that made those calls starts with a signed
// thought. Claude with thinking on refuses such a turn without one
// ("Expected `thinking` or `redacted_thinking`, but found `tool_use`").
func OpenToolLoop(contents []Content) (open, signed bool) {
	n := len(contents)
	if n < 2 || contents[n-1].Role != "user" || len(contents[n-1].Parts) == 0 || contents[n-1].Parts[0].FunctionResponse == nil {
		return false, false
	}
	m := contents[n-2]
	if m.Role != "model" || len(m.Parts) == 0 {
		return true, false
	}
	p := m.Parts[0]
	return true, p.Thought && p.ThoughtSignature != ""
}

// ResultObject wraps a tool's text output as the object Google wants in
// functionResponse.response: {"result": text}, or {"error": text} when
// the tool failed.
func ResultObject(text string, isError bool) json.RawMessage {
	key := "result"
	if isError {
		key = "error"
		if text == "" {
			text = "Tool execution failed with no output."
		}
	}
	b, _ := json.Marshal(map[string]string{key: text})
	return b
}

// ArgsObject returns a call's arguments as a JSON object: an object is
// kept (compacted), a string holding an object is parsed, null or nothing
// is {}, anything else is wrapped as {"params": ...}.
func ArgsObject(raw json.RawMessage) json.RawMessage {
	var v any
	if len(raw) == 0 || decodeNumbers(raw, &v) != nil || v == nil {
		if len(raw) > 0 && v == nil && string(raw) != "null" {
			b, _ := json.Marshal(map[string]string{"params": string(raw)})
			return b
		}
		return json.RawMessage(`{}`)
	}
	switch t := v.(type) {
	case map[string]any:
		b, _ := json.Marshal(t)
		return b
	case string:
		var inner map[string]any
		if decodeNumbers([]byte(t), &inner) == nil && inner != nil {
			b, _ := json.Marshal(inner)
			return b
		}
		if t == "" {
			return json.RawMessage(`{}`)
		}
		b, _ := json.Marshal(map[string]string{"params": t})
		return b
	}
	b, _ := json.Marshal(map[string]any{"params": v})
	return b
}

// decodeNumbers decodes JSON keeping numbers as written, so a large
// integer argument survives the round trip.
func decodeNumbers(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errTrailing
	}
	return nil
}
