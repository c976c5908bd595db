package wire

import (
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine/config"
)

// proxy_protocol and proxy_protocol_timeout reach the engine's listeners of every kind.
func TestFromConfigProxyProtocol(t *testing.T) {
	c, _, err := config.Load("", []string{
		"EMQX_LISTENER__TCP__EXTERNAL__PROXY_PROTOCOL=on",
		"EMQX_LISTENER__TCP__EXTERNAL__PROXY_PROTOCOL_TIMEOUT=7s",
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := FromConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range cfg.Listeners {
		switch {
		case l.Name == "external" && l.Kind == "tcp":
			found = true
			if !l.ProxyProtocol || l.ProxyProtocolTimeout != 7*time.Second {
				t.Fatalf("external: proxy_protocol %v, timeout %v; want on, 7s", l.ProxyProtocol, l.ProxyProtocolTimeout)
			}
		default:
			if l.ProxyProtocol {
				t.Fatalf("listener %s got proxy_protocol", l.Name)
			}
		}
	}
	if !found {
		t.Fatal("no external tcp listener")
	}

	// ssl, ws and wss listeners take it too.
	c, _, err = config.Load("", []string{"EMQX_LISTENER__WS__EXTERNAL__PROXY_PROTOCOL=on",
		"EMQX_LISTENER__SSL__EXTERNAL__PROXY_PROTOCOL=on", "EMQX_LISTENER__SSL__EXTERNAL__PROXY_PROTOCOL_TIMEOUT=2s"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err = FromConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, l := range cfg.Listeners {
		if l.ProxyProtocol {
			kinds[l.Kind] = true
			if l.Kind == "ssl" && l.ProxyProtocolTimeout != 2*time.Second {
				t.Fatalf("ssl proxy_protocol_timeout %v", l.ProxyProtocolTimeout)
			}
		}
	}
	if !kinds["ws"] || len(kinds) > 2 {
		t.Fatalf("listeners with proxy_protocol: %v, want ws (and ssl when the demo certificates exist)", kinds)
	}
}
