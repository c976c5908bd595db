package engine

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions"
)

// aliasSub is a paho.golang subscriber that accepts topic aliases: paho's StandardRouter
// resolves them (it keeps the client's alias table) and calls the handler of each topic,
// while raw records what came on the wire.
type aliasSub struct {
	mu     sync.Mutex
	byTop  map[string][]string // payloads per topic, as the router resolved it
	raw    []rawPub            // every PUBLISH as sent
	total  int
	notify chan struct{}
}

type rawPub struct {
	topic string
	alias uint16 // 0: none
}

func newAliasSub(t *testing.T, addr, id string, aliasMax *uint16, topics []string) (*aliasSub, *paho.Client) {
	t.Helper()
	s := &aliasSub{byTop: map[string][]string{}, notify: make(chan struct{}, 1)}
	router := paho.NewStandardRouter()
	for _, tp := range topics {
		router.RegisterHandler(tp, func(p *paho.Publish) {
			s.mu.Lock()
			s.byTop[tp] = append(s.byTop[tp], string(p.Payload))
			s.total++
			s.mu.Unlock()
			select {
			case s.notify <- struct{}{}:
			default:
			}
		})
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{
		Conn:   conn,
		Router: router,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			rp := rawPub{topic: pr.Packet.Topic}
			if a := pr.Packet.Properties.TopicAlias; a != nil {
				rp.alias = *a
			}
			s.mu.Lock()
			s.raw = append(s.raw, rp)
			s.mu.Unlock()
			return false, nil // the router handles it too
		}},
	})
	cp := &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}
	if aliasMax != nil {
		cp.Properties = &paho.ConnectProperties{TopicAliasMaximum: aliasMax}
	}
	if _, err := c.Connect(ctx5(t), cp); err != nil {
		t.Fatalf("connect %s: %v", id, err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	for _, tp := range topics {
		sub5(t, c, tp, 1)
	}
	return s, c
}

// wait waits until n messages have been routed to the handlers.
func (s *aliasSub) wait(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		s.mu.Lock()
		got := s.total
		s.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-s.notify:
		case <-deadline:
			t.Fatalf("got %d messages, want %d", got, n)
		}
	}
}

func aliasTopics(k int) []string {
	ts := make([]string, k)
	for i := range ts {
		ts[i] = fmt.Sprintf("factory/building-7/line-%d/station-12/sensor/temperature", i)
	}
	return ts
}

// publishRounds publishes rounds × len(topics) QoS 1 messages, topic by topic, payload
// "i/round", each acknowledged before the next (so the order is known).
func publishRounds(t *testing.T, pub *paho.Client, topics []string, rounds int) {
	t.Helper()
	for r := 0; r < rounds; r++ {
		for i, tp := range topics {
			pub5(t, pub, tp, 1, fmt.Sprintf("%d/%d", i, r))
		}
	}
}

// checkRouted requires every topic's handler to have got exactly its own payloads, in order:
// an alias resolved to the wrong topic shows up here.
func (s *aliasSub) checkRouted(t *testing.T, topics []string, rounds int) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, tp := range topics {
		got := s.byTop[tp]
		if len(got) != rounds {
			t.Fatalf("topic %d: %d messages %v, want %d", i, len(got), got, rounds)
		}
		for r, p := range got {
			if want := fmt.Sprintf("%d/%d", i, r); p != want {
				t.Fatalf("topic %d message %d: %q, want %q", i, r, p, want)
			}
		}
	}
}

// A client accepting aliases gets, per topic: the topic alone the first time, topic and alias
// the second (the mapping), the alias alone afterwards; paho's router resolves every message to
// its topic.
func TestOutboundTopicAliases(t *testing.T) {
	_, addr := testNode(t, nil)
	topics := aliasTopics(3)
	max := uint16(10)
	s, _ := newAliasSub(t, addr, "aliased", &max, topics)
	pub, _ := v5(t, addr, &paho.Connect{ClientID: "pub", CleanStart: true}, nil)
	const rounds = 5
	publishRounds(t, pub, topics, rounds)
	s.wait(t, rounds*len(topics))
	s.checkRouted(t, topics, rounds)

	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]int{}
	aliasOf := map[string]uint16{}
	for k, p := range s.raw {
		tp := topics[k%len(topics)]
		n := seen[tp]
		seen[tp]++
		switch {
		case n == 0:
			if p.topic != tp || p.alias != 0 {
				t.Fatalf("first %s: %+v, want the topic without alias", tp, p)
			}
		case n == 1:
			if p.topic != tp || p.alias == 0 || p.alias > max {
				t.Fatalf("second %s: %+v, want topic and alias", tp, p)
			}
			aliasOf[tp] = p.alias
		default:
			if p.topic != "" || p.alias != aliasOf[tp] {
				t.Fatalf("%s #%d: %+v, want alias %d alone", tp, n+1, p, aliasOf[tp])
			}
		}
	}
}

