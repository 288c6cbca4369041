package config

import (
	"strings"
	"testing"
)

// TestProxyHardeningSettings (issue 11.12): an API key under 16 characters
// and a buffer limit below the body limit are refused with what is allowed;
// the proxy's new settings load from flags.
func TestProxyHardeningSettings(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--proxy-api-key", "short"}, "proxy.api_key = [set]: must be at least 16 characters (it has 5)"},
		{[]string{"--proxy-body-limit", "32MiB", "--proxy-buffer-limit", "1MiB"}, `proxy.buffer_limit = "1MiB": must be at least proxy.body_limit (32MiB)`},
		{[]string{"--proxy-first-byte-timeout", "0s"}, "proxy.first_byte_timeout"},
	} {
		_, _, err := load(t, tt.args, nil, "")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want %q", tt.args, err, tt.want)
		}
	}
	c, _, err := load(t, []string{"--proxy-allowed-hosts", "quotatui.lan, box.local", "--proxy-stream-idle-timeout", "90s"}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Proxy.AllowedHosts, ",") != "quotatui.lan,box.local" || c.Proxy.StreamIdleTimeout.String() != "1m30s" {
		t.Errorf("allowed hosts %q, idle %s", c.Proxy.AllowedHosts, c.Proxy.StreamIdleTimeout)
	}
}
