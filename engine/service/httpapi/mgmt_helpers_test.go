package httpapi

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
)

// client5 is a connected paho MQTT 5 client; messages it receives arrive on msgs, the
// DISCONNECT the server sends on gone.
type client5 struct {
	c    *paho.Client
	msgs chan *paho.Publish
	gone chan *paho.Disconnect
}

// connect5 connects an MQTT 5 client with cp (ClientID, Username, CleanStart, session expiry);
// it disconnects when the test ends.
func connect5(t *testing.T, addr string, cp *paho.Connect) *client5 {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cl := &client5{msgs: make(chan *paho.Publish, 64), gone: make(chan *paho.Disconnect, 1)}
	cl.c = paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) { cl.msgs <- pr.Packet; return true, nil },
		},
		OnServerDisconnect: func(d *paho.Disconnect) { cl.gone <- d },
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if cp.KeepAlive == 0 {
		cp.KeepAlive = 30
	}
	if cp.Username != "" {
		cp.UsernameFlag = true
	}
	if ca, err := cl.c.Connect(ctx, cp); err != nil || ca.ReasonCode != 0 {
		t.Fatalf("connect %q: %v %v", cp.ClientID, ca, err)
	}
	t.Cleanup(func() { _ = cl.c.Disconnect(&paho.Disconnect{}) })
	return cl
}

func (cl *client5) subscribe(t *testing.T, filter string, qos byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cl.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}}); err != nil {
		t.Fatalf("subscribe %q: %v", filter, err)
	}
}

// publish publishes at QoS 1 and waits for the PUBACK, so the broker has handled it.
func (cl *client5) publish(t *testing.T, topic, payload string) byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := cl.c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(payload)})
	if err != nil && r == nil {
		t.Fatalf("publish %q: %v", topic, err)
	}
	return r.ReasonCode
}

// next waits for the next message.
func (cl *client5) next(t *testing.T) *paho.Publish {
	t.Helper()
	select {
	case p := <-cl.msgs:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5 s")
		return nil
	}
}

// connect3 connects an MQTT 3.1.1 client (paho.mqtt.golang) with a clean session.
func connect3(t *testing.T, addr, id, username string) mqtt3.Client {
	t.Helper()
	o := mqtt3.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetUsername(username).
		SetProtocolVersion(4).SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false)
	c := mqtt3.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect 3.1.1 %q: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// page is a decoded paged answer.
type page struct {
	Code int               `json:"code"`
	Data []json.RawMessage `json:"data"`
	Meta pageMeta          `json:"meta"`
}

// getPage GETs a paged list and requires a 200.
func (e *env) getPage(t *testing.T, path string) page {
	t.Helper()
	status, b := e.do(t, "GET", path, "", true)
	var p page
	if err := json.Unmarshal(b, &p); err != nil || status != http.StatusOK || p.Code != 0 {
		t.Fatalf("GET %s: status %d body %s (%v)", path, status, b, err)
	}
	return p
}

// getData GETs path, requires a 200 with code 0 and decodes data into v.
func (e *env) getData(t *testing.T, path string, v any) {
	t.Helper()
	status, b := e.do(t, "GET", path, "", true)
	env := decodeEnvelope(t, b)
	if status != http.StatusOK || env.Code != 0 {
		t.Fatalf("GET %s: status %d body %s", path, status, b)
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		t.Fatalf("GET %s: data %s: %v", path, env.Data, err)
	}
}

// refused sends a request and requires the status, the code and wantInMessage in the message.
func (e *env) refused(t *testing.T, method, path, body string, wantStatus, wantCode int, wantInMessage string) {
	t.Helper()
	status, b := e.do(t, method, path, body, true)
	env := decodeEnvelope(t, b)
	if status != wantStatus || env.Code != wantCode || !strings.Contains(env.Message, wantInMessage) {
		t.Fatalf("%s %s %.80s: status %d %s, want %d code %d with %q in the message", method, path, body, status, b, wantStatus, wantCode, wantInMessage)
	}
}

// ids returns the "clientid" member of each item.
func ids(t *testing.T, items []json.RawMessage) []string {
	t.Helper()
	out := []string{}
	for _, it := range items {
		var x struct {
			ClientID string `json:"clientid"`
		}
		if err := json.Unmarshal(it, &x); err != nil {
			t.Fatal(err)
		}
		out = append(out, x.ClientID)
	}
	return out
}
