package auth_test

import (
	"github.com/quotatui/quotatui/internal/auth"
	"github.com/quotatui/quotatui/internal/cloudcode"
	"github.com/quotatui/quotatui/internal/proxy"
	"github.com/quotatui/quotatui/internal/quota"
)

// The packages that use auth declare their own small interfaces; these
// lines fail to compile if *Tokens, *NeedsLoginError or *cloudcode.Client
// drift away from them.
var (
	_ quota.TokenSource              = (*auth.Tokens)(nil)
	_ proxy.TokenSource              = (*auth.Tokens)(nil)
	_ auth.Verifier                  = (*auth.Tokens)(nil)
	_ auth.CodeAssistLoader          = (*cloudcode.Client)(nil)
	_ interface{ NeedsLogin() bool } = (*auth.NeedsLoginError)(nil)
)
