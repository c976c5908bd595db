package cluster

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/emqgo/emqgo/engine"
)

// readFrames decodes the frames of a taken buffer: every record's publisher and payload, and
// each frame's record count as its span says and as decoded.
func readFrames(t *testing.T, buf []byte, spans []frameSpan) (froms, payloads []string) {
	t.Helper()
	start := 0
	for i, sp := range spans {
		b := buf[start:sp.end]
		var recs [2]record
		var prev *record
		n := 0
		for len(b) > 0 {
			r := &recs[n%2]
			var err error
			if b, err = nextRecord(b, r, prev); err != nil {
				t.Fatalf("frame %d, record %d: %v", i, n, err)
			}
			froms, payloads = append(froms, r.from), append(payloads, string(r.pub.Payload))
			prev = r
			n++
		}
		if n != sp.count {
			t.Fatalf("frame %d: %d records, its span says %d", i, n, sp.count)
		}
		start = sp.end
	}
	if start != len(buf) {
		t.Fatalf("%d bytes after the last frame", len(buf)-start)
	}
	return froms, payloads
}

// TestFrameOutSplitsFrames: records appended in many calls come back in order, cut into
// frames of about frameLimit bytes, each of which reads alone (a frame never starts with a
// "same publisher as before" record).
func TestFrameOutSplitsFrames(t *testing.T) {
	s := &Service{}
	o := &frameOut{s: s}
	now := time.Now().UnixNano()
	payload := string(bytes.Repeat([]byte("p"), 1000))
	const total = 3000 // ~3 MB: three frames and an open one
	for k := 0; k < total; k += 10 {
		var ds []engine.Delivery
		for j := k; j < k+10; j++ {
			from := "pub" + fmt.Sprint(j/7) // runs of one publisher across calls and frames
			ds = append(ds, engine.Delivery{Msg: frameMsg(from, "t", fmt.Sprint(j)+payload, 0, nil, now), QoS: 0})
		}
		o.add(ds)
	}
	buf, spans := o.take(nil, nil)
	if len(spans) < 3 {
		t.Fatalf("%d frames for %d bytes, want at least 3 of ~%d", len(spans), len(buf), frameLimit)
	}
	froms, payloads := readFrames(t, buf, spans)
	if len(payloads) != total {
		t.Fatalf("%d records, want %d", len(payloads), total)
	}
	for j := range total {
		if want := fmt.Sprint(j) + payload; payloads[j] != want || froms[j] != "pub"+fmt.Sprint(j/7) {
			t.Fatalf("record %d: from %q, payload %.10q…, want from pub%d and payload %.10q…", j, froms[j], payloads[j], j/7, want)
		}
	}
	if buf, spans = o.take(buf, spans); len(buf) != 0 || len(spans) != 0 {
		t.Fatalf("a second take found %d bytes in %d frames", len(buf), len(spans))
	}
}

// TestFrameOutKeepsQoS1: past outLimit waiting bytes (the sender blocked by the flow window), QoS
// 0 messages are dropped and counted while QoS 1 ones are all kept.
func TestFrameOutKeepsQoS1(t *testing.T) {
	s := &Service{}
	o := &frameOut{s: s}
	now := time.Now().UnixNano()
	payload := string(bytes.Repeat([]byte("p"), 4000))
	const total = 2 * outLimit / 4000
	q1 := 0
	for k := range total {
		qos := uint8(k % 2)
		q1 += int(qos)
		o.add([]engine.Delivery{{Msg: frameMsg("c", "t", fmt.Sprint(k)+payload, qos, nil, now), QoS: qos}})
	}
	dropped := int(s.dropped.Load())
	buf, spans := o.take(nil, nil)
	_, payloads := readFrames(t, buf, spans)
	if dropped == 0 || dropped+len(payloads) != total {
		t.Fatalf("%d kept and %d dropped of %d", len(payloads), dropped, total)
	}
	kept1 := 0
	for _, p := range payloads {
		var k int
		fmt.Sscan(p[:len(p)-len(payload)], &k)
		kept1 += k % 2
	}
	if kept1 != q1 {
		t.Fatalf("%d QoS 1 messages kept, want all %d", kept1, q1)
	}
}
