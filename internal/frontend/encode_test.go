package frontend

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

var marshalCorpus = []string{
	`{"contents":[{"role":"user","parts":[{"text":"how long does this take?"}]}],"generationConfig":{"maxOutputTokens":1024},"sessionId":"-6359009256728443947"}`,
	`{"contents":null}`, `{"contents":[]}`, `{"contents":[{"parts":null}]}`, `{"contents":[{"role":"model","parts":[]}]}`,
	`{"contents":[{"role":"model","parts":[{"text":"t <b> & \u2028 \u2029 é \ud83d\ude00","thought":true,"thoughtSignature":"sig"},
	  {"functionCall":{"id":"toolu_1","name":"Bash","args":{"command":"ls -la","n":[1,2.50,1e3]}}},
	  {"functionCall":{"name":"f","args":{ "spaced" : [ 1 , 2 ] }}},
	  {"functionCall":{"name":"f","args":{"html":"<a href=\"x\">&</a>"}}},
	  {"functionCall":{"name":"f","args":{"ls":"\u2028"}}},
	  {"functionCall":{"name":"f"}}]},
	 {"role":"user","parts":[{"functionResponse":{"id":"toolu_1","name":"Bash","response":{"result":"a.go\nb.go"},"parts":[{"inlineData":{"mimeType":"image/png","data":"AAAA"}}]}},
	  {"functionResponse":{"name":"g"}},{"fileData":{"fileUri":"gs://x"}},{"fileData":{"mimeType":"a/b","fileUri":"u"}},{"inlineData":{"mimeType":"","data":""}}]}],
	 "systemInstruction":{"role":"user","parts":[{"text":"You are Claude Code.\n"}]},
	 "tools":[{"functionDeclarations":[{"name":"Bash","description":"Run","parameters":{"type":"object","properties":{"command":{"type":"string"}}}},{"name":"x"}]},{}],
	 "toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["Bash","a\"b"]}},
	 "generationConfig":{"maxOutputTokens":64000,"temperature":0.7,"topP":1,"topK":40,"stopSequences":["\n\nHuman:",""],"responseMimeType":"application/json","responseSchema":{"type":"object"},"thinkingConfig":{"includeThoughts":true,"thinkingBudget":24576}},
	 "sessionId":"-1"}`,
	`{"contents":[],"toolConfig":{},"generationConfig":{"temperature":0,"topP":1e-7,"topK":0,"thinkingConfig":{}}}`,
	`{"contents":[],"toolConfig":{"functionCallingConfig":{}},"generationConfig":{"temperature":1e21,"topP":-0.000001,"stopSequences":[]}}`,
	`{"contents":[],"generationConfig":{"temperature":123456789012345678901234,"topP":5e-324}}`,
	"{\"contents\":[{\"parts\":[{\"text\":\"bad utf8 \xff\",\"functionCall\":{\"name\":\"\xfe\",\"args\":{\"k\":\"\xff\"}}}]}]}",
}

func compareMarshal(t *testing.T, g *Request) {
	t.Helper()
	got, err := g.Marshal()
	want, wantErr := json.Marshal(g)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%+v: error %v, encoding/json's %v", g, err, wantErr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestMarshalMatchesEncodingJSON checks Request.Marshal against
// json.Marshal byte for byte, and that the common shapes take the fast
// path.
func TestMarshalMatchesEncodingJSON(t *testing.T) {
	for _, in := range marshalCorpus {
		var g Request
		if err := json.Unmarshal([]byte(in), &g); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		compareMarshal(t, &g)
	}
	var g Request
	_ = json.Unmarshal([]byte(marshalCorpus[0]), &g)
	e := encoder{}
	if e.request(&g); e.bad {
		t.Error("the common shape was left to json.Marshal")
	}
	// What a JSON document cannot carry: bad raw members and floats.
	nan, inf := math.NaN(), math.Inf(1)
	for _, g := range []*Request{
		{GenerationConfig: &GenerationConfig{Temperature: &nan}},
		{GenerationConfig: &GenerationConfig{TopP: &inf}},
		{Contents: []Content{{Parts: []Part{{FunctionCall: &FunctionCall{Name: "f", Args: json.RawMessage(`{"a":`)}}}}}},
		{Contents: []Content{{Parts: []Part{{FunctionResponse: &FunctionResponse{Name: "f", Response: json.RawMessage(`nope`)}}}}}},
		{Contents: []Content{{Parts: []Part{{FunctionResponse: &FunctionResponse{Name: "f", Response: json.RawMessage(` {"a":1} `)}}}}}},
		{Tools: []Tool{{FunctionDeclarations: []FunctionDeclaration{{Name: "f", Parameters: json.RawMessage("{\"a\":\"\u2029\"}")}}}}},
	} {
		compareMarshal(t, g)
	}
}

// FuzzMarshal compares Request.Marshal with json.Marshal on any request
// a JSON document decodes into.
func FuzzMarshal(f *testing.F) {
	for _, in := range marshalCorpus {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var g Request
		if json.Unmarshal(in, &g) != nil {
			return
		}
		compareMarshal(t, &g)
	})
}
