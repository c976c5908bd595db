package wire

import (
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine/config"
)

// TestHTTPAPIOptions: the management.* keys that act reach the API's options.
func TestHTTPAPIOptions(t *testing.T) {
	f := func(conf, addr, network string, maxClients int, send time.Duration, id, secret string) {
		t.Helper()
		c, _, err := config.Parse("test.conf", []byte(conf), nil)
		if err != nil {
			t.Fatal(err)
		}
		o, ok := HTTPAPI(c, nil)
		if !ok {
			t.Fatalf("%s: no API", conf)
		}
		if o.Addr != addr || o.Network != network || o.MaxClients != maxClients || o.WriteTimeout != send {
			t.Fatalf("%s: got %s %s %d %v, want %s %s %d %v", conf, o.Addr, o.Network, o.MaxClients, o.WriteTimeout, addr, network, maxClients, send)
		}
		if !o.Apps.Check(id, secret) || o.Apps.Check(id, secret+"x") {
			t.Fatalf("%s: the default application is not %s/%s", conf, id, secret)
		}
	}
	f("", ":8080", "tcp4", 512, 15*time.Second, "admin", "public")
	f("management.listener.http = 127.0.0.1:18080\nmanagement.listener.http.max_clients = 3\nmanagement.listener.http.send_timeout = 2s\n"+
		"management.default_application.id = ops\nmanagement.default_application.secret = s3cret\n",
		"127.0.0.1:18080", "tcp4", 3, 2*time.Second, "ops", "s3cret")
	f("management.listener.http.inet6 = true\n", ":8080", "tcp", 512, 15*time.Second, "admin", "public")
	f("management.listener.http.inet6 = true\nmanagement.listener.http.ipv6_v6only = true\n", ":8080", "tcp6", 512, 15*time.Second, "admin", "public")
}
