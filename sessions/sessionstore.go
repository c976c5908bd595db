package sessions

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/emqgo/emqgo/trie"
)

// Record kinds of persistent sessions. Keys are the kind byte, the client identifier, then
// (but for 's') a 0x00 byte and the rest; client identifiers never contain 0x00 (the engine
// keeps sessions whose identifier does out of the store).
const (
	// KindSession: 's' + client id → session state (encodeSessionState).
	KindSession byte = 's'
	// KindSub: 'u' + client id + 0 + filter → subscription options.
	KindSub byte = 'u'
	// KindEntry: 'q' + client id + 0 + seq (8 bytes big-endian) → one queued or inflight
	// QoS 1/2 delivery: message id, QoS, retain, subscription ids, stage.
	KindEntry byte = 'q'
	// KindMessage: 'm' + message id (8 bytes big-endian) → message body (appendMessage),
	// written once however many sessions hold it, deleted with the last entry using it.
	KindMessage byte = 'm'
	// KindPending: 'p' + client id + 0 + packet id (2 bytes big-endian) → an inbound QoS 2
	// packet identifier awaiting PUBREL (empty value).
	KindPending byte = 'p'
)

// StageQueued is the stage of a stored delivery not sent yet (the Stage values say which
// acknowledgement a sent one waits for).
const StageQueued Stage = 0

const (
	sessionVersion = 1
	subVersion     = 1
	entryVersion   = 1
)

// Session state flags.
const (
	sfStoreQoS0 = 1 << 0
	sfUpgrade   = 1 << 1
	sfWill      = 1 << 2
)

// SessionState is the stored part of a session other than its subscriptions, deliveries
// and pending identifiers.
type SessionState struct {
	Created        int64
	ExpiryInterval uint32
	ExpiresAt      int64 // 0: online (expires ExpiryInterval after a restart) or never
	SeqBase        uint64
	StoreQoS0      bool
	UpgradeQoS     bool
	Will           *Message // delayed will, nil when none
	WillAt         int64
}

// StateOf returns the stored state of s. Hold s's lock.
func StateOf(s *Session) SessionState {
	return SessionState{Created: s.Created, ExpiryInterval: s.ExpiryInterval, ExpiresAt: s.ExpiresAt,
		SeqBase: s.SeqBase, StoreQoS0: s.StoreQoS0, UpgradeQoS: s.UpgradeQoS, Will: s.DelayedWill, WillAt: s.WillAt}
}

// sessionStore is the Store's share of persistent sessions: message identifiers and the
// locks that order the first and last reference to a message body.
type sessionStore struct {
	nextID atomic.Uint64
	refMu  [16]sync.Mutex
}

func (s *Store) put(b []byte, k int) error { return s.log.Put(b[:k], b[k:]) }

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(bp *[]byte, b []byte) {
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		bufPool.Put(bp)
	}
}

func appendCIDKey(b []byte, kind byte, cid string) []byte {
	b = append(b, kind)
	b = append(b, cid...)
	if kind != KindSession {
		b = append(b, 0)
	}
	return b
}

// PutSession records the state of session cid.
func (s *Store) PutSession(cid string, st SessionState) error {
	bp := getBuf()
	b := appendCIDKey((*bp)[:0], KindSession, cid)
	k := len(b)
	b = appendSessionState(b, &st)
	err := s.put(b, k)
	putBuf(bp, b)
	return err
}

// DeleteSession deletes the state record of session cid (its other records are deleted one
// by one by the caller, who knows them).
func (s *Store) DeleteSession(cid string) error {
	bp := getBuf()
	b := appendCIDKey((*bp)[:0], KindSession, cid)
	err := s.log.Delete(b)
	putBuf(bp, b)
	return err
}

// PutSub records the subscription of session cid to filter.
func (s *Store) PutSub(cid, filter string, o trie.Options) error {
	bp := getBuf()
	b := append(appendCIDKey((*bp)[:0], KindSub, cid), filter...)
	k := len(b)
	b = appendSub(b, o)
	err := s.put(b, k)
	putBuf(bp, b)
	return err
}

