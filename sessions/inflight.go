package sessions

// Stage says which acknowledgement an outbound inflight message waits for.
type Stage uint8

const (
	// AwaitPuback: QoS 1 PUBLISH sent, waiting for PUBACK.
	AwaitPuback Stage = iota + 1
	// AwaitPubrec: QoS 2 PUBLISH sent, waiting for PUBREC.
	AwaitPubrec
	// AwaitPubcomp: PUBREL sent, waiting for PUBCOMP; the message itself is no longer needed.
	AwaitPubcomp
)

// Inflight is one outbound QoS 1 or 2 message that was sent and not yet completely
// acknowledged.
type Inflight struct {
	Queued
	PacketID uint16
	Stage    Stage
	SentAt   int64 // unix nanoseconds of the last (re)transmission, for retry_interval
}

// Window is a session's outbound inflight window: messages in the order they were sent,
// at most Cap of them (zone max_inflight, bounded by the client's MQTT 5 Receive Maximum).
// Acknowledgements almost always arrive in order, so lookups scan from the oldest entry and
// usually stop at the first, and the entries live in a ring so that removing the oldest moves
// nothing. Not safe for concurrent use: hold the session lock.
//
// The window holds its messages (Message.Hold): Remove hands that hold to the caller, who
// releases it (Message.Release) when done with the entry; an entry whose Msg the caller sets
// to nil (QoS 2 after PUBREC) must have been released the same way.
type Window struct {
	r   *windowRing // nil until the first Add
	cap int32
}

type windowRing struct {
	ring []Inflight
	head int32 // index in ring of the oldest entry
	n    int32 // entries in flight
	// ids counts the entries by packet identifier modulo 64, so that InUse answers "no"
	// without a scan in the common case (a new identifier whose bucket is empty). Once a
	// count would pass 255 the filter is off (full) until the window empties.
	ids  [64]uint8
	full bool
}

// SetCap sets the maximum number of messages in flight; 0 means 65535 (the protocol maximum).
func (w *Window) SetCap(n int) {
	if n <= 0 || n > 65535 {
		n = 65535
	}
	w.cap = int32(n)
}

// Cap returns the window size.
func (w *Window) Cap() int {
	if w.cap == 0 {
		return 65535
	}
	return int(w.cap)
}

// Len returns the number of messages in flight.
func (w *Window) Len() int {
	if w.r == nil {
		return 0
	}
	return int(w.r.n)
}

// Full reports whether no further message may be sent.
func (w *Window) Full() bool { return w.Len() >= w.Cap() }

// at returns the ring index of the i-th entry from the oldest.
func (r *windowRing) at(i int) int {
	j := int(r.head) + i
	if j >= len(r.ring) {
		j -= len(r.ring)
	}
	return j
}

// Add records a sent message, holding it.
func (w *Window) Add(f Inflight) {
	if f.Msg != nil {
		f.Msg.Hold()
	}
	if w.r == nil {
		w.r = &windowRing{}
	}
	r := w.r
	if int(r.n) == len(r.ring) {
		size := 2 * len(r.ring)
		if size == 0 {
			size = 4
		}
		nr := make([]Inflight, size)
		for i := 0; i < int(r.n); i++ {
			nr[i] = r.ring[r.at(i)]
		}
		r.ring, r.head = nr, 0
	}
	r.ring[r.at(int(r.n))] = f
	r.n++
	if b := f.PacketID & 63; r.ids[b] == 255 {
		r.full = true
	} else {
		r.ids[b]++
	}
}

// index returns the position (from the oldest) of the entry with the packet identifier, -1
// when there is none.
func (w *Window) index(id uint16) int {
	for i := 0; i < w.Len(); i++ {
		if w.r.ring[w.r.at(i)].PacketID == id {
			return i
		}
	}
	return -1
}

// Find returns the entry with the packet identifier, or nil. The pointer is valid until the
// next call that modifies the window.
func (w *Window) Find(id uint16) *Inflight {
	if i := w.index(id); i >= 0 {
		return &w.r.ring[w.r.at(i)]
	}
	return nil
}

// Remove deletes the entry with the packet identifier and reports whether it was there. The
// window's hold on the entry's message passes to the caller.
func (w *Window) Remove(id uint16) (Inflight, bool) {
	i := w.index(id)
	if i < 0 {
		return Inflight{}, false
	}
	r := w.r
	f := r.ring[r.at(i)]
	for ; i > 0; i-- { // the older entries move up one place; none when acks come in order
		r.ring[r.at(i)] = r.ring[r.at(i-1)]
	}
	r.ring[r.head] = Inflight{}
	r.head = int32(r.at(1))
	r.n--
	if !r.full {
		r.ids[f.PacketID&63]--
	}
	if r.n == 0 {
		r.head = 0
		r.ids, r.full = [64]uint8{}, false
		if len(r.ring) > 64 {
			w.r = nil // a burst's buffer goes back once drained
		}
	}
	return f, true
}

