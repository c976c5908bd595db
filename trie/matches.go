package trie

// Matches is a reusable Visitor that merges overlapping subscriptions: each
// subscriber appears once in Subscribers with the highest QoS of its matching
// subscriptions, RetainAsPublished if any of them asks for it, and every
// non-zero subscription identifier [MQTT-3.3.4-3] [MQTT-3.3.4-5]. Shared
// groups are listed in Groups, each once (a shared subscription is delivered
// independently of the subscriber's ordinary ones [MQTT-4.8.2-4]).
//
// Keep one Matches per event loop and call Reset (or ResetFor) before each
// Match; after warm-up it allocates nothing. Not safe for concurrent use.
// The slices it exposes are reused by the next Reset.
type Matches[K comparable] struct {
	// Subscribers lists each matching subscriber once. Read-only for callers.
	Subscribers []Matched[K]
	// Groups lists each matching shared group once. Read-only for callers.
	Groups []*Group[K]

	index     map[K]int32 // handle -> position in Subscribers, for large results
	indexHigh int         // largest result ever indexed, to bound clear cost
	ids       []uint32    // subscription identifiers, chained per subscriber
	idNext    []int32     // next id of the same subscriber, -1 ends

	sets int // subscriber sets seen; entries of the first set need no merging

	publisher    K
	hasPublisher bool
}

// Matched is one subscriber with its merged delivery options.
type Matched[K comparable] struct {
	Handle            K
	QoS               uint8 // max QoS over the matching subscriptions
	RetainAsPublished bool  // true if any matching subscription asks for it
	firstID, lastID   int32 // chain in Matches.ids, -1 when none
}

// small results are merged by a linear scan; the map is only used above this.
const linearMerge = 16

// Reset empties m for the next match.
func (m *Matches[K]) Reset() {
	var zero K
	m.publisher, m.hasPublisher = zero, false
	m.reset()
}

// ResetFor empties m for a match of a message published by publisher: its
// own subscriptions that carry NoLocal are skipped [MQTT-3.8.3-3] (and so are
// their subscription identifiers).
func (m *Matches[K]) ResetFor(publisher K) {
	m.publisher, m.hasPublisher = publisher, true
	m.reset()
}

func (m *Matches[K]) reset() {
	if m.index != nil {
		// clear costs the map's capacity; after a huge fan-out, drop the map
		// rather than paying that on every later small match.
		m.indexHigh = max(m.indexHigh, len(m.Subscribers))
		if len(m.Subscribers) < m.indexHigh/8 {
			m.index, m.indexHigh = nil, 0
		} else {
			clear(m.index)
		}
	}
	m.sets = 0
	clear(m.Groups) // let dropped groups be collected
	m.Subscribers = m.Subscribers[:0]
	m.Groups = m.Groups[:0]
	m.ids = m.ids[:0]
	m.idNext = m.idNext[:0]
}

// OnSubscriber implements Visitor.
func (m *Matches[K]) OnSubscriber(k K, o Options) {
	if o.NoLocal && m.hasPublisher && k == m.publisher {
		return
	}
	i := -1
	if m.sets != 1 { // a single filter's set never repeats a handle
		i = m.find(k)
	}
	if i < 0 {
		i = len(m.Subscribers)
		m.Subscribers = append(m.Subscribers, Matched[K]{Handle: k, QoS: o.QoS, RetainAsPublished: o.RetainAsPublished, firstID: -1, lastID: -1})
		if m.index != nil {
			m.index[k] = int32(i)
		}
	} else {
		s := &m.Subscribers[i]
		s.QoS = max(s.QoS, o.QoS)
		s.RetainAsPublished = s.RetainAsPublished || o.RetainAsPublished
	}
	if o.SubID != 0 {
		s := &m.Subscribers[i]
		id := int32(len(m.ids))
		m.ids = append(m.ids, o.SubID)
		m.idNext = append(m.idNext, -1)
		if s.lastID < 0 {
			s.firstID = id
		} else {
			m.idNext[s.lastID] = id
		}
		s.lastID = id
	}
}

// OnGroup implements Visitor.
func (m *Matches[K]) OnGroup(g *Group[K]) { m.Groups = append(m.Groups, g) }

// beginSet is called by the index before each filter's subscribers.
func (m *Matches[K]) beginSet() { m.sets++ }

func (m *Matches[K]) find(k K) int {
	if m.index == nil && len(m.Subscribers) > linearMerge {
		m.buildIndex()
	}
	if m.index != nil {
		if i, ok := m.index[k]; ok {
			return int(i)
		}
		return -1
	}
	for i := range m.Subscribers {
		if m.Subscribers[i].Handle == k {
			return i
		}
	}
	return -1
}

func (m *Matches[K]) buildIndex() {
	if m.index == nil {
		m.index = make(map[K]int32, 4*linearMerge)
	}
	for i := range m.Subscribers {
		m.index[m.Subscribers[i].Handle] = int32(i)
	}
	m.indexHigh = max(m.indexHigh, len(m.Subscribers))
}

// SubscriptionIDs appends the subscription identifiers of m.Subscribers[i]
// to dst and returns it, in match order.
func (m *Matches[K]) SubscriptionIDs(i int, dst []uint32) []uint32 {
	for id := m.Subscribers[i].firstID; id >= 0; id = m.idNext[id] {
		dst = append(dst, m.ids[id])
	}
	return dst
}