// DeleteSub deletes the subscription of session cid to filter.
func (s *Store) DeleteSub(cid, filter string) error {
	bp := getBuf()
	b := append(appendCIDKey((*bp)[:0], KindSub, cid), filter...)
	err := s.log.Delete(b)
	putBuf(bp, b)
	return err
}

// PutPending records that inbound QoS 2 packet id of session cid awaits PUBREL.
func (s *Store) PutPending(cid string, id uint16) error {
	var a [2]byte
	bp := getBuf()
	b := append(appendCIDKey((*bp)[:0], KindPending, cid), binary.BigEndian.AppendUint16(a[:0], id)...)
	err := s.put(b, len(b))
	putBuf(bp, b)
	return err
}

// DeletePending deletes the pending inbound QoS 2 packet id of session cid.
func (s *Store) DeletePending(cid string, id uint16) error {
	var a [2]byte
	bp := getBuf()
	b := append(appendCIDKey((*bp)[:0], KindPending, cid), binary.BigEndian.AppendUint16(a[:0], id)...)
	err := s.log.Delete(b)
	putBuf(bp, b)
	return err
}

// msgID returns m's store identifier, assigning the next one the first time.
func (s *Store) msgID(m *Message) uint64 {
	if id := atomic.LoadUint64(&m.id); id != 0 {
		return id
	}
	id := s.sess.nextID.Add(1)
	if atomic.CompareAndSwapUint64(&m.id, 0, id) {
		return id
	}
	return atomic.LoadUint64(&m.id)
}

// ref takes a stored reference on m, writing its body when it is the first. The first and
// the last reference are taken and released under a lock, so that the body's Put and Delete
// reach the log in the order of the count's changes.
func (s *Store) ref(m *Message, id uint64) error {
	for {
		r := atomic.LoadInt32(&m.refs)
		if r <= 0 {
			break
		}
		if atomic.CompareAndSwapInt32(&m.refs, r, r+1) {
			return nil
		}
	}
	mu := &s.sess.refMu[id%uint64(len(s.sess.refMu))]
	mu.Lock()
	defer mu.Unlock()
	if atomic.AddInt32(&m.refs, 1) != 1 {
		return nil
	}
	bp := getBuf()
	b := append((*bp)[:0], KindMessage)
	b = binary.BigEndian.AppendUint64(b, id)
	k := len(b)
	b = appendMessage(b, m)
	err := s.put(b, k)
	putBuf(bp, b)
	return err
}

// Release gives back a stored reference on m taken by PutEntry, deleting the body with the
// last one.
func (s *Store) Release(m *Message) error {
	if atomic.AddInt32(&m.refs, -1) != 0 {
		return nil
	}
	id := atomic.LoadUint64(&m.id)
	mu := &s.sess.refMu[id%uint64(len(s.sess.refMu))]
	mu.Lock()
	defer mu.Unlock()
	if atomic.LoadInt32(&m.refs) != 0 {
		return nil // taken again meanwhile: its body was (or is being) written again
	}
	var key [9]byte
	key[0] = KindMessage
	binary.BigEndian.PutUint64(key[1:], id)
	return s.log.Delete(key[:])
}

// Refs returns how many stored entries reference m (for tests).
func (m *Message) Refs() int32 { return atomic.LoadInt32(&m.refs) }

// PutEntry records delivery q of session cid with sequence number seq at stage. With ref,
// the entry takes a reference on q.Msg (whose body is written with the first one): every
// entry written with ref must eventually be deleted with DeleteEntry(…, q.Msg) or have its
// message released (Release) when it no longer needs it (past PUBREC). q.Msg may be nil
// at AwaitPubcomp.
func (s *Store) PutEntry(cid string, seq uint64, q *Queued, stage Stage, ref bool) error {
	var id uint64
	var err error
	if q.Msg != nil {
		id = s.msgID(q.Msg)
		if ref {
			err = s.ref(q.Msg, id)
		}
	}
	bp := getBuf()
	b := binary.BigEndian.AppendUint64(appendCIDKey((*bp)[:0], KindEntry, cid), seq)
	k := len(b)
	b = appendEntry(b, id, q, stage)
	if perr := s.put(b, k); err == nil {
		err = perr
	}
	putBuf(bp, b)
	return err
}

