package plugins

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/emqgo/emqgo/cmd/internal/wire"
	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/engine/config"
)

// startNode starts a node on 127.0.0.1 with allow_anonymous as given; it stops with the test.
func startNode(t *testing.T, allowAnonymous bool) *engine.Node {
	t.Helper()
	anon := "false"
	if allowAnonymous {
		anon = "true"
	}
	c, _, err := config.Parse("test.conf", []byte("listener.tcp.external = 127.0.0.1:0\nallow_anonymous = "+anon+"\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ec, _, err := wire.FromConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	ec.LoopCount = 1
	var n *engine.Node
	for attempt := 1; ; attempt++ {
		if n, err = engine.New(ec, quietLog()); err != nil {
			t.Fatal(err)
		}
		if err = n.Start(); err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Errorf("stopping the node: %v", err)
		}
	})
	return n
}

func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testEnv is a node home with etc/plugins/ and data/, and the given environment.
func testEnv(t *testing.T, environ ...string) Env {
	home := t.TempDir()
	return Env{Home: home, EtcDir: filepath.Join(home, "etc", "plugins"), DataDir: filepath.Join(home, "data"), Environ: environ}
}

// writePluginConf writes etc/plugins/<name>.conf under e's home.
func writePluginConf(t *testing.T, e Env, name, text string) {
	t.Helper()
	if err := os.MkdirAll(e.EtcDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.EtcDir, name+".conf"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// connectErr connects a paho MQTT 3.1.1 client and returns the refusal (nil when accepted).
func connectErr(t *testing.T, n *engine.Node, clientID, username, password string) error {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker("tcp://" + n.Addr("external")).SetClientID(clientID).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(30 * time.Second) // bcrypt under -race on a loaded box takes seconds
	if username != "" {
		o.SetUsername(username)
	}
	if password != "" {
		o.SetPassword(password)
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(40 * time.Second) {
		t.Fatalf("%s: no CONNACK", clientID)
	}
	if tok.Error() == nil {
		c.Disconnect(0)
	}
	return tok.Error()
}

// wantConnect checks the outcome of a connect: nil (accepted) or a paho refusal error.
func wantConnect(t *testing.T, n *engine.Node, clientID, username, password string, want error) {
	t.Helper()
	err := connectErr(t, n, clientID, username, password)
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Errorf("connect id=%q user=%q pass=%q: got %v, want %v", clientID, username, password, err, want)
	}
}

var (
	errBadCreds     = packets.ErrorRefusedBadUsernameOrPassword
	errNotAuthorize = packets.ErrorRefusedNotAuthorised
)
