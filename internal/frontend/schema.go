package frontend

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// schemaKeys are the JSON-Schema keywords kept in a cleaned schema: the
// subset of Google's Schema that both the Gemini and the Claude backends
// accept, and that stays valid JSON Schema (Claude re-validates it).
var schemaKeys = map[string]bool{"type": true, "description": true, "properties": true, "required": true,
	"items": true, "enum": true, "nullable": true}

// hintKeys are constraints Google does not take; they survive as words in
// the description so the model still sees them.
var hintKeys = []string{"format", "pattern", "minLength", "maxLength", "minItems", "maxItems", "uniqueItems",
	"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minProperties", "maxProperties"}

// maxSchemaDepth stops a hostile or cyclic schema.
const maxSchemaDepth = 64

// CleanSchema turns a client's JSON Schema (tool parameters) into one
// Google accepts: local $refs inlined, allOf merged, anyOf/oneOf reduced
// to their richest branch, type arrays and const rewritten, constraints
// moved into the description, every other keyword dropped. It touches only
// schema locations, never values such as a property named "format". An
// absent or empty schema becomes {"type":"object","properties":{}}.
func CleanSchema(raw json.RawMessage) (json.RawMessage, error) {
	var root any = map[string]any{}
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &root); err != nil {
			return nil, fmt.Errorf("schema is not JSON: %w", err)
		}
	}
	c := cleaner{defs: map[string]any{}}
	if m, ok := root.(map[string]any); ok {
		for _, k := range []string{"$defs", "definitions"} {
			if d, ok := m[k].(map[string]any); ok {
				for name, v := range d {
					c.defs[name] = v
				}
			}
		}
	}
	out := c.clean(root, 0, map[string]bool{})
	if out["type"] == nil {
		out["type"] = "object"
	}
	if out["type"] == "object" && out["properties"] == nil {
		out["properties"] = map[string]any{}
	}
	return json.Marshal(out) // maps marshal with sorted keys: deterministic
}

type cleaner struct {
	defs map[string]any
}

// clean returns the cleaned form of one schema node.
func (c *cleaner) clean(node any, depth int, refs map[string]bool) map[string]any {
	m, ok := node.(map[string]any)
	if !ok || depth > maxSchemaDepth {
		// true, a bare value, or too deep: "anything" as an object.
		return map[string]any{"type": "object"}
	}
	if ref, ok := m["$ref"].(string); ok {
		name := ref[strings.LastIndex(ref, "/")+1:]
		def, found := c.defs[name]
		if !found || refs[name] {
			return map[string]any{"type": "object", "description": "See: " + name}
		}
		inner := map[string]bool{name: true}
		for k := range refs {
			inner[k] = true
		}
		out := c.clean(def, depth+1, inner)
		if d, ok := m["description"].(string); ok && d != "" {
			out["description"] = d
		}
		return out
	}
	m = mergeAllOf(m)
	var hints []string
	nullable := false
	if alts := alternatives(m); len(alts) > 0 {
		var kinds []string
		var best map[string]any
		for _, a := range alts {
			am, _ := a.(map[string]any)
			if am != nil && am["type"] == "null" {
				nullable = true
				continue
			}
			cl := c.clean(a, depth+1, refs)
			if t, ok := cl["type"].(string); ok {
				kinds = append(kinds, t)
			}
			if best == nil || richness(cl) > richness(best) {
				best = cl
			}
		}
		if best != nil {
			if len(kinds) > 1 {
				hints = append(hints, "Accepts: "+strings.Join(kinds, " | "))
			}
			base := map[string]any{}
			for k, v := range m {
				if k != "anyOf" && k != "oneOf" {
					base[k] = v
				}
			}
			cleanedBase := c.cleanPlain(base, depth, refs, nil)
			for k, v := range best {
				if _, has := cleanedBase[k]; !has || k == "type" {
					cleanedBase[k] = v
				}
			}
			out := cleanedBase
			if nullable {
				out["nullable"] = true
			}
			addHints(out, hints)
			return out
		}
	}
	out := c.cleanPlain(m, depth, refs, &nullable)
	if nullable {
		out["nullable"] = true
	}
	return out
}

