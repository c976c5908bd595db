package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/trie"
)

// deepTopic returns a topic of n levels.
func deepTopic(n int) string { return strings.Repeat("d/", n-1) + "d" }

// TestDeepTopics: the subscription index holds topics of up to trie.MaxLevels (128) levels,
// and that is the effective limit when max_topic_levels is 0 or above it. A deeper PUBLISH is
// refused (MQTT 5: DISCONNECT 0x90; 3.x: close), never acknowledged and dropped; a deeper
// filter gets 0x8F (3.x: 0x80); a deeper will topic refuses the CONNECT.
func TestDeepTopics(t *testing.T) {
	t.Parallel()
	for _, levels := range []int{0, 500} {
		name := "max_topic_levels=0"
		if levels != 0 {
			name = "max_topic_levels=500"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n, addr := testNode(t, func(c *Config) { c.Listeners[0].Zone.MaxTopicLevels = levels })
			watch, _ := mustConnect(t, addr, codec.V5, "watch", nil)
			if codes := watch.subscribe(1, 0, sub("#", 1)); codes[0] != 1 {
				t.Fatalf("subscribe #: %v", codes)
			}
			// The deepest topic the index holds is delivered and retained.
			deepest := deepTopic(trie.MaxLevels)
			pub, _ := mustConnect(t, addr, codec.V5, "pub", nil)
			pub.publish(&codec.Publish{Topic: []byte(deepest), QoS: 1, PacketID: 1, Retain: true, Payload: []byte("128")})
			if a := pub.recvAck(codec.TypePuback); a.Code != codec.Success {
				t.Fatalf("publish at %d levels: PUBACK %v", trie.MaxLevels, a.Code)
			}
			if p := watch.recvPublish(); string(p.Topic) != deepest {
				t.Fatalf("got %q, want the %d-level topic", p.Topic, trie.MaxLevels)
			}
			for _, depth := range []int{trie.MaxLevels + 1, 1000} {
				for _, v := range []codec.Version{codec.V311, codec.V5} {
					p, _ := mustConnect(t, addr, v, "deep", nil)
					p.publish(&codec.Publish{Topic: []byte(deepTopic(depth)), QoS: 1, PacketID: 1, Retain: true, Payload: []byte("deep")})
					if v == codec.V5 {
						p.closedWith(codec.TopicNameInvalid)
					} else {
						p.closedSilently()
					}
					// Filters that deep are refused too.
					s, _ := mustConnect(t, addr, v, "deepsub", nil)
					want := codec.TopicFilterInvalid
					if v != codec.V5 {
						want = codec.UnspecifiedError
					}
					if codes := s.subscribe(1, 0, sub(deepTopic(depth), 1), sub(deepTopic(depth-1)+"/#", 1)); codes[0] != want || codes[1] != want {
						t.Fatalf("%v subscribe at %d levels: %v, want %v", v, depth, codes, want)
					}
					s.disconnect(0, nil)
					// So is a will that deep.
					w := &client{rawConn: dialRaw(t, addr), v: v}
					w.send(connectPacket(v, "deepwill", withWill(deepTopic(depth), "w", 0, false, nil)))
					if v == codec.V5 {
						if ack := w.connack(); ack.Code != codec.TopicNameInvalid {
							t.Fatalf("will at %d levels: CONNACK %v", depth, ack.Code)
						}
					}
					w.closedSilently()
				}
				if _, err := n.Publish(deepTopic(depth), []byte("api"), 0, false, ""); err == nil {
					t.Fatalf("Node.Publish at %d levels: no error", depth)
				}
			}
			// Nothing of the refused publishes reached the # subscriber, nor was retained.
			pub.publish(&codec.Publish{Topic: []byte("fence"), QoS: 1, PacketID: 2, Payload: []byte("f")})
			pub.recvAck(codec.TypePuback)
			if p := watch.recvPublish(); string(p.Topic) != "fence" {
				t.Fatalf("got %d levels before the fence", strings.Count(string(p.Topic), "/")+1)
			}
			late, _ := mustConnect(t, addr, codec.V5, "late", nil)
			late.subscribe(1, 0, sub("#", 0))
			if p := late.recvPublish(); string(p.Topic) != deepest || !p.Retain {
				t.Fatalf("retained: got %q, want only the %d-level topic", p.Topic, trie.MaxLevels)
			}
			late.silent(200 * time.Millisecond)
		})
	}
}
