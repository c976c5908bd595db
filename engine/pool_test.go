package engine

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// poolPayload is the payload of message seq of publisher pub: a header naming both, then
// bytes derived from them, so that a receiver can check every byte.
func poolPayload(pub, seq int) []byte {
	sizes := [...]int{100, 1500, 2500, 4096, 9000, 20000, 70000}
	b := fmt.Appendf(nil, "p%d-%d|", pub, seq)
	for i := len(b); i < sizes[(pub+seq)%len(sizes)]; i++ {
		b = append(b, byte((pub*131+seq*7+i)%251))
	}
	return b
}

func checkPoolPayload(b []byte) error {
	var pub, seq int
	if _, err := fmt.Sscanf(string(b[:min(len(b), 16)]), "p%d-%d|", &pub, &seq); err != nil {
		return fmt.Errorf("payload header % x: %v", b[:min(len(b), 16)], err)
	}
	if want := poolPayload(pub, seq); !bytes.Equal(b, want) {
		return fmt.Errorf("payload of p%d-%d differs (%d bytes, want %d)", pub, seq, len(b), len(want))
	}
	return nil
}

// readPublishes reads n PUBLISH packets from cl, acknowledging QoS 1, and checks each
// payload. It reports instead of failing the test, so that it can run on its own goroutine.
func readPublishes(cl *client, n int) error {
	c, r, v := cl.c, cl.r, cl.v
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var p codec.Publish
	for got := 0; got < n; {
		var hdr []byte
		var err error
		for i := 1; ; i++ {
			if hdr, err = r.Peek(i + 1); err != nil {
				return fmt.Errorf("after %d of %d messages: %v", got, n, err)
			}
			if hdr[i]&0x80 == 0 {
				break
			}
		}
		h, err := codec.Frame(hdr, 0)
		if err != nil {
			return err
		}
		pkt := make([]byte, h.HeaderLen+h.Length)
		if _, err := io.ReadFull(r, pkt); err != nil {
			return err
		}
		if h.Type != codec.TypePublish {
			continue
		}
		if err := p.Decode(pkt, v); err != nil {
			return err
		}
		if err := checkPoolPayload(p.Payload); err != nil {
			return fmt.Errorf("message %d on %q: %v", got, p.Topic, err)
		}
		if p.QoS == 1 {
			if _, err := c.Write(codec.AppendAck(nil, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID}, v)); err != nil {
				return err
			}
		}
		got++
	}
	return nil
}

// Messages come from a pool and go back when the last holder is done. Every way a message
// can be held (cross-loop delivery, writev batch, inflight window, offline queue, retained
// index) is exercised here with payloads of every pool class and beyond; in race builds
// released bytes are overwritten, so a holder that did not hold sees a corrupted payload.
func TestPooledMessagesStayIntact(t *testing.T) {
	_, addr := testNode(t, func(c *Config) { c.Listeners[0].Zone.HighWater = 0 })
	const pubs, per = 4, 120
	total := pubs * per

	// An offline session collects everything in its queue.
	off, _ := connectRaw(t, addr, codec.V5, "offline", func(c *codec.Connect) {
		c.CleanStart = false
		c.Props.SetSessionExpiry(300)
	})
	off.subscribe(1, 0, sub("pool/#", 1))
	off.disconnect(codec.Success, nil)

	var subs []*client
	for i := range 4 {
		s, _ := connectRaw(t, addr, codec.V311, fmt.Sprintf("sub%d", i), nil)
		s.subscribe(1, 0, sub("pool/#", 1))
		subs = append(subs, s)
	}
	errs := make(chan error, len(subs))
	for _, s := range subs {
		go func() { errs <- readPublishes(s, total) }()
	}

	var wg sync.WaitGroup
	for pub := range pubs {
		p, _ := connectRaw(t, addr, codec.V311, fmt.Sprintf("pub%d", pub), nil)
		var batch []byte
		acks := 0
		for seq := range per {
			m := &codec.Publish{Topic: fmt.Appendf(nil, "pool/%d/%d", pub, seq%5), QoS: byte(seq % 2), Payload: poolPayload(pub, seq)}
			if seq%40 == 39 {
				m.Topic, m.Retain = fmt.Appendf(nil, "pool/r/%d", pub), true
			}
			if m.QoS == 1 {
				m.PacketID = uint16(seq + 1)
				acks++
			}
			batch = codec.AppendPublish(batch, m, codec.V311)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = p.c.Write(batch) // pipelined: the broker takes them in a few rounds
		}()
		defer func() {
			for range acks {
				p.recvAck(codec.TypePuback)
			}
		}()
	}
	wg.Wait()
	for range subs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}

	back, ack := connectRaw(t, addr, codec.V5, "offline", func(c *codec.Connect) {
		c.CleanStart = false
		c.Props.SetSessionExpiry(300)
	})
	if !ack.SessionPresent {
		t.Fatal("the offline session was not kept")
	}
	if err := readPublishes(back, total); err != nil {
		t.Fatalf("queued messages: %v", err)
	}

	r, _ := connectRaw(t, addr, codec.V311, "retained", nil)
	r.subscribe(1, 0, sub("pool/r/#", 0))
	for range pubs {
		m := r.recvPublish()
		if err := checkPoolPayload(m.Payload); err != nil || !m.Retain {
			t.Fatalf("retained %q (retain %v): %v", m.Topic, m.Retain, err)
		}
	}
}