// More topics than the client accepts aliases for: the least recently used alias is
// reassigned (topic and alias again), never above the client's maximum, and every message
// still reaches its topic.
func TestOutboundTopicAliasesLRU(t *testing.T) {
	_, addr := testNode(t, nil)
	topics := aliasTopics(6)
	max := uint16(4)
	s, _ := newAliasSub(t, addr, "few", &max, topics)
	pub, _ := v5(t, addr, &paho.Connect{ClientID: "pub", CleanStart: true}, nil)
	// A working set that fits (topics 0-3), then all six in turn.
	publishRounds(t, pub, topics[:4], 3)
	s.wait(t, 12)
	publishRounds(t, pub, topics, 4)
	s.wait(t, 12+24)
	s.mu.Lock()
	aliased, reassigned := 0, 0
	owner := map[uint16]string{}
	for _, p := range s.raw {
		if p.alias > max {
			t.Fatalf("alias %d above the client's maximum %d", p.alias, max)
		}
		if p.alias != 0 && p.topic == "" {
			aliased++
		}
		if p.alias != 0 && p.topic != "" {
			if prev, ok := owner[p.alias]; ok && prev != p.topic {
				reassigned++
			}
			owner[p.alias] = p.topic
		}
	}
	s.mu.Unlock()
	if aliased == 0 || reassigned == 0 {
		t.Fatalf("%d alias-only messages, %d reassignments: want both", aliased, reassigned)
	}
	// Routing is checked per topic: 0-3 got 3+4 messages, 4-5 got 4.
	s.mu.Lock()
	for i, tp := range topics {
		want := 4
		if i < 4 {
			want = 7
		}
		if got := len(s.byTop[tp]); got != want {
			s.mu.Unlock()
			t.Fatalf("topic %d: %d messages, want %d", i, got, want)
		}
	}
	s.mu.Unlock()
}

// No aliases for a client that does not ask for them, nor when the zone turns them off.
func TestOutboundTopicAliasesOff(t *testing.T) {
	check := func(t *testing.T, addr string, aliasMax *uint16) {
		topics := aliasTopics(2)
		s, _ := newAliasSub(t, addr, "plain", aliasMax, topics)
		pub, _ := v5(t, addr, &paho.Connect{ClientID: "pub", CleanStart: true}, nil)
		publishRounds(t, pub, topics, 4)
		s.wait(t, 8)
		s.checkRouted(t, topics, 4)
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, p := range s.raw {
			if p.alias != 0 || p.topic == "" {
				t.Fatalf("got %+v, want the topic without alias", p)
			}
		}
	}
	t.Run("client", func(t *testing.T) {
		_, addr := testNode(t, nil)
		check(t, addr, nil)
	})
	t.Run("zone", func(t *testing.T) {
		_, addr := testNode(t, func(c *Config) { c.Listeners[0].Zone.MaxOutboundTopicAlias = 0 })
		max := uint16(10)
		check(t, addr, &max)
	})
}

// Encoding a QoS 0 delivery allocates nothing, for a client without topic aliases (one nil
// check) and for one whose topic has an alias already (a map lookup by the topic's bytes and
// an LRU touch); only setting a new alias copies the topic once.
func TestOutboundAliasDeliveryAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	n := &Node{cfg: &Config{}}
	l := &loop{n: n}
	z := DefaultZone()
	msg := sessions.NewMessage(&codec.Publish{Topic: []byte("factory/building-7/line-1/temperature"), Payload: make([]byte, 64)}, []byte("factory/building-7/line-1/temperature"), "p", 0)
	defer msg.Release()
	for _, aliases := range []bool{false, true} {
		c := &conn{loop: l, lis: &listenerState{Listener: Listener{Zone: z}}, version: codec.V5}
		if aliases {
			c.extra().outAlias = newOutAliases(16, z)
		}
		step := func() {
			c.writePublish(sessions.Queued{Msg: msg}, 0, false)
			l.putBuf(c.out)
			c.out = nil
			c.unset(flagDirty)
			l.dirty = l.dirty[:0]
		}
		step()
		step() // the alias is set (the topic's second delivery)
		if allocs := testing.AllocsPerRun(1000, step); allocs != 0 {
			t.Fatalf("aliases %v: %.1f allocations per QoS 0 delivery, want 0", aliases, allocs)
		}
		if aliases && c.ext.outAlias.head != 1 {
			t.Fatalf("alias table head %d, want alias 1 in use", c.ext.outAlias.head)
		}
	}
}
