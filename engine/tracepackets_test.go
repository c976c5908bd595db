package engine

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/emqgo/emqgo/codec"
)

// packetHooks records the packet types the PacketIn and PacketsOut hooks see for one client
// as "in CONNECT", "out CONNACK" events (with the PUBLISH topic and payload size).
func packetHooks(log *eventLog, clientID string) *Hooks {
	name := func(pkt []byte, v codec.Version) string {
		h, err := codec.Frame(pkt, 0)
		if err != nil {
			return "bad frame: " + err.Error()
		}
		s := h.Type.String()
		if h.Type == codec.TypePublish {
			var p codec.Publish
			if err := p.Decode(pkt[:h.Total], v); err != nil {
				return "bad publish: " + err.Error()
			}
			s += " " + string(p.Topic) + " " + strconv.Itoa(len(p.Payload))
		}
		return s
	}
	return &Hooks{
		PacketIn: func(id string, v codec.Version, pkt []byte) {
			if id == "" && codec.PacketType(pkt[0]>>4) == codec.TypeConnect {
				var p codec.Connect
				if p.Decode(pkt) == nil {
					id = string(p.ClientID) // a CONNECT comes before the client id is known
				}
			}
			if id == clientID {
				log.add("in %s", name(pkt, v))
			}
		},
		PacketsOut: func(id string, v codec.Version, bufs [][]byte) {
			if id != clientID {
				return
			}
			all := bytes.Join(bufs, nil)
			for len(all) > 0 {
				h, err := codec.Frame(all, 0)
				if err != nil || h.Total == 0 {
					log.add("out: not whole packets (%v)", err)
					return
				}
				log.add("out %s", name(all[:h.Total], v))
				all = all[h.Total:]
			}
		},
	}
}

// TestPacketHooks: every packet in and out of a client reaches the packet hooks once, in
// order, including a PUBLISH whose payload is written by reference (writev), and nothing of
// other clients.
func TestPacketHooks(t *testing.T) {
	n, addr := testNode(t, nil)
	var log eventLog
	remove := n.AddHooks(packetHooks(&log, "p1"))
	defer remove()

	c, _ := connectRaw(t, addr, codec.V5, "p1", nil)
	other, _ := connectRaw(t, addr, codec.V311, "p2", nil)
	c.subscribe(1, 0, sub("t/#", 1))
	big := bytes.Repeat([]byte("x"), 3*writevThreshold)
	other.publish(&codec.Publish{QoS: 1, PacketID: 9, Topic: []byte("t/big"), Payload: big})
	m := c.recvPublish()
	c.ack(codec.TypePuback, m.PacketID)
	c.publish(&codec.Publish{QoS: 1, PacketID: 2, Topic: []byte("u/small"), Payload: []byte("hi")})
	c.recvAck(codec.TypePuback)
	c.send(codec.AppendPingreq(nil))
	c.expect(codec.TypePingresp)
	c.disconnect(0, nil)
	log.expect(t, "in CONNECT", "out CONNACK", "in SUBSCRIBE", "out SUBACK",
		"out PUBLISH t/big 6144", "in PUBACK", "in PUBLISH u/small 2", "out PUBACK",
		"in PINGREQ", "out PINGRESP", "in DISCONNECT")
	log.mu.Lock()
	defer log.mu.Unlock()
	seen := map[string]int{}
	for _, e := range log.events {
		seen[e]++
		if strings.Contains(e, "not whole") || strings.Contains(e, "bad") {
			t.Errorf("event %q", e)
		}
	}
	if seen["in SUBSCRIBE"] != 1 || seen["in CONNECT"] != 1 || seen["out PUBLISH t/big 6144"] != 1 {
		t.Errorf("packets reported more than once: %v", log.events)
	}
}
