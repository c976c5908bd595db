// Package replayq is the bridge's message queue, with the semantics of EMQX's replayq: items
// are appended at the tail, taken from the head in batches (Pop), and leave the queue only when
// acknowledged (Ack); a batch taken but not acknowledged is taken again after Rewind (the
// remote connection broke). With a directory the queue is durable: it is a sessions/kvlog log
// (CRC-checked records in segment files of SegmentBytes, group commit, background compaction
// of acknowledged items), keyed by an increasing sequence number, so that a restart or a
// kill -9 finds every item written before it. Without a directory it lives in memory only.
// Items are compressed with s2 when that saves at least an eighth of their size.
//
// The total size is bounded (MaxBytes): appending past it drops the oldest items, counted in
// Stats.Dropped, whether they were taken or not.
//
// Memory: in memory-only mode every item is held. With a directory an item's bytes are held
// until the log has written it (the log's Get cannot see pending records), and afterwards
// only when it came while the queue held less than MemoryBytes of items; the others are read
// back from disk by Pop. Per item the queue keeps 48 bytes of bookkeeping, and a durable
// queue's log about 50 bytes of index.
//
// A Queue is safe for concurrent use; Pop, Ack and Rewind are meant for one consumer.
package replayq

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/emqgo/emqgo/sessions/kvlog"
)

// Options configure a Queue.
type Options struct {
	// Dir is the directory of the durable queue; "" keeps the queue in memory only.
	Dir string
	// SegmentBytes is the size of one segment file (replayq_seg_bytes); 0 means 10 MiB.
	SegmentBytes int64
	// MaxBytes bounds the queued bytes (as appended, before compression); past it the oldest
	// items are dropped. 0 means 1 GiB.
	MaxBytes int64
	// MemoryBytes bounds the item bytes a durable queue keeps in memory besides those not yet
	// written; 0 means 16 MiB. Ignored in memory-only mode.
	MemoryBytes int64
	// Logf receives the log's notices (recovery, compaction); nil discards them.
	Logf func(format string, args ...any)
}

// Item is one queued item as Pop returns it.
type Item struct {
	Seq  uint64 // position in the queue, increasing
	Data []byte // the appended bytes; owned by the caller
	// Appended is when the item was appended (unix nanoseconds).
	Appended int64
}

// Stats is a snapshot of a queue's counters.
type Stats struct {
	Count    int    // items queued (taken or not), not yet acknowledged
	Bytes    int64  // their bytes, as appended
	Oldest   int64  // unix nanoseconds of the oldest queued item, 0 when empty
	Dropped  uint64 // items dropped to stay under MaxBytes
	Appended uint64 // items appended since Open
	Acked    uint64 // items acknowledged since Open
}

type entry struct {
	seq      uint64
	appended int64
	size     int32 // bytes as appended
	acked    bool
	written  bool   // durable mode: the log has written it (Get can see it)
	diskOnly bool   // durable mode: its copy goes once written (the memory budget was spent)
	data     []byte // the item (uncompressed); nil when only on disk
}

// Queue is a replayq-like queue; see the package documentation.
type Queue struct {
	opts Options
	log  *kvlog.Log // nil in memory-only mode

	mu       sync.Mutex
	entries  []entry // from the head; entries[:taken] were handed out by Pop
	taken    int
	nextSeq  uint64
	bytes    int64
	memBytes int64 // durable mode: bytes of the items that keep their copy after the write
	stats    Stats
	closed   bool
	chunk    []byte // where copyIn puts the next item
	scratch  []byte // encodeValue's output, reused
}

// ErrClosed is returned by a closed queue.
var ErrClosed = errors.New("replayq: queue is closed")

const (
	flagPlain = 0
	flagS2    = 1
	// valueHeader: flag byte, appended time.
	valueHeader = 1 + 8
)

// Open opens (or creates) the queue. A durable queue loads what its directory holds: every
// item written before a crash and not acknowledged, in order.
func Open(opts Options) (*Queue, error) {
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = 10 << 20
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 1 << 30
	}
	if opts.MemoryBytes <= 0 {
		opts.MemoryBytes = 16 << 20
	}
	q := &Queue{opts: opts, nextSeq: 1}
	if opts.Dir == "" {
		return q, nil
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	l, _, err := kvlog.Open(opts.Dir, kvlog.Options{
		SegmentSize:    opts.SegmentBytes,
		CompactMinSize: 2 * opts.SegmentBytes,
		MaxPending:     16 << 20, // Append waits past it: the disk sets the pace
		Logf:           logf,
	})
	if err != nil {
		return nil, fmt.Errorf("replayq: cannot open queue directory: %w", err)
	}
	q.log = l
	err = l.Replay(func(key, value []byte) error {
		if len(key) != 8 {
			return fmt.Errorf("replayq: %s holds a key of %d bytes, not a queue's", opts.Dir, len(key))
		}
		data, appended, err := decodeValue(value)
		if err != nil {
			return fmt.Errorf("replayq: item %d of %s: %w", binary.BigEndian.Uint64(key), opts.Dir, err)
		}
		e := entry{seq: binary.BigEndian.Uint64(key), appended: appended, size: int32(len(data)), written: true}
		if q.memBytes+int64(len(data)) <= opts.MemoryBytes {
			e.data = data
			q.memBytes += int64(len(data))
		}
		q.entries = append(q.entries, e)
		q.bytes += int64(len(data))
		return nil
	})
	if err != nil {
		l.Close()
		return nil, err
	}
	slices.SortFunc(q.entries, func(a, b entry) int { return compareSeq(a.seq, b.seq) })
	if n := len(q.entries); n > 0 {
		q.nextSeq = q.entries[n-1].seq + 1
	}
	return q, nil
}

func compareSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Append adds items at the tail, copying them, and returns how many older items it dropped
// to stay under MaxBytes. A durable queue's items are on disk once the log writes them
// (within milliseconds; a process crash after that loses nothing). When the log refuses more
// pending bytes (the disk is slow) Append waits for it, so call it off the event loops.
func (q *Queue) Append(items ...[]byte) (dropped int, err error) {
	now := time.Now().UnixNano()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return 0, ErrClosed
	}
	first := q.nextSeq
	for _, it := range items {
		e := entry{seq: q.nextSeq, appended: now, size: int32(len(it)), data: q.copyIn(it)}
		q.nextSeq++
		if q.log != nil {
			var key [8]byte
			binary.BigEndian.PutUint64(key[:], e.seq)
			q.scratch = encodeValue(q.scratch[:0], it, now)
			v := q.scratch
			for {
				err = q.log.Put(key[:], v)
				if !errors.Is(err, kvlog.ErrBusy) {
					break
				}
				q.mu.Unlock()
				time.Sleep(time.Millisecond)
				q.mu.Lock()
				if q.closed {
					return dropped, ErrClosed
				}
			}
			if err != nil {
				return dropped, fmt.Errorf("replayq: cannot write item: %w", err)
			}
			if q.memBytes+int64(len(it)) > q.opts.MemoryBytes {
				e.diskOnly = true
			} else {
				q.memBytes += int64(len(it))
			}
		}
		q.entries = append(q.entries, e)
		q.bytes += int64(len(it))
		q.stats.Appended++
		for q.bytes > q.opts.MaxBytes && len(q.entries) > 1 {
			q.dropHead()
			dropped++
		}
	}
	if q.log != nil {
		last := q.nextSeq - 1
		q.log.Commit(func(error) { q.written(first, last) })
	}
	return dropped, nil
}

// Commit calls done once every item appended so far is kept: written by the log (a process
// crash no longer loses it; on disk under the log's fsync policy), at once for a memory-only
// queue, with ErrClosed for a closed one. A durable queue's done runs on the log's writer
// goroutine, after the done of every earlier Commit: it must not wait.
func (q *Queue) Commit(done func(error)) {
	q.mu.Lock()
	closed := q.closed
	q.mu.Unlock()
	switch {
	case closed:
		done(ErrClosed)
	case q.log == nil:
		done(nil)
	default:
		q.log.Commit(done)
	}
}

// dropHead removes the oldest item (overflow). Hold mu.
func (q *Queue) dropHead() {
	e := &q.entries[0]
	if !e.acked {
		q.stats.Dropped++
		q.remove(e)
	}
	q.entries = q.entries[1:]
	if q.taken > 0 {
		q.taken--
	}
}

// remove forgets entry e's bytes and deletes it from the log. Hold mu.
func (q *Queue) remove(e *entry) {
	if !e.acked {
		q.bytes -= int64(e.size)
	}
	if e.data != nil && q.log != nil && !e.diskOnly {
		q.memBytes -= int64(len(e.data))
	}
	e.data = nil
	if q.log != nil {
		var key [8]byte
		binary.BigEndian.PutUint64(key[:], e.seq)
		if err := q.log.Delete(key[:]); err != nil && !errors.Is(err, kvlog.ErrClosed) && q.opts.Logf != nil {
			q.opts.Logf("replayq: cannot delete item %d: %v", e.seq, err)
		}
	}
}

// written is the log's commit callback for items first..last: they can be read back from
// disk now, so the copies Append marked to go (the queue held more than MemoryBytes when they
// came) are dropped.
func (q *Queue) written(first, last uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := q.find(first); i < len(q.entries) && q.entries[i].seq <= last; i++ {
		e := &q.entries[i]
		e.written = true
		if e.diskOnly && e.data != nil {
			e.data = nil
		}
	}
}

// find returns the index of the first entry whose seq is at least seq.
func (q *Queue) find(seq uint64) int {
	i, _ := slices.BinarySearchFunc(q.entries, seq, func(e entry, s uint64) int { return compareSeq(e.seq, s) })
	return i
}