// DeleteEntry deletes the entry seq of session cid and releases its reference on msg
// (nil: the entry held none).
func (s *Store) DeleteEntry(cid string, seq uint64, msg *Message) error {
	bp := getBuf()
	b := binary.BigEndian.AppendUint64(appendCIDKey((*bp)[:0], KindEntry, cid), seq)
	err := s.log.Delete(b)
	putBuf(bp, b)
	if msg != nil {
		if rerr := s.Release(msg); err == nil {
			err = rerr
		}
	}
	return err
}

// appendSessionState appends version, flags, created, expiry interval, expires-at, seq base,
// and with a will its due time and the message (the record ends with it).
func appendSessionState(b []byte, st *SessionState) []byte {
	var flags byte
	if st.StoreQoS0 {
		flags |= sfStoreQoS0
	}
	if st.UpgradeQoS {
		flags |= sfUpgrade
	}
	if st.Will != nil {
		flags |= sfWill
	}
	b = append(b, sessionVersion, flags)
	b = binary.AppendVarint(b, st.Created)
	b = binary.AppendUvarint(b, uint64(st.ExpiryInterval))
	b = binary.AppendVarint(b, st.ExpiresAt)
	b = binary.AppendUvarint(b, st.SeqBase)
	if st.Will != nil {
		b = binary.AppendVarint(b, st.WillAt)
		b = appendMessage(b, st.Will)
	}
	return b
}

func decodeSessionState(v []byte) (SessionState, error) {
	var st SessionState
	d := decoder{b: v}
	if ver := d.u8("version"); d.err == nil && ver != sessionVersion {
		return st, fmt.Errorf("%w: unknown session encoding version %d", ErrBadRecord, ver)
	}
	flags := d.u8("flags")
	st.StoreQoS0, st.UpgradeQoS = flags&sfStoreQoS0 != 0, flags&sfUpgrade != 0
	st.Created = d.varint("created")
	ei := d.uvarint("expiry interval")
	if ei > 0xFFFFFFFF {
		d.fail("expiry interval")
	}
	st.ExpiryInterval = uint32(ei)
	st.ExpiresAt = d.varint("expires at")
	st.SeqBase = d.uvarint("seq base")
	if d.err == nil && flags&sfWill != 0 {
		st.WillAt = d.varint("will at")
		if d.err == nil {
			m, err := decodeMessage(d.b)
			if err != nil {
				return st, err
			}
			st.Will = m
			d.b = nil
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d bytes after the session state", ErrBadRecord, len(d.b))
	}
	return st, d.err
}

// Subscription option flags.
const (
	ufNoLocal = 1 << 0
	ufRAP     = 1 << 1
)

func appendSub(b []byte, o trie.Options) []byte {
	var flags byte
	if o.NoLocal {
		flags |= ufNoLocal
	}
	if o.RetainAsPublished {
		flags |= ufRAP
	}
	b = append(b, subVersion, flags, o.QoS, o.RetainHandling)
	return binary.AppendUvarint(b, uint64(o.SubID))
}

func decodeSub(v []byte) (trie.Options, error) {
	var o trie.Options
	d := decoder{b: v}
	if ver := d.u8("version"); d.err == nil && ver != subVersion {
		return o, fmt.Errorf("%w: unknown subscription encoding version %d", ErrBadRecord, ver)
	}
	flags := d.u8("flags")
	o.NoLocal, o.RetainAsPublished = flags&ufNoLocal != 0, flags&ufRAP != 0
	o.QoS = d.u8("QoS")
	o.RetainHandling = d.u8("retain handling")
	id := d.uvarint("subscription id")
	if id > 0xFFFFFFF || o.QoS > 2 || o.RetainHandling > 2 {
		d.fail("options")
	}
	o.SubID = uint32(id)
	if d.err == nil && len(d.b) != 0 {
		d.fail("subscription")
	}
	return o, d.err
}

// Entry flags.
const efRetain = 1 << 0

// appendEntry appends version, message id (uvarint, 0 for none), QoS, flags, stage,
// subscription ids (uvarint count, each uvarint).
func appendEntry(b []byte, id uint64, q *Queued, stage Stage) []byte {
	var flags byte
	if q.Retain {
		flags |= efRetain
	}
	b = append(b, entryVersion)
	b = binary.AppendUvarint(b, id)
	b = append(b, q.QoS, flags, byte(stage))
	b = binary.AppendUvarint(b, uint64(len(q.SubIDs)))
	for _, s := range q.SubIDs {
		b = binary.AppendUvarint(b, uint64(s))
	}
	return b
}

type entryRec struct {
	msgID  uint64
	qos    uint8
	retain bool
	stage  Stage
	subIDs []uint32
}

func decodeEntry(v []byte) (entryRec, error) {
	var e entryRec
	d := decoder{b: v}
	if ver := d.u8("version"); d.err == nil && ver != entryVersion {
		return e, fmt.Errorf("%w: unknown entry encoding version %d", ErrBadRecord, ver)
	}
	e.msgID = d.uvarint("message id")
	e.qos = d.u8("QoS")
	flags := d.u8("flags")
	e.retain = flags&efRetain != 0
	e.stage = Stage(d.u8("stage"))
	n := d.uvarint("subscription id count")
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail("subscription id count")
	}
	if d.err == nil && n > 0 {
		e.subIDs = make([]uint32, n)
		for i := range e.subIDs {
			x := d.uvarint("subscription id")
			if x > 0xFFFFFFF {
				d.fail("subscription id")
			}
			e.subIDs[i] = uint32(x)
		}
	}
	switch {
	case d.err != nil:
	case e.qos < 1 || e.qos > 2 || e.stage > AwaitPubcomp:
		d.fail("QoS or stage")
	case e.stage == AwaitPubcomp && e.qos != 2, e.stage == AwaitPubrec && e.qos != 2, e.stage == AwaitPuback && e.qos != 1:
		d.fail("stage for the QoS")
	case (e.msgID == 0) != (e.stage == AwaitPubcomp):
		d.fail("message id")
	case len(d.b) != 0:
		d.fail("entry")
	}
	return e, d.err
}

