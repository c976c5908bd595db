package cluster

import (
	"fmt"
	"math/bits"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Debug timing of the forwarding path, on only with EMQGO_CLUSTER_TRACE=<file>: per stage,
// a histogram of microseconds in powers of two, written to the file each second.

type traceStage int

const (
	stQueue     traceStage = iota // frame's first record added -> sending goroutine takes it
	stWindow                      // waiting for the flow window
	stPublish                     // the PublishRequest call
	stTransit                     // sent -> onForward starts on the receiver
	stRoute                       // onForward's decode and RouteFromPeer
	stTotal                       // first record added -> onForward done
	stFrameMsgs                   // records per frame (a count, not µs)
	stPending                     // frames pending behind the one onForward starts (a count)
	stTotalW                      // stTotal weighted by the frame's records
	stTransitW                    // stTransit weighted by the frame's records
	nStages
)

var stageNames = [nStages]string{"queue", "window", "publish", "transit", "route", "total", "frame_msgs", "pending", "total_w", "transit_w"}

type tracer struct {
	h [nStages][32]atomic.Uint64
	f *os.File
}

var trace *tracer

func init() {
	p := os.Getenv("EMQGO_CLUSTER_TRACE")
	if p == "" {
		return
	}
	f, err := os.OpenFile(p+"."+strconv.Itoa(os.Getpid()), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "EMQGO_CLUSTER_TRACE: cannot open the trace file, not tracing: %v\n", err)
		return
	}
	fmt.Fprintf(os.Stderr, "EMQGO_CLUSTER_TRACE: timing the forwarding path into %s (debugging; costs time per frame)\n", f.Name())
	trace = &tracer{f: f}
	go trace.dump()
}

func (t *tracer) add(s traceStage, v int64) { t.addN(s, v, 1) }

func (t *tracer) addN(s traceStage, v int64, n int) {
	t.h[s][min(bits.Len64(uint64(max(v, 0))), 31)].Add(uint64(n))
}

func (t *tracer) addDur(s traceStage, ns int64) { t.add(s, ns/1000) }

// dump writes, each second, the count and the bucket upper bounds of p50, p90 and p99 of each
// stage over that second.
func (t *tracer) dump() {
	for range time.Tick(time.Second) {
		line := time.Now().Format("15:04:05")
		for s := range nStages {
			var c [32]uint64
			var n uint64
			for i := range c {
				c[i] = t.h[s][i].Swap(0)
				n += c[i]
			}
			if n == 0 {
				continue
			}
			q := func(f float64) uint64 {
				var acc uint64
				for i := range c {
					acc += c[i]
					if float64(acc) >= f*float64(n) {
						return 1 << i
					}
				}
				return 1 << 31
			}
			line += fmt.Sprintf(" %s n=%d p50<%d p90<%d p99<%d", stageNames[s], n, q(.5), q(.9), q(.99))
		}
		fmt.Fprintln(t.f, line)
	}
}

// publish sends a frame with its first record's time (t0) and its sending time in headers.
func (t *tracer) publish(nc *nats.Conn, tok, subj, reply string, frame []byte, t0, acquireStart int64) error {
	now := time.Now().UnixNano()
	t.addDur(stWindow, now-acquireStart)
	m := &nats.Msg{Subject: subj, Reply: reply, Data: frame, Header: nats.Header{}}
	m.Header.Set("T0", strconv.FormatInt(t0, 10))
	m.Header.Set("TS", strconv.FormatInt(now, 10))
	err := nc.PublishMsg(m)
	t.addDur(stPublish, time.Now().UnixNano()-now)
	return err
}

// received notes a frame's arrival in onForward and returns the time.
func (t *tracer) received(msg *nats.Msg) int64 {
	now := time.Now().UnixNano()
	if ts, err := strconv.ParseInt(msg.Header.Get("TS"), 10, 64); err == nil {
		t.addDur(stTransit, now-ts)
	}
	if msg.Sub != nil {
		n, _, _ := msg.Sub.Pending()
		t.add(stPending, int64(n))
	}
	return now
}

// routed notes the end of onForward.
func (t *tracer) routed(msg *nats.Msg, start int64, n int) {
	now := time.Now().UnixNano()
	t.addDur(stRoute, now-start)
	if t0, err := strconv.ParseInt(msg.Header.Get("T0"), 10, 64); err == nil && t0 > 0 {
		t.addDur(stTotal, now-t0)
		t.addN(stTotalW, (now-t0)/1000, n)
	}
	if ts, err := strconv.ParseInt(msg.Header.Get("TS"), 10, 64); err == nil {
		t.addN(stTransitW, (start-ts)/1000, n)
	}
}
