package engine

import "github.com/emqgo/emqgo/codec"

// Outbound topic aliases (MQTT 5, beyond EMQX).
//
// A client that announces a Topic Alias Maximum above 0 in its CONNECT lets the broker send
// a short alias instead of a topic name it has sent before. Each such connection gets an
// outAliases table: at most min(the client's maximum, Zone.MaxOutboundTopicAlias) topics,
// least recently used replaced first. A topic gets an alias the second time it is sent
// within a short window (a fingerprint filter remembers the recent topics without one), so
// topics seen once never evict useful entries; topics shorter than aliasMinTopic never get
// one (the alias property costs 3 bytes). The first PUBLISH with an alias carries the topic
// too and sets the mapping; later ones carry an empty topic [MQTT-3.3.2-12].
//
// Connections whose client does not ask for aliases (and every 3.x connection) have no table:
// writePublish pays one nil check. The table belongs to the connection's loop.

// DefaultMaxOutboundTopicAlias is the zone's default cap (mqtt.max_outbound_topic_alias):
// enough for the topics a device usually receives, small enough that a client announcing
// 65535 holds a few kilobytes at most.
const DefaultMaxOutboundTopicAlias = 32

// aliasMinTopic is the shortest topic given an alias: an alias saves len(topic)-3 bytes.
const aliasMinTopic = 8

// aliasSeen is the size of the fingerprint filter of topics sent without an alias.
const aliasSeen = 32

// outAliases is one connection's outbound topic alias table.
type outAliases struct {
	limit uint16            // most aliases: min(client's Topic Alias Maximum, zone cap)
	index map[string]uint16 // topic → alias; nil until the first alias
	slots []aliasSlot       // alias-1 → its topic and LRU links
	head  uint16            // most recently used alias, 0: none
	tail  uint16            // least recently used alias, 0: none
	seen  [aliasSeen]uint32 // fingerprints of topics recently sent without an alias
}

// aliasSlot is one alias: its topic and its neighbours in the LRU list (aliases, 0: none).
type aliasSlot struct {
	topic      string
	prev, next uint16
}

// newOutAliases returns the table of a connection whose client accepts up to clientMax
// aliases, or nil when the client or the zone allows none.
func newOutAliases(clientMax uint16, z *Zone) *outAliases {
	limit := min(clientMax, z.MaxOutboundTopicAlias)
	if limit == 0 {
		return nil
	}
	return &outAliases{limit: limit}
}

// plan decides how topic goes out: alias 0 sends the topic alone; alias > 0 with omit sends
// the alias alone (the client knows it); alias > 0 without omit sends both, setting (or
// replacing) the mapping. Nothing changes until commit, which the caller calls once the
// PUBLISH is written (a PUBLISH dropped for the client's Maximum Packet Size must not leave
// the table claiming a mapping the client never saw).
func (a *outAliases) plan(topic []byte) (alias uint16, omit bool) {
	if a.index != nil {
		if v, ok := a.index[string(topic)]; ok { // no allocation: map lookup by converted bytes
			return v, true
		}
	}
	if len(topic) < aliasMinTopic {
		return 0, false
	}
	h := hashBytes(topic)
	fp, i := uint32(h>>32)|1, h%aliasSeen
	if a.seen[i] != fp {
		a.seen[i] = fp // first sighting: no alias yet
		return 0, false
	}
	if len(a.slots) < int(a.limit) {
		return uint16(len(a.slots) + 1), false
	}
	return a.tail, false // replace the least recently used
}

// commit records what plan decided, once the PUBLISH carrying it is written.
func (a *outAliases) commit(topic []byte, alias uint16, omit bool) {
	if alias == 0 {
		return
	}
	if omit {
		a.touch(alias)
		return
	}
	if a.index == nil {
		a.index = make(map[string]uint16, min(int(a.limit), 16))
	}
	if int(alias) > len(a.slots) {
		a.slots = append(a.slots, aliasSlot{})
	} else {
		s := &a.slots[alias-1]
		delete(a.index, s.topic)
		a.unlink(alias)
	}
	t := string(topic) // the one copy: the table outlives the message
	a.slots[alias-1].topic = t
	a.index[t] = alias
	a.pushFront(alias)
	a.seen[hashBytes(topic)%aliasSeen] = 0
}

// touch makes alias the most recently used.
func (a *outAliases) touch(alias uint16) {
	if a.head == alias {
		return
	}
	a.unlink(alias)
	a.pushFront(alias)
}

func (a *outAliases) unlink(alias uint16) {
	s := &a.slots[alias-1]
	if s.prev != 0 {
		a.slots[s.prev-1].next = s.next
	} else if a.head == alias {
		a.head = s.next
	}
	if s.next != 0 {
		a.slots[s.next-1].prev = s.prev
	} else if a.tail == alias {
		a.tail = s.prev
	}
	s.prev, s.next = 0, 0
}

func (a *outAliases) pushFront(alias uint16) {
	s := &a.slots[alias-1]
	s.prev, s.next = 0, a.head
	if a.head != 0 {
		a.slots[a.head-1].prev = alias
	}
	a.head = alias
	if a.tail == 0 {
		a.tail = alias
	}
}

// outAliasesOf returns c's outbound alias table, nil when it has none (every connection whose
// client did not ask for aliases).
func (c *conn) outAliasesOf() *outAliases {
	if c.ext == nil {
		return nil
	}
	return c.ext.outAlias
}

// setupOutAliases gives an MQTT 5 connection its table when its CONNECT's Topic Alias
// Maximum and the zone allow aliases.
func (c *conn) setupOutAliases(pr *codec.Properties) {
	if !pr.Has(codec.PropTopicAliasMaximum) {
		return
	}
	if a := newOutAliases(pr.TopicAliasMaximum, c.lis.Zone); a != nil {
		c.extra().outAlias = a
	}
}