// InUse reports whether the packet identifier belongs to a message in flight.
func (w *Window) InUse(id uint16) bool {
	if r := w.r; r == nil || !r.full && r.ids[id&63] == 0 {
		return false
	}
	return w.index(id) >= 0
}

// Each calls fn with a pointer to every entry, oldest first, until fn returns false. fn may
// modify the entry (e.g. its SentAt) but not the window.
func (w *Window) Each(fn func(*Inflight) bool) {
	for i := 0; i < w.Len(); i++ {
		if !fn(&w.r.ring[w.r.at(i)]) {
			return
		}
	}
}

// Clear removes everything. The messages' holds are not given back (they may still be in
// use by the caller); the garbage collector takes them.
func (w *Window) Clear() { w.r = nil }

// PacketIDFor is the packet identifier of the stored delivery with sequence number seq:
// derived, never persisted, so that a message still in flight at a crash is sent again with
// the identifier the client saw. Consecutive deliveries get consecutive identifiers; one whose
// identifier still belongs to an older unacknowledged message waits for it.
func PacketIDFor(seq uint64) uint16 { return uint16(seq%65535) + 1 }

// IDs allocates packet identifiers for outbound messages: increasing, wrapping from 65535 to
// 1, never 0 and never one still in flight [MQTT-2.2.1-3].
type IDs struct {
	last uint16
}

// Next returns a free identifier, or 0 when all 65535 are in use (which a window capped at
// 65535 never allows).
func (p *IDs) Next(w *Window) uint16 {
	for range 65535 {
		p.last++
		if p.last == 0 {
			p.last = 1
		}
		if !w.InUse(p.last) {
			return p.last
		}
	}
	return 0
}

// Pending is the set of inbound QoS 2 packet identifiers whose PUBLISH was received and
// routed (PUBREC sent) and whose PUBREL has not arrived yet: a PUBLISH with one of these ids
// is a retransmission and must not be routed again [MQTT-4.3.3-9]. Bounded by the zone's
// max_awaiting_rel; each entry remembers when it arrived for await_rel_timeout.
type Pending struct {
	p *pendingSet // nil while empty
}

type pendingSet struct {
	ids []pendingID
}

type pendingID struct {
	id uint16
	at int64 // unix nanoseconds
}

// Len returns the number of identifiers awaiting PUBREL.
func (p *Pending) Len() int {
	if p.p == nil {
		return 0
	}
	return len(p.p.ids)
}

// list returns the identifiers, nil when none.
func (p *Pending) list() []pendingID {
	if p.p == nil {
		return nil
	}
	return p.p.ids
}

// set replaces the identifiers, dropping the set when it is empty.
func (p *Pending) set(ids []pendingID) {
	switch {
	case len(ids) == 0:
		p.p = nil
	case p.p == nil:
		p.p = &pendingSet{ids: ids}
	default:
		p.p.ids = ids
	}
}

// Has reports whether id awaits PUBREL.
func (p *Pending) Has(id uint16) bool {
	for _, e := range p.list() {
		if e.id == id {
			return true
		}
	}
	return false
}

// Add records id (received at unix-nanosecond time at); adding an id already present keeps
// the first time.
func (p *Pending) Add(id uint16, at int64) {
	if !p.Has(id) {
		p.set(append(p.list(), pendingID{id, at}))
	}
}

// Remove deletes id and reports whether it was present.
func (p *Pending) Remove(id uint16) bool {
	ids := p.list()
	for i := range ids {
		if ids[i].id == id {
			copy(ids[i:], ids[i+1:])
			p.set(ids[:len(ids)-1])
			return true
		}
	}
	return false
}

// Expire removes identifiers that arrived before the unix-nanosecond time before and returns
// how many it removed.
func (p *Pending) Expire(before int64) (n int) {
	ids := p.list()
	j := 0
	for _, e := range ids {
		if e.at >= before {
			ids[j] = e
			j++
		}
	}
	p.set(ids[:j])
	return len(ids) - j
}

// ExpireEach is Expire calling fn with each identifier it removes.
func (p *Pending) ExpireEach(before int64, fn func(id uint16)) (n int) {
	for _, e := range p.list() {
		if e.at < before {
			fn(e.id)
		}
	}
	return p.Expire(before)
}

// Each calls fn for every identifier, oldest first.
func (p *Pending) Each(fn func(id uint16, at int64)) {
	for _, e := range p.list() {
		fn(e.id, e.at)
	}
}

// Clear removes everything.
func (p *Pending) Clear() { p.p = nil }
