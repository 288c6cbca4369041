package cloudcode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The RPC names the typed calls use; they also name the method in a
// MalformedResponseError.
const (
	rpcLoadCodeAssist       = "loadCodeAssist"
	rpcFetchAvailableModels = "fetchAvailableModels"
	rpcQuotaSummary         = "retrieveUserQuotaSummary"
)

// object is a decoded JSON object whose members are decoded on demand, so
// a wrong type in a field we do not need never fails a parse.
type object map[string]json.RawMessage

// malformed returns the error for a successful answer with a bad body.
func malformed(method, format string, args ...any) *MalformedResponseError {
	return &MalformedResponseError{Status: http.StatusOK, Method: method, Problem: fmt.Sprintf(format, args...)}
}

// jsonKind names the JSON type of raw for error messages.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

// parseBody decodes a whole answer body, which must be a JSON object.
func parseBody(method string, body []byte) (object, error) {
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return nil, malformed(method, "body is empty")
	case trimmed[0] == '<':
		// An HTML error page (a proxy, a captive portal, Google's own
		// 502 page) sent with a 2xx status is not a success.
		return nil, malformed(method, "body is HTML, not JSON")
	}
	if k := jsonKind(trimmed); k != "object" {
		if !json.Valid(trimmed) {
			return nil, malformed(method, "body is not valid JSON")
		}
		return nil, malformed(method, "body: want object, got %s", k)
	}
	var o object
	if err := json.Unmarshal(trimmed, &o); err != nil {
		return nil, malformed(method, "body is not valid JSON: %v", err)
	}
	return o, nil
}

// asObject decodes the member path of o as an object. A missing or null
// member gives a nil object and no error.
func asObject(method, path string, raw json.RawMessage) (object, error) {
	if isNull(raw) {
		return nil, nil
	}
	if k := jsonKind(raw); k != "object" {
		return nil, malformed(method, "%s: want object, got %s", path, k)
	}
	var o object
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, malformed(method, "%s: %v", path, err)
	}
	return o, nil
}

// asArray decodes the member path as an array; missing or null gives nil.
func asArray(method, path string, raw json.RawMessage) ([]json.RawMessage, error) {
	if isNull(raw) {
		return nil, nil
	}
	if k := jsonKind(raw); k != "array" {
		return nil, malformed(method, "%s: want array, got %s", path, k)
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, malformed(method, "%s: %v", path, err)
	}
	return a, nil
}

// asString decodes the member path as a string; missing or null gives "".
// A number is accepted and kept in its JSON spelling, since ids and names
// that happen to be numeric are still usable.
func asString(method, path string, raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	switch jsonKind(raw) {
	case "string":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", malformed(method, "%s: %v", path, err)
		}
		return s, nil
	case "number":
		return string(bytes.TrimSpace(raw)), nil
	default:
		return "", malformed(method, "%s: want string, got %s", path, jsonKind(raw))
	}
}

// Fraction reading follows proto3 JSON (see upstream-api.md, "The
// encoding"): a field at its default value is left out, so inside a bucket
// or quotaInfo that is present, a missing remainingFraction is 0, not
// unknown. Only a missing bucket or quotaInfo is unknown.

// fractionSlack absorbs float noise just above 1 ("1.0000000001").
const fractionSlack = 1e-9

// readFraction reads the remainingFraction member raw of an object that is
// present. Missing or null is 0 (proto3 leaves zero out). A number or a
// numeric string in [0, 1] is that figure. NaN, infinities, negative
// numbers and numbers above 1 are unknown, with a problem saying why: they
// are neither "spent" nor "full". Any other type is an error.
func readFraction(method, path string, raw json.RawMessage) (f Fraction, problem string, err error) {
	if isNull(raw) {
		return Fraction{Value: 0, Known: true}, "", nil
	}
	var v float64
	switch jsonKind(raw) {
	case "number":
		if err := json.Unmarshal(raw, &v); err != nil {
			return Fraction{}, "", malformed(method, "%s: %v", path, err)
		}
	case "string":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return Fraction{}, "", malformed(method, "%s: %v", path, err)
		}
		// proto3 JSON writes NaN and the infinities as strings; some
		// encoders quote every number.
		s = strings.TrimSpace(s)
		if v, err = strconv.ParseFloat(s, 64); err != nil {
			return Fraction{}, "", malformed(method, "%s: want number, got string %q", path, truncate(s, 40))
		}
	default:
		return Fraction{}, "", malformed(method, "%s: want number, got %s", path, jsonKind(raw))
	}
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return Fraction{}, fmt.Sprintf("%s: %v is not a fraction; read as unknown", path, v), nil
	case v < 0:
		return Fraction{}, fmt.Sprintf("%s: %v is negative; read as unknown", path, v), nil
	case v > 1+fractionSlack:
		return Fraction{}, fmt.Sprintf("%s: %v is above 1; read as unknown", path, v), nil
	}
	return KnownFraction(v), "", nil
}

