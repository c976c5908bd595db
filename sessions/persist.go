package sessions

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/sessions/kvlog"
)

// Record kinds: the first byte of every key in the store says what the record holds, so that
// every kind of durable state shares one log (one group commit, one fsync) and a loader
// replays only the kinds it knows. Kinds are never reused for another meaning.
const (
	// KindRetained: key 'r' + topic, value a Message (encodeMessage).
	KindRetained byte = 'r'
	// Persistent sessions: see sessionstore.go ('s', 'u', 'q', 'm', 'p').
)

// messageVersion is the first byte of an encoded Message. A decoder refuses versions it does
// not know, so an older broker never misreads a newer record.
const messageVersion = 1

// Message flags (second byte of an encoded Message).
const (
	mfRetain        = 1 << 0
	mfQoSShift      = 1 // bits 1-2
	mfProps         = 1 << 3
	mfPayloadFormat = 1 << 4
	mfContentType   = 1 << 5
	mfResponseTopic = 1 << 6
	mfCorrelation   = 1 << 7
)

// ErrBadRecord is wrapped by every decoding error of a stored record.
var ErrBadRecord = errors.New("sessions: bad stored record")

// Store is the durable store of the broker's state (today: retained messages) over a
// kvlog.Log. Every method is safe for concurrent use; Put and Delete never wait for the disk
// (kvlog copies the record into its pending batch), Commit reports when everything submitted
// before it is durable.
type Store struct {
	log     *kvlog.Log
	skipped atomic.Int64
	sess    sessionStore
}

// NewStore wraps an open log. The Store owns it from then on (Close closes it).
func NewStore(l *kvlog.Log) *Store { return &Store{log: l} }

// OpenStore opens (creating if needed) the store in dir; see kvlog.Open.
func OpenStore(dir string, opts kvlog.Options) (*Store, kvlog.Recovery, error) {
	l, rec, err := kvlog.Open(dir, opts)
	if err != nil {
		return nil, rec, err
	}
	return NewStore(l), rec, nil
}

// Log returns the underlying log (for Stats and tools).
func (s *Store) Log() *kvlog.Log { return s.log }

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// PutRetained records m as the retained message of topic. It returns at once (kvlog copies
// the bytes); errors wrap kvlog.ErrUnavailable (store failed), kvlog.ErrBusy (too much waiting
// for the disk), kvlog.ErrTooLarge or kvlog.ErrClosed, and leave the store unchanged.
func (s *Store) PutRetained(topic string, m *Message) error {
	bp := bufPool.Get().(*[]byte)
	b := append((*bp)[:0], KindRetained)
	b = append(b, topic...)
	k := len(b)
	b = appendMessage(b, m)
	err := s.log.Put(b[:k], b[k:])
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		bufPool.Put(bp)
	}
	return err
}

// DeleteRetained records that topic has no retained message any more.
func (s *Store) DeleteRetained(topic string) error {
	bp := bufPool.Get().(*[]byte)
	b := append((*bp)[:0], KindRetained)
	b = append(b, topic...)
	err := s.log.Delete(b)
	*bp = b[:0]
	bufPool.Put(bp)
	return err
}

// Commit calls done once every record submitted before it is durable under the store's
// fsync policy, or with the error that prevented it. done runs on the store's writer
// goroutine: it must not block.
func (s *Store) Commit(done func(error)) { s.log.Commit(done) }

// LoadRetained calls fn for every stored retained message, in the order they were written.
// m owns its bytes. A record that does not decode is skipped and counted (Skipped); it is
// not an error. Meant for start-up, before the broker accepts connections.
func (s *Store) LoadRetained(fn func(topic string, m *Message)) error {
	return s.log.Replay(func(key, value []byte) error {
		if len(key) == 0 || key[0] != KindRetained {
			return nil // another kind of record
		}
		m, err := decodeMessage(value)
		if err == nil && string(m.Topic) != string(key[1:]) {
			err = fmt.Errorf("%w: topic %q stored under key %q", ErrBadRecord, m.Topic, key[1:])
		}
		if err != nil {
			s.skipped.Add(1)
			return nil
		}
		fn(string(key[1:]), m)
		return nil
	})
}

// Skipped returns how many records the loaders skipped because they did not decode.
func (s *Store) Skipped() int64 { return s.skipped.Load() }

// Stats returns the log's figures.
func (s *Store) Stats() kvlog.Stats { return s.log.Stats() }

// LastSeq returns the log position of the last record accepted so far (see kvlog.LastSeq):
// taken right after a write, it bounds that write's position.
func (s *Store) LastSeq() uint64 { return s.log.LastSeq() }

// DurableSeq returns the log position up to which every record is durable.
func (s *Store) DurableSeq() uint64 { return s.log.DurableSeq() }

// Failed reports whether the store is failed (disk full or unwritable) and refusing writes.
func (s *Store) Failed() bool { return s.log.Failed() }

// Close flushes and fsyncs everything submitted and closes the log.
func (s *Store) Close() error { return s.log.Close() }