// LoadedEntry is one stored delivery of a loaded session.
type LoadedEntry struct {
	Queued // Queued.Seq is set; Msg is nil at AwaitPubcomp
	Stage  Stage
}

// LoadedSession is a persistent session as the store holds it.
type LoadedSession struct {
	ClientID string
	State    SessionState
	Subs     []Subscription
	Entries  []LoadedEntry // in sequence order
	Pending  []uint16
	MaxSeq   uint64 // the highest sequence number of its entries, at least State.SeqBase
}

// LoadStats counts what Load found.
type LoadStats struct {
	Retained, Sessions, Subs, Entries, Pending, Messages int
	// Orphans are records deleted because nothing uses them (entries of a session that has
	// no state record or of an older incarnation, unreferenced message bodies); Bad are
	// records that did not decode or referenced a missing message, also deleted.
	Orphans, Bad int
}

// Load replays the whole store once: it calls retained for every retained message (m owns
// its bytes) and session for every persistent session (in no particular order), rebuilds
// the stored reference counts of the messages and sets the next message identifier past
// every stored one. Records nothing uses and records that do not decode are deleted (and
// counted). Meant for start-up, before the broker accepts connections; retained and session
// may call Put and Delete, but should leave bulk writes until Load returns.
func (s *Store) Load(retained func(topic string, m *Message), session func(*LoadedSession)) (LoadStats, error) {
	var st LoadStats
	sess := map[string]*LoadedSession{}
	type rawEntry struct {
		cid string
		seq uint64
		e   entryRec
	}
	var entries []rawEntry
	msgs := map[uint64]*Message{}
	var drop [][]byte
	var maxID uint64
	get := func(cid string) *LoadedSession {
		ls := sess[cid]
		if ls == nil {
			ls = &LoadedSession{ClientID: cid}
			sess[cid] = ls
		}
		return ls
	}
	hasState := map[string]bool{}
	bad := func(key []byte) {
		st.Bad++
		s.skipped.Add(1)
		drop = append(drop, append([]byte(nil), key...))
	}
	err := s.log.Replay(func(key, value []byte) error {
		if len(key) == 0 {
			return nil
		}
		switch key[0] {
		case KindRetained:
			m, err := decodeMessage(value)
			if err != nil || string(m.Topic) != string(key[1:]) {
				s.skipped.Add(1)
				return nil
			}
			st.Retained++
			retained(string(key[1:]), m)
		case KindSession:
			state, err := decodeSessionState(value)
			if err != nil {
				bad(key)
				return nil
			}
			cid := string(key[1:])
			ls := get(cid)
			ls.State = state
			hasState[cid] = true
		case KindSub:
			i := slices.Index(key[1:], 0)
			if i < 0 {
				bad(key)
				return nil
			}
			o, err := decodeSub(value)
			if err != nil {
				bad(key)
				return nil
			}
			ls := get(string(key[1 : 1+i]))
			ls.Subs = append(ls.Subs, Subscription{Filter: string(key[2+i:]), Options: o})
		case KindEntry:
			if len(key) < 10 || key[len(key)-9] != 0 {
				bad(key)
				return nil
			}
			e, err := decodeEntry(value)
			if err != nil {
				bad(key)
				return nil
			}
			entries = append(entries, rawEntry{string(key[1 : len(key)-9]), binary.BigEndian.Uint64(key[len(key)-8:]), e})
		case KindPending:
			if len(key) < 4 || key[len(key)-3] != 0 {
				bad(key)
				return nil
			}
			ls := get(string(key[1 : len(key)-3]))
			ls.Pending = append(ls.Pending, binary.BigEndian.Uint16(key[len(key)-2:]))
		case KindMessage:
			if len(key) != 9 {
				bad(key)
				return nil
			}
			m, err := decodeMessage(value)
			if err != nil {
				bad(key)
				return nil
			}
			id := binary.BigEndian.Uint64(key[1:])
			m.id = id
			msgs[id] = m
			maxID = max(maxID, id)
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	entryKey := func(cid string, seq uint64) []byte {
		return binary.BigEndian.AppendUint64(appendCIDKey(nil, KindEntry, cid), seq)
	}
	for _, re := range entries {
		ls := sess[re.cid]
		if ls == nil || !hasState[re.cid] || re.seq < ls.State.SeqBase {
			st.Orphans++
			drop = append(drop, entryKey(re.cid, re.seq))
			continue
		}
		q := Queued{QoS: re.e.qos, Retain: re.e.retain, SubIDs: re.e.subIDs, Seq: re.seq}
		if re.e.stage != AwaitPubcomp {
			m := msgs[re.e.msgID]
			if m == nil {
				st.Bad++
				drop = append(drop, entryKey(re.cid, re.seq))
				continue
			}
			q.Msg = m
			m.refs++
			if re.e.stage == StageQueued && !ls.State.UpgradeQoS {
				q.QoS = min(q.QoS, m.QoS)
			}
		}
		ls.Entries = append(ls.Entries, LoadedEntry{Queued: q, Stage: re.e.stage})
	}
	for id, m := range msgs {
		if m.refs == 0 {
			st.Orphans++
			drop = append(drop, binary.BigEndian.AppendUint64([]byte{KindMessage}, id))
			continue
		}
		st.Messages++
	}
	s.sess.nextID.Store(maxID)
	for cid, ls := range sess {
		if !hasState[cid] {
			for _, sub := range ls.Subs {
				drop = append(drop, append(appendCIDKey(nil, KindSub, cid), sub.Filter...))
			}
			for _, id := range ls.Pending {
				drop = append(drop, binary.BigEndian.AppendUint16(appendCIDKey(nil, KindPending, cid), id))
			}
			st.Orphans += len(ls.Subs) + len(ls.Pending)
			continue
		}
		slices.SortFunc(ls.Entries, func(a, b LoadedEntry) int {
			if a.Seq < b.Seq {
				return -1
			}
			if a.Seq > b.Seq {
				return 1
			}
			return 0
		})
		ls.MaxSeq = ls.State.SeqBase
		if n := len(ls.Entries); n > 0 {
			ls.MaxSeq = max(ls.MaxSeq, ls.Entries[n-1].Seq)
		}
		st.Sessions++
		st.Subs += len(ls.Subs)
		st.Entries += len(ls.Entries)
		st.Pending += len(ls.Pending)
		session(ls)
	}
	for _, k := range drop {
		_ = s.log.Delete(k)
	}
	return st, nil
}