// asTime decodes an RFC 3339 timestamp. Anything missing or unreadable is
// the zero time: a reset time we cannot read is unknown, not an error.
func asTime(raw json.RawMessage) time.Time {
	if jsonKind(raw) != "string" {
		return time.Time{}
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}
	}
	return t
}

// truncate shortens s to at most n bytes for error messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// ParseLoadCodeAssist parses a loadCodeAssist answer. The project arrives
// as a string, as {"id": ...}, or not at all. The plan comes from paidTier
// when present, else currentTier. An ineligibleTiers entry with reason
// VALIDATION_REQUIRED marks the account as needing verification.
func ParseLoadCodeAssist(body []byte) (*Subscription, error) {
	const m = rpcLoadCodeAssist
	o, err := parseBody(m, body)
	if err != nil {
		return nil, err
	}
	sub := &Subscription{}

	proj := o["cloudaicompanionProject"]
	switch jsonKind(proj) {
	case "object":
		po, err := asObject(m, "cloudaicompanionProject", proj)
		if err != nil {
			return nil, err
		}
		if sub.ProjectID, err = asString(m, "cloudaicompanionProject.id", po["id"]); err != nil {
			return nil, err
		}
	default:
		if sub.ProjectID, err = asString(m, "cloudaicompanionProject", proj); err != nil {
			return nil, err
		}
	}

	for _, field := range []string{"paidTier", "currentTier"} {
		t, err := asObject(m, field, o[field])
		if err != nil {
			return nil, err
		}
		id, err := asString(m, field+".id", t["id"])
		if err != nil {
			return nil, err
		}
		name, err := asString(m, field+".name", t["name"])
		if err != nil {
			return nil, err
		}
		if id == "" && name == "" {
			continue // an empty paidTier says nothing; fall back to currentTier
		}
		sub.TierID, sub.TierName = id, name
		sub.Tier = NormalizeTier(id, name)
		break
	}

	inel, err := asArray(m, "ineligibleTiers", o["ineligibleTiers"])
	if err != nil {
		return nil, err
	}
	for i, raw := range inel {
		path := fmt.Sprintf("ineligibleTiers[%d]", i)
		t, err := asObject(m, path, raw)
		if err != nil {
			return nil, err
		}
		reason, err := asString(m, path+".reasonCode", t["reasonCode"])
		if err != nil {
			return nil, err
		}
		if !strings.EqualFold(reason, "VALIDATION_REQUIRED") {
			continue
		}
		sub.ValidationRequired = true
		if sub.ValidationURL == "" {
			for _, key := range []string{"validationUrl", "validationURL", "validation_url", "validationLink"} {
				if u, err := asString(m, path+"."+key, t[key]); err == nil && u != "" {
					sub.ValidationURL = u
					break
				}
			}
		}
	}
	return sub, nil
}

