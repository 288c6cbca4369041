package cloudcodetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// The simulator checks a generation request the way Google does: the body
// is proto JSON, so an unknown field anywhere is a 400 ("Invalid JSON
// payload received. Unknown name ..."), and the turn rules of the Gemini
// and Claude backends are enforced. Without this, every translation test
// would pass against an upstream that accepts anything.

// kind is what a proto field holds.
type kind uint8

const (
	kString kind = iota
	kBool
	kNumber
	kEnum
	kStruct  // google.protobuf.Struct / Value: any JSON
	kMessage // a nested message (fields in msg)
	kSchema  // google.ai...Schema (recursive)
	kSchemaMap
)

// field describes one proto field by its JSON (lowerCamel) name.
type field struct {
	kind     kind
	repeated bool
	msg      string // for kMessage
	proto    string // proto (snake_case) name, for error paths
}

// messages lists the fields of each message the simulator knows, as
// Google's GenerateContentRequest and Code Assist's envelope define them.
var messages = map[string]map[string]field{}

func def(name string, fields map[string]field) {
	for json, f := range fields {
		f.proto = snake(json)
		fields[json] = f
	}
	messages[name] = fields
}

func init() {
	msg := func(m string) field { return field{kind: kMessage, msg: m} }
	list := func(f field) field { f.repeated = true; return f }
	def("Envelope", map[string]field{
		"project": {kind: kString}, "model": {kind: kString}, "userAgent": {kind: kString},
		"requestType": {kind: kString}, "requestId": {kind: kString}, "request": msg("GenerateContentRequest"),
		"userPromptId": {kind: kString}, "enabledCreditTypes": list(field{kind: kString}),
	})
	def("GenerateContentRequest", map[string]field{
		"contents": list(msg("Content")), "systemInstruction": msg("Content"), "tools": list(msg("Tool")),
		"toolConfig": msg("ToolConfig"), "generationConfig": msg("GenerationConfig"),
		"safetySettings": list(msg("SafetySetting")), "cachedContent": {kind: kString},
		"labels": {kind: kStruct}, "sessionId": {kind: kString}, "model": {kind: kString},
	})
	def("Content", map[string]field{"role": {kind: kString}, "parts": list(msg("Part"))})
	def("Part", map[string]field{
		"text": {kind: kString}, "thought": {kind: kBool}, "thoughtSignature": {kind: kString},
		"inlineData": msg("Blob"), "fileData": msg("FileData"), "functionCall": msg("FunctionCall"),
		"functionResponse": msg("FunctionResponse"), "executableCode": {kind: kStruct},
		"codeExecutionResult": {kind: kStruct}, "videoMetadata": {kind: kStruct},
	})
	def("Blob", map[string]field{"mimeType": {kind: kString}, "data": {kind: kString}})
	def("FileData", map[string]field{"mimeType": {kind: kString}, "fileUri": {kind: kString}})
	def("FunctionCall", map[string]field{"id": {kind: kString}, "name": {kind: kString}, "args": {kind: kStruct}})
	def("FunctionResponse", map[string]field{
		"id": {kind: kString}, "name": {kind: kString}, "response": {kind: kStruct},
		"parts": list(msg("FunctionResponsePart")), "willContinue": {kind: kBool}, "scheduling": {kind: kEnum},
	})
	def("FunctionResponsePart", map[string]field{"inlineData": msg("Blob"), "fileData": msg("FileData")})
	def("Tool", map[string]field{
		"functionDeclarations": list(msg("FunctionDeclaration")), "googleSearch": {kind: kStruct},
		"googleSearchRetrieval": {kind: kStruct}, "codeExecution": {kind: kStruct}, "urlContext": {kind: kStruct},
		"retrieval": {kind: kStruct},
	})
	def("FunctionDeclaration", map[string]field{
		"name": {kind: kString}, "description": {kind: kString}, "parameters": {kind: kSchema},
		"parametersJsonSchema": {kind: kStruct}, "response": {kind: kSchema}, "responseJsonSchema": {kind: kStruct},
		"behavior": {kind: kEnum},
	})
	def("ToolConfig", map[string]field{"functionCallingConfig": msg("FunctionCallingConfig"), "retrievalConfig": {kind: kStruct}})
	def("FunctionCallingConfig", map[string]field{"mode": {kind: kEnum}, "allowedFunctionNames": list(field{kind: kString})})
	def("GenerationConfig", map[string]field{
		"stopSequences": list(field{kind: kString}), "responseMimeType": {kind: kString}, "responseSchema": {kind: kSchema},
		"responseJsonSchema": {kind: kStruct}, "candidateCount": {kind: kNumber}, "maxOutputTokens": {kind: kNumber},
		"temperature": {kind: kNumber}, "topP": {kind: kNumber}, "topK": {kind: kNumber}, "presencePenalty": {kind: kNumber},
		"frequencyPenalty": {kind: kNumber}, "seed": {kind: kNumber}, "responseLogprobs": {kind: kBool}, "logprobs": {kind: kNumber},
		"thinkingConfig": msg("ThinkingConfig"), "responseModalities": list(field{kind: kEnum}), "mediaResolution": {kind: kEnum},
		"speechConfig": {kind: kStruct}, "imageConfig": {kind: kStruct},
	})
	def("ThinkingConfig", map[string]field{"includeThoughts": {kind: kBool}, "thinkingBudget": {kind: kNumber}, "thinkingLevel": {kind: kEnum}})
	def("SafetySetting", map[string]field{"category": {kind: kEnum}, "threshold": {kind: kEnum}, "method": {kind: kEnum}})
	def("Schema", map[string]field{
		"type": {kind: kEnum}, "format": {kind: kString}, "title": {kind: kString}, "description": {kind: kString},
		"nullable": {kind: kBool}, "enum": list(field{kind: kString}), "maxItems": {kind: kNumber}, "minItems": {kind: kNumber},
		"properties": {kind: kSchemaMap}, "required": list(field{kind: kString}), "minProperties": {kind: kNumber},
		"maxProperties": {kind: kNumber}, "minLength": {kind: kNumber}, "maxLength": {kind: kNumber}, "pattern": {kind: kString},
		"example": {kind: kStruct}, "anyOf": list(field{kind: kSchema}), "propertyOrdering": list(field{kind: kString}),
		"default": {kind: kStruct}, "items": {kind: kSchema}, "minimum": {kind: kNumber}, "maximum": {kind: kNumber},
	})
}

