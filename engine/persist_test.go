package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/sessions"
	"github.com/emqgo/emqgo/sessions/kvlog"
)

// TestRetainedSurviveRestart: retained messages (with properties), replacements and
// deletions written through one node are there when a new node opens the same store; an
// expired one is not.
func TestRetainedSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	open := func() *sessions.Store {
		st, _, err := sessions.OpenStore(dir, kvlog.Options{Fsync: kvlog.FsyncAlways})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st1 := open()
	n1, addr := testNode(t, func(c *Config) { c.Store = st1 })
	pub, _ := v5(t, addr, &paho.Connect{ClientID: "pub", CleanStart: true}, nil)
	for i := range 20 {
		pubRetained(t, pub, fmt.Sprintf("r/%d", i), 1, fmt.Sprintf("v1-%d", i))
	}
	for i := range 20 {
		switch i % 3 {
		case 0:
			pubRetained(t, pub, fmt.Sprintf("r/%d", i), 1, "") // delete
		case 1:
			pubRetained(t, pub, fmt.Sprintf("r/%d", i), 2, fmt.Sprintf("v2-%d", i))
		}
	}
	exp := uint32(1)
	resp, err := pub.Publish(ctx5(t), &paho.Publish{Topic: "props", QoS: 1, Retain: true, Payload: []byte("{}"),
		Properties: &paho.PublishProperties{ContentType: "application/json", ResponseTopic: "re", CorrelationData: []byte{1, 2},
			User: paho.UserProperties{{Key: "k", Value: "v"}, {Key: "k", Value: "w"}}}})
	if err != nil || resp.ReasonCode >= 0x80 {
		t.Fatalf("publish: %v %v", resp, err)
	}
	pub.Publish(ctx5(t), &paho.Publish{Topic: "short", QoS: 1, Retain: true, Payload: []byte("x"), Properties: &paho.PublishProperties{MessageExpiry: &exp}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n1.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // "short" expires

	st2 := open()
	_, addr2 := testNode(t, func(c *Config) { c.Store = st2 })
	r := newReceived()
	sub, _ := v5(t, addr2, &paho.Connect{ClientID: "sub", CleanStart: true}, r)
	sub5(t, sub, "#", 1)
	got := map[string]*paho.Publish{}
	want := 1 + 20 - 7 // props + r/* not deleted
	for range want {
		p := r.next(t)
		if !p.Retain {
			t.Fatalf("%q without RETAIN", p.Topic)
		}
		got[p.Topic] = p
	}
	r.none(t, 200*time.Millisecond)
	for i := range 20 {
		p, ok := got[fmt.Sprintf("r/%d", i)]
		switch i % 3 {
		case 0:
			if ok {
				t.Fatalf("deleted r/%d came back: %q", i, p.Payload)
			}
		case 1:
			if !ok || string(p.Payload) != fmt.Sprintf("v2-%d", i) || p.QoS != 1 {
				t.Fatalf("r/%d: %v", i, p)
			}
		case 2:
			if !ok || string(p.Payload) != fmt.Sprintf("v1-%d", i) {
				t.Fatalf("r/%d: %v", i, p)
			}
		}
	}
	p := got["props"]
	if p == nil || p.Properties == nil || p.Properties.ContentType != "application/json" || p.Properties.ResponseTopic != "re" ||
		string(p.Properties.CorrelationData) != "\x01\x02" || len(p.Properties.User) != 2 || p.Properties.User[1].Value != "w" {
		t.Fatalf("props: %+v", p)
	}
	// The expired message was deleted from the store as it was skipped.
	if err := st2.Log().Sync(); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := st2.Log().Get([]byte("rshort")); ok {
		t.Fatal("expired retained message still in the store")
	}
}

func pubRetained(t *testing.T, c *paho.Client, topic string, qos byte, payload string) {
	t.Helper()
	resp, err := c.Publish(ctx5(t), &paho.Publish{Topic: topic, QoS: qos, Retain: true, Payload: []byte(payload)})
	if err != nil || resp.ReasonCode >= 0x80 {
		t.Fatalf("publish %q: %v %v", topic, resp, err)
	}
}