// appendMessage appends the version 1 encoding of m:
//
//	byte     version (1)
//	byte     flags: retain, QoS (2 bits), props present, then which optional property is set
//	varint   Created (unix ns)
//	varint   Expiry (unix ns, 0 never)
//	bytes    From            } bytes = uvarint length + the bytes
//	bytes    Topic           }
//	[props]  if flagged: payload format (1 byte), content type, response topic,
//	         correlation data (bytes each, each only if flagged), uvarint count of user
//	         properties and each key and value (bytes), in order
//	bytes    Payload: the record ends exactly there
func appendMessage(b []byte, m *Message) []byte {
	flags := byte(m.QoS&3) << mfQoSShift
	if m.Retain {
		flags |= mfRetain
	}
	p := m.Props
	if p != nil {
		flags |= mfProps
		if p.Has(codec.PropPayloadFormat) {
			flags |= mfPayloadFormat
		}
		if p.Has(codec.PropContentType) {
			flags |= mfContentType
		}
		if p.Has(codec.PropResponseTopic) {
			flags |= mfResponseTopic
		}
		if p.Has(codec.PropCorrelationData) {
			flags |= mfCorrelation
		}
	}
	b = append(b, messageVersion, flags)
	b = binary.AppendVarint(b, m.Created)
	b = binary.AppendVarint(b, m.Expiry)
	b = appendBytes(b, []byte(m.From))
	b = appendBytes(b, m.Topic)
	if p != nil {
		if flags&mfPayloadFormat != 0 {
			b = append(b, p.PayloadFormat)
		}
		if flags&mfContentType != 0 {
			b = appendBytes(b, p.ContentType)
		}
		if flags&mfResponseTopic != 0 {
			b = appendBytes(b, p.ResponseTopic)
		}
		if flags&mfCorrelation != 0 {
			b = appendBytes(b, p.CorrelationData)
		}
		b = binary.AppendUvarint(b, uint64(len(p.User)))
		for _, u := range p.User {
			b = appendBytes(b, u.Key)
			b = appendBytes(b, u.Value)
		}
	}
	return appendBytes(b, m.Payload)
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// decoder reads an encoded Message; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated or malformed %s", ErrBadRecord, what)
	}
}

func (d *decoder) varint(what string) int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint(what string) uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8(what string) byte {
	if len(d.b) == 0 {
		d.fail(what)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

// bytes returns the next length-prefixed field, aliasing the input.
func (d *decoder) bytes(what string) []byte {
	n := d.uvarint(what)
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(what)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// decodeMessage decodes appendMessage's encoding into a Message that owns its bytes (one
// allocation for all of them, as NewMessage). A damaged input gives an error wrapping
// ErrBadRecord, never a panic.
func decodeMessage(value []byte) (*Message, error) {
	d := decoder{b: value}
	if v := d.u8("version"); d.err == nil && v != messageVersion {
		return nil, fmt.Errorf("%w: unknown message encoding version %d", ErrBadRecord, v)
	}
	flags := d.u8("flags")
	if flags&mfProps == 0 && flags&(mfPayloadFormat|mfContentType|mfResponseTopic|mfCorrelation) != 0 {
		d.fail("flags")
	}
	qos := (flags >> mfQoSShift) & 3
	if qos > 2 {
		d.fail("QoS")
	}
	m := &Message{QoS: qos, Retain: flags&mfRetain != 0}
	m.Created = d.varint("created")
	m.Expiry = d.varint("expiry")
	from := d.bytes("client id")
	topic := d.bytes("topic")
	var np *codec.Properties
	var user []codec.UserProperty
	var ct, rt, cd []byte
	var pf byte
	if flags&mfProps != 0 {
		if flags&mfPayloadFormat != 0 {
			pf = d.u8("payload format")
		}
		if flags&mfContentType != 0 {
			ct = d.bytes("content type")
		}
		if flags&mfResponseTopic != 0 {
			rt = d.bytes("response topic")
		}
		if flags&mfCorrelation != 0 {
			cd = d.bytes("correlation data")
		}
		nu := d.uvarint("user property count")
		if d.err == nil && nu > uint64(len(d.b))/2 { // each pair takes at least 2 bytes
			d.fail("user property count")
		}
		if d.err == nil && nu > 0 {
			user = make([]codec.UserProperty, nu)
			for i := range user {
				user[i].Key = d.bytes("user property")
				user[i].Value = d.bytes("user property")
			}
		}
		np = new(codec.Properties)
	}
	payload := d.bytes("payload")
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d bytes after the payload", ErrBadRecord, len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	// Copy everything the message keeps into one allocation: the input belongs to the
	// caller (kvlog's read buffer).
	size := len(topic) + len(payload) + len(ct) + len(rt) + len(cd)
	for _, u := range user {
		size += len(u.Key) + len(u.Value)
	}
	buf := make([]byte, 0, size)
	take := func(b []byte) []byte {
		start := len(buf)
		buf = append(buf, b...)
		return buf[start:len(buf):len(buf)]
	}
	m.From = string(from)
	m.Topic = take(topic)
	m.Payload = take(payload)
	if np != nil {
		if flags&mfPayloadFormat != 0 {
			np.SetPayloadFormat(pf)
		}
		if flags&mfContentType != 0 {
			np.SetContentType(take(ct))
		}
		if flags&mfResponseTopic != 0 {
			np.SetResponseTopic(take(rt))
		}
		if flags&mfCorrelation != 0 {
			np.SetCorrelationData(take(cd))
		}
		for i := range user {
			user[i] = codec.UserProperty{Key: take(user[i].Key), Value: take(user[i].Value)}
		}
		np.User = user
		m.Props = np
	}
	return m, nil
}
