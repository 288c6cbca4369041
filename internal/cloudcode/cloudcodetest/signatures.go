package cloudcodetest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// signer mints and checks thought signatures the way the service behaves:
// a signature names the model (and account) that issued it and is bound
// to the thought text (Claude) or the call (Gemini); a forged or edited
// one is refused. Claude signatures are accepted from another account
// unless bindClaude is set (peers found no account binding, but it is not
// proven: tests run both ways); Gemini's are bound to the account.
type signer struct {
	key        []byte
	bindClaude bool
}

func newSigner(bindClaude bool) *signer {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return &signer{key: k, bindClaude: bindClaude}
}

// accountTag names an account inside a signature without its email.
func accountTag(a *account) string {
	sum := sha256.Sum256([]byte(a.email))
	return hex.EncodeToString(sum[:6])
}

func (g *signer) mac(parts ...string) string {
	m := hmac.New(sha256.New, g.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil)[:18])
}

// mint returns a signature for kind ("claude" or "gemini"), account,
// model and the bound content. Claude's start with "R" like the service's
// base64-wrapped ones.
func (g *signer) mint(kind string, a *account, model, content string) string {
	tag := accountTag(a)
	raw := strings.Join([]string{kind, model, tag, g.mac(kind, model, tag, content)}, "|")
	return "R" + base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// open returns a signature's fields when it was minted by this signer for
// content, whatever the account and model.
func (g *signer) open(sig, kind, content string) (model, tag string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(sig, "R"))
	if err != nil || !strings.HasPrefix(sig, "R") {
		return "", "", false
	}
	f := strings.Split(string(b), "|")
	if len(f) != 4 || f[0] != kind {
		return "", "", false
	}
	if !hmac.Equal([]byte(f[3]), []byte(g.mac(kind, f[1], f[2], content))) {
		return "", "", false
	}
	return f[1], f[2], true
}

// validClaude checks a replayed thinking block's signature.
func (g *signer) validClaude(sig string, a *account, model, text string) bool {
	m, tag, ok := g.open(sig, "claude", text)
	if !ok || m != model {
		return false
	}
	return !g.bindClaude || tag == accountTag(a)
}

// validGemini checks a replayed function call's signature.
func (g *signer) validGemini(sig string, a *account, model string) bool {
	m, tag, ok := g.open(sig, "gemini", "")
	return ok && m == model && tag == accountTag(a)
}
