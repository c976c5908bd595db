package main

import (
	"strings"
	"testing"
	"time"
)

// Every transport row runs over the transport it names, and each broker's configuration
// gets listeners for it on the chosen ports with the suite's certificates.
func TestTransportCases(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range suiteCases(time.Second, 10000) {
		o := defaultOptions(c.Scenario)
		c.apply(&o)
		want := c.Transport
		if want == "" {
			want = "tcp"
		}
		if o.Transport != want {
			t.Errorf("%s: runs over %s, names %s", c.Name, o.Transport, want)
		}
		if c.Scenario == "conn" && c.Transport != "" && o.Subs > transportConns {
			t.Errorf("%s: %d connections, more than %d", c.Name, o.Subs, transportConns)
		}
		seen[c.Name] = true
	}
	for _, n := range []string{"tls-p2p-q0", "tls-p2p-q1", "tls-psk-p2p-q0", "ws-p2p-q0", "tls-conn", "tls-conn-rsa", "tls-conn-resume", "ws-conn"} {
		if !seen[n] {
			t.Errorf("no case %s", n)
		}
	}
	if servesTransport("mochi", "tls") || !servesTransport("mosquitto", "ws") || !servesTransport("mochi", "") {
		t.Error("servesTransport")
	}
	p := listenerPorts{"tcp": "127.0.0.1:1", "tls": "127.0.0.1:2", "ws": "127.0.0.1:3", "psk": "127.0.0.1:4", "tls-rsa": "127.0.0.1:5"}
	c := &benchCerts{CA: "/c/ca.pem", Cert: "/c/cert.pem", Key: "/c/key.pem", PSKFile: "/c/psk.txt", MosquittoPSKFile: "/c/mosquitto.psk", RSACert: "/c/rsa-cert.pem", RSAKey: "/c/rsa-key.pem"}
	conf := mosquittoTransportConf(p, c)
	for _, want := range []string{"listener 2 127.0.0.1\ncertfile /c/cert.pem\nkeyfile /c/key.pem\n", "listener 3 127.0.0.1\nprotocol websockets\n",
		"listener 4 127.0.0.1\npsk_hint bench\npsk_file /c/mosquitto.psk\nciphers PSK-AES128-GCM-SHA256\n",
		"listener 5 127.0.0.1\ncertfile /c/rsa-cert.pem\nkeyfile /c/rsa-key.pem\n"} {
		if !strings.Contains(conf, want) {
			t.Errorf("mosquitto configuration lacks %q:\n%s", want, conf)
		}
	}
	env := strings.Join(oursTransportEnv(p, c), "\n")
	for _, want := range []string{"EMQX_LISTENER__SSL__EXTERNAL=127.0.0.1:2", "EMQX_LISTENER__SSL__EXTERNAL__CERTFILE=/c/cert.pem",
		"EMQX_LISTENER__WS__EXTERNAL=127.0.0.1:3", "EMQX_LISTENER__WSS__EXTERNAL=127.0.0.1:0",
		"EMQX_LISTENER__SSL__PSK=127.0.0.1:4", "EMQX_LISTENER__SSL__PSK__PSK_CIPHERS=PSK-AES128-GCM-SHA256", "EMQX_PSK__FILE__PATH=/c/psk.txt",
		"EMQX_LISTENER__SSL__RSA=127.0.0.1:5", "EMQX_LISTENER__SSL__RSA__KEYFILE=/c/rsa-key.pem"} {
		if !strings.Contains(env, want) {
			t.Errorf("our environment lacks %q:\n%s", want, env)
		}
	}
}