// ParseAvailableModels parses a fetchAvailableModels answer. Internal
// models (chat_*, tab_*) are dropped; models are sorted by id. A model with
// a quotaInfo but no remainingFraction is at 0 (proto3 JSON leaves the zero
// out); a model without quotaInfo is unknown. One malformed model entry is
// skipped and reported in Problems, never failing the others; only an
// answer whose shape is wrong as a whole is an error.
func ParseAvailableModels(body []byte) (*ModelCatalog, error) {
	const m = rpcFetchAvailableModels
	o, err := parseBody(m, body)
	if err != nil {
		return nil, err
	}
	models, err := asObject(m, "models", o["models"])
	if err != nil {
		return nil, err
	}
	cat := &ModelCatalog{Models: make([]ModelQuota, 0, len(models))}
	for id, raw := range models {
		if IsInternalModel(id) {
			continue
		}
		mq, problem, err := parseModel(id, raw)
		if err != nil {
			cat.Problems = append(cat.Problems, "skipped model "+id+": "+problemText(err))
			continue
		}
		if problem != "" {
			cat.Problems = append(cat.Problems, problem)
		}
		cat.Models = append(cat.Models, mq)
	}
	sort.Slice(cat.Models, func(i, j int) bool { return cat.Models[i].ID < cat.Models[j].ID })

	dep, err := asObject(m, "deprecatedModelIds", o["deprecatedModelIds"])
	if err != nil {
		// The renames are a convenience: without them every model still
		// has its figure.
		cat.Problems = append(cat.Problems, "ignored deprecatedModelIds: "+problemText(err))
		dep = nil
	}
	for old, raw := range dep {
		path := "deprecatedModelIds." + old
		var repl string
		if jsonKind(raw) == "object" {
			d, err := asObject(m, path, raw)
			if err == nil {
				repl, err = asString(m, path+".newModelId", d["newModelId"])
			}
			if err != nil {
				cat.Problems = append(cat.Problems, "ignored "+path+": "+problemText(err))
				continue
			}
		} else if repl, err = asString(m, path, raw); err != nil {
			cat.Problems = append(cat.Problems, "ignored "+path+": "+problemText(err))
			continue
		}
		if cat.Deprecated == nil {
			cat.Deprecated = make(map[string]string, len(dep))
		}
		cat.Deprecated[old] = repl
	}
	sort.Strings(cat.Problems) // map order is random; keep reports stable
	return cat, nil
}

// parseModel reads one entry of fetchAvailableModels' models object.
func parseModel(id string, raw json.RawMessage) (ModelQuota, string, error) {
	const m = rpcFetchAvailableModels
	path := "models." + id
	mo, err := asObject(m, path, raw)
	if err != nil {
		return ModelQuota{}, "", err
	}
	if mo == nil {
		return ModelQuota{}, "", malformed(m, "%s: want object, got null", path)
	}
	mq := ModelQuota{ID: id, Family: ModelFamily(id)}
	if mq.DisplayName, err = asString(m, path+".displayName", mo["displayName"]); err != nil {
		return ModelQuota{}, "", err
	}
	qi, err := asObject(m, path+".quotaInfo", mo["quotaInfo"])
	if err != nil {
		return ModelQuota{}, "", err
	}
	if qi == nil {
		return mq, "", nil // no quotaInfo at all: unknown
	}
	f, problem, err := readFraction(m, path+".quotaInfo.remainingFraction", qi["remainingFraction"])
	if err != nil {
		return ModelQuota{}, "", err
	}
	mq.Remaining, mq.ResetTime = f, asTime(qi["resetTime"])
	return mq, problem, nil
}

// problemText is an error's description without the "malformed ...
// response" preamble, for a Problems entry.
func problemText(err error) string {
	var me *MalformedResponseError
	if errors.As(err, &me) {
		return me.Problem
	}
	return err.Error()
}

// ParseQuotaSummary parses a retrieveUserQuotaSummary answer, with the
// groups at the top level or under "quotaSummary". A bucket's family comes
// from its group's display name, else its id prefix ("gemini-", "3p-"); its
// window from "window", else the id suffix ("-5h", "-weekly"). A bucket
// without remainingFraction is at 0 (proto3 JSON leaves the zero out). A
// malformed group or bucket is skipped and reported in Problems.
func ParseQuotaSummary(body []byte) (*QuotaSummary, error) {
	const m = rpcQuotaSummary
	o, err := parseBody(m, body)
	if err != nil {
		return nil, err
	}
	groupsPath := "groups"
	groupsRaw := o["groups"]
	if isNull(groupsRaw) && !isNull(o["quotaSummary"]) {
		qs, err := asObject(m, "quotaSummary", o["quotaSummary"])
		if err != nil {
			return nil, err
		}
		groupsPath, groupsRaw = "quotaSummary.groups", qs["groups"]
	}
	groups, err := asArray(m, groupsPath, groupsRaw)
	if err != nil {
		return nil, err
	}
	sum := &QuotaSummary{}
	for i, graw := range groups {
		gpath := fmt.Sprintf("%s[%d]", groupsPath, i)
		name, buckets, err := parseGroup(gpath, graw)
		if err != nil {
			sum.Problems = append(sum.Problems, "skipped "+gpath+": "+problemText(err))
			continue
		}
		for j, braw := range buckets {
			bpath := fmt.Sprintf("%s.buckets[%d]", gpath, j)
			b, problem, err := parseBucket(bpath, name, braw)
			if err != nil {
				sum.Problems = append(sum.Problems, "skipped "+bpath+": "+problemText(err))
				continue
			}
			if problem != "" {
				sum.Problems = append(sum.Problems, problem)
			}
			sum.Buckets = append(sum.Buckets, b)
		}
	}
	return sum, nil
}

