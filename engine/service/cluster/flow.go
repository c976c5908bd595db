package cluster

import (
	"encoding/binary"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Flow control between nodes.
//
// Each forwarded frame carries a reply subject naming its sender and receiver; the receiving
// node answers it with the frame's size once the frame's messages are routed to its own
// subscribers (RouteFromPeer has put them in their sessions), one answer for a burst of
// frames (ackFrame). A sender keeps at most
// flowWindow bytes of frames per receiving node unacknowledged: past that, its forwarders
// wait, their deliveries wait in the engine's queue of the peer subscriber (KeepQoS1: a QoS 1
// or 2 message is kept however long the wait, a QoS 0 one dropped past the queue's length
// and counted), and the NATS buffers between the nodes stay bounded, far from the limits at
// which NATS drops frames or closes a route as a slow consumer. A receiver that does not
// answer within flowTimeout (down, or its backbone rebuilt) frees the window: membership
// notices the node's absence and stops forwarding to it.

const (
	flowWindow  = 8 << 20 // unacknowledged bytes per receiving node
	flowTimeout = 3 * time.Second
	subjAck     = "emqgo.ack." // + sender token + "." + receiver token
)

// flow is the window towards one node. Safe for concurrent use.
type flow struct {
	mu       sync.Mutex
	inflight int
	freed    chan struct{} // signalled (non-blocking) on each acknowledgement
}

// flowTo returns the window towards the node whose token is tok.
func (s *Service) flowTo(tok string) *flow {
	if f, ok := s.flows.Load(tok); ok {
		return f.(*flow)
	}
	f, _ := s.flows.LoadOrStore(tok, &flow{freed: make(chan struct{}, 1)})
	return f.(*flow)
}

// acquire waits until size more bytes fit in the window (a frame larger than the window
// waits for an empty one), the receiver stays silent for flowTimeout, or stop or cancel
// closes. It reports false only when stop or cancel closed.
func (f *flow) acquire(size int, stop, cancel <-chan struct{}, waits *atomic.Uint64) bool {
	var timer *time.Timer
	for {
		f.mu.Lock()
		if f.inflight == 0 || f.inflight+size <= flowWindow {
			f.inflight += size
			f.mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			return true
		}
		f.mu.Unlock()
		if timer == nil {
			waits.Add(1)
			timer = time.NewTimer(flowTimeout)
		}
		select {
		case <-f.freed:
		case <-stop:
			timer.Stop()
			return false
		case <-cancel:
			timer.Stop()
			return false
		case <-timer.C:
			// No answer: the frames are lost with the node or the old backbone.
			f.mu.Lock()
			f.inflight = 0
			f.mu.Unlock()
			timer = nil
		}
	}
}

// release returns size bytes to the window.
func (f *flow) release(size int) {
	f.mu.Lock()
	f.inflight = max(f.inflight-size, 0)
	f.mu.Unlock()
	select {
	case f.freed <- struct{}{}:
	default:
	}
}

// sendFlow sends a frame of forwarded messages to node (token tok) within its window; it
// drops the frame if stop (or the service's stop) closes while it waits.
func (s *Service) sendFlow(nc *nats.Conn, tok, subj string, frame []byte, count int, stop <-chan struct{}, t0 int64) {
	f := s.flowTo(tok)
	var ta int64
	if trace != nil {
		ta = time.Now().UnixNano()
	}
	if !f.acquire(len(frame), s.stop, stop, &s.met.windowWaits) {
		s.dropped.Add(uint64(count))
		return
	}
	reply := subjAck + token(s.o.NodeName) + "." + tok
	var err error
	if trace != nil {
		err = trace.publish(nc, tok, subj, reply, frame, t0, ta)
	} else {
		err = nc.PublishRequest(subj, reply, frame)
	}
	if err != nil {
		f.release(len(frame))
		s.dropped.Add(uint64(count))
		s.log.Warn("cluster: cannot send messages to another node", "subject", subj, "messages", count, "bytes", len(frame), "error", err)
		return
	}
	s.met.framesOut.Add(1)
	s.met.msgsOut.Add(uint64(count))
}

// ackFrame answers a forwarded frame once its messages are routed here. Answers are
// coalesced: a sender is answered, with the summed size of its frames routed since its last
// answer, once no frame waits behind this one on the subscription or once ackBatch bytes of
// its frames were routed, so that a burst of frames costs the two nodes one answer's trip
// through their backbones, not one per frame. Runs on the forwarding subscription's goroutine.
func (s *Service) ackFrame(msg *nats.Msg) {
	if msg.Reply == "" || !strings.HasPrefix(msg.Reply, subjAck) {
		return
	}
	idle := true
	if msg.Sub != nil {
		if n, _, err := msg.Sub.Pending(); err == nil && n > 0 {
			idle = false
		}
	}
	a := &s.acks
	a.mu.Lock()
	if a.due == nil {
		a.due = make(map[string]int)
	}
	a.due[msg.Reply] += len(msg.Data)
	if !idle && a.due[msg.Reply] < ackBatch {
		a.mu.Unlock()
		return
	}
	var buf [4]pendingAck
	send := buf[:0]
	for reply, size := range a.due {
		if idle || reply == msg.Reply {
			send = append(send, pendingAck{reply, size})
			delete(a.due, reply)
		}
	}
	a.mu.Unlock()
	nc := s.conn.Load()
	if nc == nil {
		return
	}
	var b [binary.MaxVarintLen64]byte
	for _, x := range send {
		nc.Publish(x.reply, b[:binary.PutUvarint(b[:], uint64(x.size))])
	}
}

// ackBatch is how many bytes of one sender's frames are routed at most before it is answered
// while more frames wait.
const ackBatch = flowWindow / 8

// acks holds the answers not sent yet (ackFrame).
type acks struct {
	mu  sync.Mutex
	due map[string]int // reply subject -> bytes of frames routed, not yet answered
}

type pendingAck struct {
	reply string
	size  int
}

// onAck frees window towards the node that acknowledged a frame.
func (s *Service) onAck(msg *nats.Msg) {
	tok := msg.Subject[strings.LastIndexByte(msg.Subject, '.')+1:]
	size, k := binary.Uvarint(msg.Data)
	if k <= 0 {
		return
	}
	s.flowTo(tok).release(int(size))
}
