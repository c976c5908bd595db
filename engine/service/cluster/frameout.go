package cluster

import (
	"sync"
	"time"

	"github.com/emqgo/emqgo/engine"
)

// Frames built on the event loops.
//
// The ordinary forwarder towards a node (member.fwd) is an on-loop internal subscriber
// (engine.SubscriberOptions.OnLoop): each event loop encodes the messages it routed to that
// node straight into the node's frameOut at the end of its round, while the messages are
// still in its cache, and a goroutine per node sends the frames. A loop never waits here: it
// takes the frameOut's lock only to append, and the sending goroutine swaps the whole buffer
// out under the same lock. While that goroutine waits for the node's flow window (flow.go),
// the loops keep appending; past outLimit bytes waiting, a QoS 0 message is dropped (and
// counted, as a full forwarder queue did) while a QoS 1 or 2 one is kept, so that nothing
// acknowledged to its publisher is lost on the way.
//
// Records of one frame are in the order the loops appended them: a publisher's messages
// come from its connection's loop in order, so they stay in order.

// outLimit is how many bytes of frames may wait for the sending goroutine before QoS 0
// messages are dropped.
const outLimit = 8 << 20

// keptOut bounds the buffer the sending goroutine keeps between takes.
const keptOut = 4 << 20

// frameOut holds the frames waiting to go to one node. Safe for concurrent use.
type frameOut struct {
	s     *Service
	tok   string // the node's token
	subj  string // its forwarding subject
	group string // "" for the ordinary forwarder

	mu    sync.Mutex
	buf   []byte      // frames back to back: the finished ones (spans) and the open one
	spans []frameSpan // the finished frames in buf
	start int         // where the open frame starts in buf
	count int         // records in the open frame
	from  string      // the publisher of the open frame's last record
	t0    int64       // when the open frame's first record was added (unix ns)

	wake chan struct{}
	done chan struct{}
	once sync.Once
}

// frameSpan is a finished frame: it ends at end in the buffer and holds count records.
type frameSpan struct {
	end, count int
	t0         int64 // when its first record was added
}

// newFrameOut starts the sending goroutine towards node; close stops it.
func (s *Service) newFrameOut(node, group string) *frameOut {
	tok := token(node)
	o := &frameOut{s: s, tok: tok, subj: subjFwd + tok, group: group, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go o.run()
	return o
}

// close stops the sending goroutine (once any send in progress returns) and drops what
// waits. Safe to call more than once.
func (o *frameOut) close() {
	o.once.Do(func() { close(o.done) })
}

// add encodes deliveries into the open frame. It is the forwarder's OnLoop (on an event loop,
// at the end of a round) and its Handle (on the subscriber's goroutine): it never blocks but
// on the lock, which is held only while appending or swapping the buffer.
func (o *frameOut) add(ds []engine.Delivery) {
	now := time.Now().UnixNano()
	var dropped uint64
	o.mu.Lock()
	for i := range ds {
		d := &ds[i]
		if d.QoS == 0 && len(o.buf) >= outLimit {
			dropped++
			continue
		}
		same := o.count > 0 && o.from == d.Msg.From
		if o.count == 0 {
			o.t0 = now
		}
		o.buf = appendRecordAfter(o.buf, d.Msg, d.QoS, d.Retain, o.group, now, same)
		o.from = d.Msg.From
		o.count++
		if len(o.buf)-o.start >= frameLimit {
			o.spans = append(o.spans, frameSpan{end: len(o.buf), count: o.count, t0: o.t0})
			o.start, o.count = len(o.buf), 0
		}
	}
	o.mu.Unlock()
	if dropped > 0 {
		o.s.dropped.Add(dropped)
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// take moves the waiting frames into buf and spans (emptied first) and returns them.
func (o *frameOut) take(buf []byte, spans []frameSpan) ([]byte, []frameSpan) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.count > 0 {
		o.spans = append(o.spans, frameSpan{end: len(o.buf), count: o.count, t0: o.t0})
	}
	buf, o.buf = o.buf, buf[:0]
	spans, o.spans = o.spans, spans[:0]
	o.start, o.count, o.from = 0, 0, ""
	return buf, spans
}

// run is the sending goroutine: it takes everything that waits and sends it frame by frame
// within the node's flow window.
func (o *frameOut) run() {
	var buf []byte
	var spans []frameSpan
	for {
		select {
		case <-o.wake:
		case <-o.done:
			return
		}
		buf, spans = o.take(buf, spans)
		if trace != nil {
			now := time.Now().UnixNano()
			for _, sp := range spans {
				trace.addDur(stQueue, now-sp.t0)
				trace.add(stFrameMsgs, int64(sp.count))
			}
		}
		nc := o.s.conn.Load()
		start := 0
		for _, sp := range spans {
			if nc == nil {
				o.s.dropped.Add(uint64(sp.count))
			} else {
				o.s.sendFlow(nc, o.tok, o.subj, buf[start:sp.end], sp.count, o.done, sp.t0)
			}
			start = sp.end
		}
		if cap(buf) > keptOut { // a backlog's buffer is not kept
			buf = nil
		}
		clear(spans)
	}
}