// parseGroup reads one group's display name and its bucket list.
func parseGroup(gpath string, raw json.RawMessage) (string, []json.RawMessage, error) {
	const m = rpcQuotaSummary
	g, err := asObject(m, gpath, raw)
	if err != nil {
		return "", nil, err
	}
	name, err := asString(m, gpath+".displayName", g["displayName"])
	if err != nil {
		return "", nil, err
	}
	buckets, err := asArray(m, gpath+".buckets", g["buckets"])
	return name, buckets, err
}

// parseBucket reads one bucket of a group named group.
func parseBucket(bpath, group string, raw json.RawMessage) (Bucket, string, error) {
	const m = rpcQuotaSummary
	bo, err := asObject(m, bpath, raw)
	if err != nil {
		return Bucket{}, "", err
	}
	if bo == nil {
		return Bucket{}, "", malformed(m, "%s: want object, got null", bpath)
	}
	b := Bucket{Group: group}
	if b.BucketID, err = asString(m, bpath+".bucketId", bo["bucketId"]); err != nil {
		return Bucket{}, "", err
	}
	win, err := asString(m, bpath+".window", bo["window"])
	if err != nil {
		return Bucket{}, "", err
	}
	f, problem, err := readFraction(m, bpath+".remainingFraction", bo["remainingFraction"])
	if err != nil {
		return Bucket{}, "", err
	}
	b.Remaining, b.ResetTime = f, asTime(bo["resetTime"])
	b.Family = bucketFamily(group, b.BucketID)
	b.Window = bucketWindow(win, b.BucketID)
	return b, problem, nil
}

// bucketFamily maps a summary bucket to its family: by the group's display
// name first, then by the bucket id's prefix ("gemini-", "3p-", "claude-").
func bucketFamily(group, bucketID string) Family {
	if f := familyOfGroup(group); f != FamilyUnknown {
		return f
	}
	if strings.HasPrefix(strings.ToLower(bucketID), "3p") {
		return FamilyClaudeGPT
	}
	return ModelFamily(bucketID)
}

// bucketWindow normalises a bucket's window, falling back to the bucket id
// suffix. An unrecognised window is kept as sent, lower-cased.
func bucketWindow(window, bucketID string) Window {
	if w, ok := normalizeWindow(window); ok {
		return w
	}
	id := strings.ToLower(bucketID)
	if i := strings.LastIndexAny(id, "-_"); i >= 0 {
		if w, ok := normalizeWindow(id[i+1:]); ok {
			return w
		}
	}
	return Window(strings.ToLower(strings.TrimSpace(window)))
}

// normalizeWindow recognises the spellings of the two windows.
func normalizeWindow(s string) (Window, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "5h", "5-hour", "5hour", "five_hour", "five-hour", "5_hour", "18000s", "hourly":
		return Window5h, true
	case "weekly", "week", "7d", "604800s", "window_weekly":
		return WindowWeekly, true
	}
	return "", false
}

// UnwrapResponse returns the "response" member of a wrapped generation
// answer when present (an object), else body itself.
func UnwrapResponse(body []byte) []byte {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return body
	}
	var w struct {
		Response json.RawMessage `json:"response"`
	}
	if json.Unmarshal(trimmed, &w) != nil || jsonKind(w.Response) != "object" {
		return body
	}
	return w.Response
}
