package bridge

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
)

// v5Client connects a paho.golang MQTT 5 client; messages it receives go to the channel.
func v5Client(t *testing.T, addr, id string) (*paho.Client, chan *paho.Publish) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *paho.Publish, 100)
	c := paho.NewClient(paho.ClientConfig{Conn: conn, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) { ch <- pr.Packet; return true, nil },
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ca, err := c.Connect(ctx, &paho.Connect{ClientID: id, KeepAlive: 30, CleanStart: true}); err != nil || ca.ReasonCode != 0 {
		t.Fatalf("connect %s: %v %v", id, err, ca)
	}
	t.Cleanup(func() { c.Disconnect(&paho.Disconnect{}) })
	return c, ch
}

func v5Subscribe(t *testing.T, c *paho.Client, filter string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
}

func v5Publish(t *testing.T, c *paho.Client, topic, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(payload), Properties: &paho.PublishProperties{
		ContentType: "text/plain", ResponseTopic: "reply/" + topic, CorrelationData: []byte("c1"),
		User: paho.UserProperties{{Key: "origin", Value: topic}}, MessageExpiry: ptr(uint32(3600)),
	}})
	if err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

func checkProps(t *testing.T, ch chan *paho.Publish, topic, origin string) {
	t.Helper()
	select {
	case p := <-ch:
		pr := p.Properties
		if p.Topic != topic || pr == nil || pr.ContentType != "text/plain" || pr.ResponseTopic != "reply/"+origin ||
			string(pr.CorrelationData) != "c1" || pr.User.Get("origin") != origin || pr.MessageExpiry == nil || *pr.MessageExpiry == 0 || *pr.MessageExpiry > 3600 {
			t.Fatalf("received %s with properties %+v", p.Topic, pr)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("nothing received on %s", topic)
	}
}

// TestV5Properties: between two MQTT 5 brokers of ours, the properties a subscriber receives
// (content type, response topic, correlation data, user properties, remaining expiry) cross
// the bridge in both directions.
func TestV5Properties(t *testing.T) {
	local, localAddr, _ := startNode(t, "edge@127.0.0.1")
	_, remoteAddr, _ := startNode(t, "cloud@127.0.0.1")
	cfg := baseConfig(remoteAddr, codec.V5)
	cfg.Forwards = []string{"up/#"}
	cfg.Subscriptions = []Subscription{{Topic: "down/#", QoS: 1}}
	b := openSet(t, local, cfg, "").Bridge("aws")
	waitFor(t, "the bridge to connect", func() bool { return b.State() == Connected })

	remote, remoteIn := v5Client(t, remoteAddr, "remote")
	v5Subscribe(t, remote, "up/#")
	edge, edgeIn := v5Client(t, localAddr, "edge")
	v5Subscribe(t, edge, "down/#")
	time.Sleep(100 * time.Millisecond)

	v5Publish(t, edge, "up/1", "to the cloud")
	checkProps(t, remoteIn, "up/1", "up/1")
	v5Publish(t, remote, "down/1", "to the edge")
	checkProps(t, edgeIn, "down/1", "down/1")
}

// TestTooLargeForRemote: a message larger than the MQTT 5 remote's Maximum Packet Size is
// dropped and counted (sending it would only get the connection closed, again and again),
// and the messages after it go through.
func TestTooLargeForRemote(t *testing.T) {
	local, localAddr, _ := startNode(t, "edge@127.0.0.1")
	_, remoteAddr, _ := startNodeZone(t, "cloud@127.0.0.1", func(z *engine.Zone) { z.MaxPacketSize = 1024 })
	cfg := baseConfig(remoteAddr, codec.V5)
	cfg.Forwards = []string{"up/#"}
	b := openSet(t, local, cfg, "").Bridge("aws")
	waitFor(t, "the bridge to connect", func() bool { return b.State() == Connected })
	remote := connectClient(t, remoteAddr, "remote")
	remote.subscribe(t, "up/#", 1)
	pub := connectClient(t, localAddr, "pub")
	pub.publish(t, "up/big", 1, false, strings.Repeat("x", 2000))
	pub.publish(t, "up/small", 1, false, "fits")
	remote.expect(t, "up/small", "fits")
	if m := b.Metrics(); m.Dropped != 1 || m.Reconnects != 0 {
		t.Fatalf("metrics %+v: want the large message dropped and no reconnect", m)
	}
}
