package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// rawClient is a minimal MQTT client over the codec, so that the soak knows exactly which
// packets went and came (packet ids, DUP, session present). Reads happen on one goroutine;
// writes are serialised by wmu.
type rawClient struct {
	c   net.Conn
	r   *bufio.Reader
	v   codec.Version
	wmu sync.Mutex
	buf []byte
}

var errNotAccepted = errors.New("CONNECT not accepted")

// dial connects and sends cp, returning the client and its CONNACK.
func dial(addr string, cp *codec.Connect) (*rawClient, *codec.Connack, error) {
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return nil, nil, err
	}
	m := &rawClient{c: c, r: bufio.NewReaderSize(c, 16<<10), v: cp.Version}
	if err := m.write(codec.AppendConnect(nil, cp)); err != nil {
		c.Close()
		return nil, nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	h, pkt, err := m.read()
	_ = c.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	if h.Type != codec.TypeConnack {
		c.Close()
		return nil, nil, fmt.Errorf("got %v instead of CONNACK", h.Type)
	}
	var ack codec.Connack
	if err := ack.Decode(pkt, cp.Version); err != nil {
		c.Close()
		return nil, nil, err
	}
	if ack.Code != 0 {
		c.Close()
		return nil, &ack, fmt.Errorf("%w: %v", errNotAccepted, ack.Code)
	}
	return m, &ack, nil
}

// write sends b whole, within 5 s.
func (m *rawClient) write(b []byte) error {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	_ = m.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := m.c.Write(b)
	return err
}

// send encodes with f into the client's scratch and writes it.
func (m *rawClient) send(f func([]byte) []byte) error {
	m.wmu.Lock()
	m.buf = f(m.buf[:0])
	_ = m.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := m.c.Write(m.buf)
	m.wmu.Unlock()
	return err
}

// read returns the next whole packet (fixed header included); the bytes are the caller's.
func (m *rawClient) read() (codec.Header, []byte, error) {
	var hdr [5]byte
	first, err := m.r.ReadByte()
	if err != nil {
		return codec.Header{}, nil, err
	}
	hdr[0] = first
	n := 1
	for {
		b, err := m.r.ReadByte()
		if err != nil {
			return codec.Header{}, nil, err
		}
		hdr[n] = b
		n++
		if b&0x80 == 0 || n == 5 {
			break
		}
	}
	h, err := codec.Frame(hdr[:n], 0)
	if err != nil {
		return h, nil, err
	}
	pkt := make([]byte, n+h.Length)
	copy(pkt, hdr[:n])
	if _, err := io.ReadFull(m.r, pkt[n:]); err != nil {
		return h, nil, err
	}
	return h, pkt, nil
}

func (m *rawClient) close() { _ = m.c.Close() }

func (m *rawClient) ack(t codec.PacketType, id uint16) error {
	return m.send(func(b []byte) []byte { return codec.AppendAck(b, &codec.Ack{Type: t, PacketID: id}, m.v) })
}
