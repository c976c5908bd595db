package sessions

// Queue is the bounded FIFO of messages waiting to be sent to a session's client: while the
// client is offline, while its inflight window is full, or while its socket is slow. It is
// a ring buffer that grows on demand up to its limit and shrinks back when drained, so an
// idle session holds no buffer at all.
//
// When the queue is full, Push drops the oldest message to make room (drop-oldest, as EMQX
// and Mosquitto do by default) and reports it, so that the caller can count it. A limit of 0
// means unbounded. Not safe for concurrent use: hold the session lock.
type Queue struct {
	r     *queueRing // nil until the first Push: most sessions of an idle fleet never queue
	limit int32      // maximum length, 0 for no limit
}

type queueRing struct {
	buf  []Queued
	head int32 // index of the oldest element
	n    int32 // number of elements
}

// Queued is one message waiting in a Queue, with the QoS it will be sent at (the minimum of
// the publish QoS and the subscription's, or upgraded) and the subscription identifiers and
// retain flag chosen at match time.
type Queued struct {
	Msg    *Message
	QoS    uint8
	Retain bool     // the RETAIN flag to send (Retain As Published, or retained-at-subscribe)
	SubIDs []uint32 // MQTT 5 subscription identifiers to send; shared, read-only
	// Seq is the delivery's sequence number in a durable session (its record in the store,
	// and its packet identifier, PacketIDFor), 0 when not stored.
	Seq uint64
	// LogSeq is the store's log position of the entry's record when it was written in this
	// process, 0 when the record is known durable (loaded at start-up) or there is none: the
	// entry may only be sent once the store is durable up to it.
	LogSeq uint64
}

// SetLimit sets the maximum length; 0 means unbounded. Existing overflow is kept until popped.
func (q *Queue) SetLimit(n int) { q.limit = int32(min(n, 1<<30)) }

// Len returns the number of queued messages.
func (q *Queue) Len() int {
	if q.r == nil {
		return 0
	}
	return int(q.r.n)
}

// at returns the index in buf of the i-th element from the head.
func (r *queueRing) at(i int) int { return (int(r.head) + i) % len(r.buf) }

// Push appends m, holding its message (see NewPooledMessage). If the queue is at its limit,
// the oldest message is removed and returned with dropped=true; its hold passes to the
// caller, who releases it.
func (q *Queue) Push(m Queued) (old Queued, dropped bool) {
	if m.Msg != nil {
		m.Msg.Hold()
	}
	r := q.ring()
	if q.limit > 0 && r.n >= q.limit {
		old = r.buf[r.head]
		r.buf[r.head] = Queued{}
		r.head = int32(r.at(1))
		r.n--
		dropped = true
	}
	if int(r.n) == len(r.buf) {
		r.grow(q.limit)
	}
	r.buf[r.at(int(r.n))] = m
	r.n++
	return old, dropped
}

// PushFront (holding m's message) puts m back at the head (used when a message popped for
// sending cannot be sent after all). It never drops: the limit may be exceeded by one.
func (q *Queue) PushFront(m Queued) {
	if m.Msg != nil {
		m.Msg.Hold()
	}
	r := q.ring()
	if int(r.n) == len(r.buf) {
		r.grow(q.limit)
	}
	r.head = int32(r.at(len(r.buf) - 1))
	r.buf[r.head] = m
	r.n++
}

func (q *Queue) ring() *queueRing {
	if q.r == nil {
		q.r = &queueRing{}
	}
	return q.r
}

func (r *queueRing) grow(limit int32) {
	size := 2 * len(r.buf)
	if size == 0 {
		size = 4
	}
	if limit > 0 && size > int(limit)+1 {
		size = int(limit) + 1
	}
	if size <= int(r.n) {
		size = int(r.n) + 1
	}
	nb := make([]Queued, size)
	for i := 0; i < int(r.n); i++ {
		nb[i] = r.buf[r.at(i)]
	}
	r.buf, r.head = nb, 0
}

// Peek returns the oldest message without removing it.
func (q *Queue) Peek() (Queued, bool) {
	if q.Len() == 0 {
		return Queued{}, false
	}
	return q.r.buf[q.r.head], true
}

// Pop removes and returns the oldest message, whose hold passes to the caller. The buffer is
// released when the queue empties after having grown, so that drained sessions give their
// memory back.
func (q *Queue) Pop() (Queued, bool) {
	if q.Len() == 0 {
		return Queued{}, false
	}
	r := q.r
	m := r.buf[r.head]
	r.buf[r.head] = Queued{}
	r.head = int32(r.at(1))
	r.n--
	if r.n == 0 {
		r.head = 0
		if len(r.buf) > 64 {
			q.r = nil
		}
	}
	return m, true
}

// Each calls fn for every queued message, oldest first, until fn returns false.
func (q *Queue) Each(fn func(Queued) bool) {
	for i := 0; i < q.Len(); i++ {
		if !fn(q.r.buf[q.r.at(i)]) {
			return
		}
	}
}

// Filter keeps the messages for which keep returns true, in order, and returns how many were
// removed (their messages released). Used to drop expired messages.
func (q *Queue) Filter(keep func(Queued) bool) (removed int) {
	n := q.Len()
	if n == 0 {
		return 0
	}
	r := q.r
	j := 0
	for i := 0; i < n; i++ {
		m := r.buf[r.at(i)]
		if keep(m) {
			r.buf[r.at(j)] = m
			j++
		} else {
			m.Msg.Release()
		}
	}
	for i := j; i < n; i++ {
		r.buf[r.at(i)] = Queued{}
	}
	r.n = int32(j)
	return n - j
}

// Clear removes everything and releases the buffer. The messages' holds are not given back
// (the caller may still use them); the garbage collector takes them.
func (q *Queue) Clear() { q.r = nil }

// Update calls fn with a pointer to every queued message, oldest first; fn may modify the
// entry in place.
func (q *Queue) Update(fn func(*Queued)) {
	for i := 0; i < q.Len(); i++ {
		fn(&q.r.buf[q.r.at(i)])
	}
}