// schemaTypes are the values of Schema.type (Google reads them without
// regard to case).
var schemaTypes = map[string]bool{"TYPE_UNSPECIFIED": true, "STRING": true, "NUMBER": true, "INTEGER": true,
	"BOOLEAN": true, "ARRAY": true, "OBJECT": true, "NULL": true}

// snake turns a lowerCamel JSON name into the proto field name.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// camel turns a snake_case name into lowerCamel: proto JSON accepts both.
func camel(s string) string {
	if !strings.Contains(s, "_") {
		return s
	}
	var b strings.Builder
	up := false
	for _, r := range s {
		if r == '_' {
			up = true
			continue
		}
		if up {
			b.WriteRune(unicode.ToUpper(r))
			up = false
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// payloadError is a 400 INVALID_ARGUMENT with Google's wording.
type payloadError struct{ msg string }

func (e *payloadError) Error() string { return e.msg }

func unknownName(name, path string) error {
	if path == "" {
		return &payloadError{fmt.Sprintf("Invalid JSON payload received. Unknown name %q: Cannot find field.", name)}
	}
	return &payloadError{fmt.Sprintf("Invalid JSON payload received. Unknown name %q at '%s': Cannot find field.", name, path)}
}

func invalidValue(path, typ string, raw json.RawMessage) error {
	return &payloadError{fmt.Sprintf("Invalid JSON payload received. Invalid value at '%s' (%s), %s", path, typ, bytes.TrimSpace(raw))}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// checkMessage checks raw against message m: every key must be a field of
// m (in either spelling) with a value of the field's type.
func checkMessage(m string, raw json.RawMessage, path string) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		if string(bytes.TrimSpace(raw)) == "null" {
			return nil
		}
		return invalidValue(path, "type.googleapis.com/"+m, raw)
	}
	fields := messages[m]
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic: the first unknown name in order
	for _, k := range keys {
		f, ok := fields[camel(k)]
		if !ok {
			return unknownName(k, path)
		}
		if err := checkField(f, obj[k], join(path, f.proto)); err != nil {
			return err
		}
	}
	return nil
}

func checkField(f field, raw json.RawMessage, path string) error {
	t := bytes.TrimSpace(raw)
	if string(t) == "null" {
		return nil
	}
	if f.repeated {
		var items []json.RawMessage
		if err := json.Unmarshal(t, &items); err != nil {
			return &payloadError{fmt.Sprintf("Invalid JSON payload received. Proto field is repeating, cannot start value at '%s': %s", path, t)}
		}
		one := f
		one.repeated = false
		for i, it := range items {
			if err := checkField(one, it, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	}
	switch f.kind {
	case kString:
		var s string
		if json.Unmarshal(t, &s) != nil {
			return invalidValue(path, "TYPE_STRING", t)
		}
	case kBool:
		var b bool
		if json.Unmarshal(t, &b) != nil {
			return invalidValue(path, "TYPE_BOOL", t)
		}
	case kNumber:
		var n float64
		if json.Unmarshal(t, &n) != nil {
			var s string // proto JSON also takes numbers as strings
			if json.Unmarshal(t, &s) != nil {
				return invalidValue(path, "TYPE_NUMBER", t)
			}
			if _, err := strconv.ParseFloat(s, 64); err != nil {
				return invalidValue(path, "TYPE_NUMBER", t)
			}
		}
	case kEnum:
		var s string
		var n int
		if json.Unmarshal(t, &s) != nil && json.Unmarshal(t, &n) != nil {
			return invalidValue(path, "TYPE_ENUM", t)
		}
	case kStruct:
		// any JSON value
	case kMessage:
		return checkMessage(f.msg, t, path)
	case kSchema:
		return checkSchema(t, path)
	case kSchemaMap:
		var props map[string]json.RawMessage
		if json.Unmarshal(t, &props) != nil {
			return invalidValue(path, "type.googleapis.com/google.ai.generativelanguage.v1beta.Schema.PropertiesEntry", t)
		}
		names := make([]string, 0, len(props))
		for k := range props {
			names = append(names, k)
		}
		sort.Strings(names)
		for i, k := range names {
			if err := checkSchema(props[k], fmt.Sprintf("%s[%d].value", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkSchema checks a Schema: its keywords and its type names.
func checkSchema(raw json.RawMessage, path string) error {
	if err := checkMessage("Schema", raw, path); err != nil {
		return err
	}
	var s struct {
		Type json.RawMessage `json:"type"`
	}
	_ = json.Unmarshal(raw, &s)
	if len(s.Type) > 0 {
		var name string
		if json.Unmarshal(s.Type, &name) != nil || !schemaTypes[strings.ToUpper(name)] {
			return invalidValue(join(path, "type"), "type.googleapis.com/google.ai.generativelanguage.v1beta.Type", s.Type)
		}
	}
	return nil
}

// normalize rewrites the keys of a checked message to their lowerCamel
// spelling (proto JSON takes snake_case too), leaving Struct values as
// they are, so the turn checks read one spelling.
func normalize(m string, raw json.RawMessage) json.RawMessage {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return raw
	}
	out := make(map[string]json.RawMessage, len(obj))
	for k, v := range obj {
		name := camel(k)
		f := messages[m][name]
		if f.kind == kMessage {
			if f.repeated {
				var items []json.RawMessage
				if json.Unmarshal(v, &items) == nil {
					for i := range items {
						items[i] = normalize(f.msg, items[i])
					}
					v, _ = json.Marshal(items)
				}
			} else {
				v = normalize(f.msg, v)
			}
		}
		out[name] = v
	}
	b, _ := json.Marshal(out)
	return b
}