// cleanPlain cleans a node with no $ref or alternatives left.
func (c *cleaner) cleanPlain(m map[string]any, depth int, refs map[string]bool, nullable *bool) map[string]any {
	out := map[string]any{}
	var hints []string
	switch t := m["type"].(type) {
	case string:
		if t == "null" {
			if nullable != nil {
				*nullable = true
			}
			out["type"] = "string"
		} else {
			out["type"] = strings.ToLower(t)
		}
	case []any:
		for _, v := range t {
			if s, ok := v.(string); ok {
				if s == "null" {
					if nullable != nil {
						*nullable = true
					}
					continue
				}
				if out["type"] == nil {
					out["type"] = strings.ToLower(s)
				}
			}
		}
	}
	if d, ok := m["description"].(string); ok && d != "" {
		out["description"] = d
	}
	if v, ok := m["const"]; ok {
		out["enum"] = []any{enumValue(v)}
	}
	if e, ok := m["enum"].([]any); ok && len(e) > 0 {
		vals := make([]any, 0, len(e))
		for _, v := range e {
			if v == nil {
				if nullable != nil {
					*nullable = true
				}
				continue
			}
			vals = append(vals, enumValue(v))
		}
		if len(vals) > 0 {
			out["enum"] = vals
		}
	}
	if out["enum"] != nil && out["type"] == nil {
		out["type"] = "string"
	}
	if out["enum"] != nil && out["type"] != "string" {
		// Google's enum is a list of strings: keep the values as a hint.
		b, _ := json.Marshal(out["enum"])
		hints = append(hints, "Allowed values: "+string(b))
		delete(out, "enum")
	}
	required := map[string]bool{}
	if props, ok := m["properties"].(map[string]any); ok {
		cp := make(map[string]any, len(props))
		for name, p := range props {
			pm, isMap := p.(map[string]any)
			if isMap {
				// Malformed MCP schemas mark a property required in place.
				if r, ok := pm["required"].(bool); ok {
					if r {
						required[name] = true
					}
					pm = without(pm, "required")
				}
				if !looksLikeSchema(pm) {
					pm = map[string]any{"type": "object", "properties": pm}
				}
				cp[name] = c.clean(pm, depth+1, refs)
				continue
			}
			cp[name] = c.clean(p, depth+1, refs)
		}
		out["properties"] = cp
		if out["type"] == nil {
			out["type"] = "object"
		}
	}
	switch it := m["items"].(type) {
	case map[string]any:
		out["items"] = c.clean(it, depth+1, refs)
	case []any: // tuple form: the first item's schema
		if len(it) > 0 {
			out["items"] = c.clean(it[0], depth+1, refs)
		}
	}
	if out["type"] == "array" && out["items"] == nil {
		if pi, ok := m["prefixItems"].([]any); ok && len(pi) > 0 {
			out["items"] = c.clean(pi[0], depth+1, refs)
		} else {
			out["items"] = map[string]any{"type": "string"}
		}
	}
	if r, ok := m["required"].([]any); ok {
		for _, v := range r {
			if s, ok := v.(string); ok {
				required[s] = true
			}
		}
	}
	if props, ok := out["properties"].(map[string]any); ok && len(required) > 0 {
		var names []string
		for name := range required {
			if _, ok := props[name]; ok {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		if len(names) > 0 {
			out["required"] = names
		}
	}
	for _, k := range hintKeys {
		if v, ok := m[k]; ok {
			b, _ := json.Marshal(v)
			hints = append(hints, k+": "+string(b))
		}
	}
	if ap, ok := m["additionalProperties"].(bool); ok && !ap {
		hints = append(hints, "No extra properties allowed")
	}
	addHints(out, hints)
	return out
}

// addHints appends constraint hints to the description.
func addHints(out map[string]any, hints []string) {
	if len(hints) == 0 {
		return
	}
	h := "(" + strings.Join(hints, "; ") + ")"
	if d, ok := out["description"].(string); ok && d != "" {
		out["description"] = d + " " + h
		return
	}
	out["description"] = h
}

// mergeAllOf folds allOf branches' properties, required and type into the
// node itself.
func mergeAllOf(m map[string]any) map[string]any {
	all, ok := m["allOf"].([]any)
	if !ok {
		return m
	}
	out := without(m, "allOf")
	props, _ := out["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
	}
	req, _ := out["required"].([]any)
	for _, b := range all {
		bm, ok := b.(map[string]any)
		if !ok {
			continue
		}
		bm = mergeAllOf(bm)
		if p, ok := bm["properties"].(map[string]any); ok {
			for k, v := range p {
				props[k] = v
			}
		}
		if r, ok := bm["required"].([]any); ok {
			req = append(req, r...)
		}
		for _, k := range []string{"type", "description", "$ref", "items", "enum"} {
			if _, has := out[k]; !has {
				if v, ok := bm[k]; ok {
					out[k] = v
				}
			}
		}
	}
	if len(props) > 0 {
		out["properties"] = props
	}
	if len(req) > 0 {
		out["required"] = req
	}
	return out
}

// alternatives returns the branches of anyOf or oneOf.
func alternatives(m map[string]any) []any {
	if a, ok := m["anyOf"].([]any); ok && len(a) > 0 {
		return a
	}
	if a, ok := m["oneOf"].([]any); ok && len(a) > 0 {
		return a
	}
	return nil
}

// richness ranks a cleaned branch: object over array over a scalar.
func richness(m map[string]any) int {
	switch m["type"] {
	case "object":
		if p, ok := m["properties"].(map[string]any); ok {
			return 3 + len(p)
		}
		return 3
	case "array":
		return 2
	case nil:
		return 0
	}
	return 1
}

// looksLikeSchema tells a schema node from a bare map of properties (a
// malformed MCP schema).
func looksLikeSchema(m map[string]any) bool {
	if len(m) == 0 {
		return true
	}
	for k := range m {
		switch k {
		case "type", "description", "properties", "items", "enum", "const", "$ref", "anyOf", "oneOf", "allOf",
			"format", "default", "title", "nullable", "pattern", "minimum", "maximum", "examples", "additionalProperties":
			return true
		}
		if strings.HasPrefix(k, "$") || strings.HasPrefix(k, "x-") {
			return true
		}
	}
	return false
}

// enumValue renders an enum value as the string Google's proto needs.
func enumValue(v any) any {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func without(m map[string]any, key string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}
