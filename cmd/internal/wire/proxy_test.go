package wire

import (
	"strings"
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine/config"
)

// proxy_protocol and proxy_protocol_timeout reach the engine's tcp listener; on another kind
// of listener the option is refused by name rather than ignored.
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

	c, _, err = config.Load("", []string{"EMQX_LISTENER__SSL__EXTERNAL__PROXY_PROTOCOL=on"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := FromConfig(c); err == nil || !strings.Contains(err.Error(), "listener.ssl.external.proxy_protocol") {
		t.Fatalf("proxy_protocol on an ssl listener: %v, want an error naming the key", err)
	}
}