// Pop takes up to maxCount items, and at most maxBytes of them (at least one item whatever
// its size), following those already taken. It returns nil when nothing is left to take.
func (q *Queue) Pop(maxCount int, maxBytes int64) ([]Item, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, ErrClosed
	}
	var out []Item
	var size int64
	for q.taken < len(q.entries) && len(out) < maxCount {
		e := &q.entries[q.taken]
		if e.acked {
			q.taken++
			continue
		}
		if len(out) > 0 && size+int64(e.size) > maxBytes {
			break
		}
		data := e.data
		if data == nil {
			var err error
			if data, err = q.read(e.seq); err != nil {
				return out, err
			}
		}
		out = append(out, Item{Seq: e.seq, Data: data, Appended: e.appended})
		size += int64(e.size)
		q.taken++
	}
	return out, nil
}

// read loads item seq from the log. Hold mu.
func (q *Queue) read(seq uint64) ([]byte, error) {
	var key [8]byte
	binary.BigEndian.PutUint64(key[:], seq)
	v, ok, err := q.log.Get(key[:])
	if err != nil {
		return nil, fmt.Errorf("replayq: cannot read item %d: %w", seq, err)
	}
	if !ok {
		return nil, fmt.Errorf("BUG: replayq: item %d is queued but not in the log", seq)
	}
	data, _, err := decodeValue(v)
	if err != nil {
		return nil, fmt.Errorf("replayq: item %d: %w", seq, err)
	}
	return data, nil
}

// Ack removes the items seqs (taken by Pop) from the queue; unknown ones (dropped meanwhile)
// are ignored. Acknowledged items leave the head as soon as no older item remains.
func (q *Queue) Ack(seqs ...uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	for _, s := range seqs {
		i := q.find(s)
		if i == len(q.entries) || q.entries[i].seq != s || q.entries[i].acked {
			continue
		}
		e := &q.entries[i]
		q.remove(e)
		e.acked = true
		q.stats.Acked++
	}
	n := 0
	for n < len(q.entries) && q.entries[n].acked {
		n++
	}
	if n > 0 {
		clear(q.entries[:n])
		q.entries = q.entries[n:]
		q.taken = max(q.taken-n, 0)
		if len(q.entries) == 0 {
			q.entries = nil // let the backing array go
			q.taken = 0
		}
	}
}

// Rewind makes the items taken and not acknowledged available to Pop again, in order.
func (q *Queue) Rewind() {
	q.mu.Lock()
	q.taken = 0
	q.mu.Unlock()
}

// Stats returns the queue's counters.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.stats
	s.Bytes = q.bytes
	for i := range q.entries {
		if !q.entries[i].acked {
			s.Count++
			if s.Oldest == 0 {
				s.Oldest = q.entries[i].appended
			}
		}
	}
	return s
}

// Durable reports whether the queue keeps its items on disk.
func (q *Queue) Durable() bool { return q.log != nil }

// Close closes the queue; a durable queue's log is flushed first. Items stay for the next Open.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	q.entries = nil
	q.mu.Unlock()
	if q.log != nil {
		return q.log.Close()
	}
	return nil
}

// encodeValue is an item as the log stores it: a flag byte (plain or s2), the append time,
// the bytes.
// It appends to dst (the log copies what it is given, so the caller reuses one buffer).
// Items under compressMin bytes are not tried: s2 rarely saves an eighth of so little.
func encodeValue(dst, data []byte, appended int64) []byte {
	dst = append(dst, flagPlain)
	dst = binary.BigEndian.AppendUint64(dst, uint64(appended))
	if len(data) >= compressMin {
		head := len(dst)
		n := s2.MaxEncodedLen(len(data))
		dst = slices.Grow(dst, n)
		c := s2.Encode(dst[head:head+n], data)
		if len(c) <= len(data)-len(data)/8 {
			dst[head-valueHeader] = flagS2
			return dst[:head+len(c)]
		}
		dst = dst[:head]
	}
	return append(dst, data...)
}

// compressMin is the smallest item encodeValue tries to compress.
const compressMin = 256

// copyIn copies an appended item into the queue's current chunk: items share chunks of
// chunkSize bytes (a chunk is freed by the garbage collector once no queued item refers to
// it), which saves an allocation and its overhead per item. Hold mu.
func (q *Queue) copyIn(it []byte) []byte {
	if len(it) > chunkSize/4 {
		return append(make([]byte, 0, len(it)), it...)
	}
	if cap(q.chunk)-len(q.chunk) < len(it) {
		q.chunk = make([]byte, 0, chunkSize)
	}
	start := len(q.chunk)
	q.chunk = append(q.chunk, it...)
	return q.chunk[start:len(q.chunk):len(q.chunk)]
}

// chunkSize is the size of the buffers queued items are copied into.
const chunkSize = 64 << 10

func decodeValue(v []byte) (data []byte, appended int64, err error) {
	if len(v) < valueHeader {
		return nil, 0, fmt.Errorf("record of %d bytes is shorter than its header", len(v))
	}
	appended = int64(binary.BigEndian.Uint64(v[1:]))
	switch v[0] {
	case flagPlain:
		return slices.Clone(v[valueHeader:]), appended, nil
	case flagS2:
		data, err = s2.Decode(nil, v[valueHeader:])
		if err != nil {
			return nil, 0, fmt.Errorf("s2: %w", err)
		}
		return data, appended, nil
	}
	return nil, 0, fmt.Errorf("unknown encoding flag %d", v[0])
}
