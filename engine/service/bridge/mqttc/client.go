// Package mqttc is the bridge's MQTT client: a small client over the project's codec for MQTT
// 3.1, 3.1.1 and 5.0, over TCP or TLS.
//
// Why not a paho library: the bridge needs to control exactly when a message leaves its queue
// (after the remote's PUBACK/PUBREC), to write a whole batch of PUBLISH packets with one
// write, to keep several batches in flight under its own window, and to resend what was not
// acknowledged after a reconnect from its own queue rather than from a client-side store.
// paho.mqtt.golang keeps its own in-flight store and writes one packet per call through a
// channel; paho.golang (MQTT 5 only) has its own session state; neither speaks all three
// versions. The codec already encodes and decodes every packet of every version, so the
// client is only framing, the CONNECT/SUBSCRIBE exchanges and packet identifiers.
//
// A Conn has one reader goroutine, which hands every packet it reads to the Handler; writes
// are serialised by a mutex and may come from any goroutine.
package mqttc

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/transport/tlspsk"
)

// Options configure a connection.
type Options struct {
	Addr string      // host:port
	TLS  *tls.Config // nil: plain TCP
	// PSK, when set, makes the connection TLS 1.2 with a pre-shared key (engine/transport/tlspsk)
	// instead of TLS; TLS is then not used.
	PSK        *tlspsk.Config
	Version    codec.Version // codec.V31, codec.V311 or codec.V5
	ClientID   string
	Username   string // sent when not ""
	Password   string // sent when not ""
	CleanStart bool
	KeepAlive  time.Duration // 0 disables
	// BridgeBit sets bit 0x80 of the protocol level of an MQTT 3.x CONNECT (mosquitto's and
	// EMQX's bridge mode: the server does not echo the client's own messages and keeps their
	// retain flag).
	BridgeBit bool
	// Timeout bounds the dial, the TLS handshake and the wait for CONNACK; 0 means 10s.
	Timeout time.Duration
	// MaxPacketSize bounds the packets read; 0 means 256 MiB.
	MaxPacketSize uint32
}

// Handler receives what a Conn reads, on the Conn's reader goroutine, one call at a time.
type Handler interface {
	// OnPublish receives an inbound PUBLISH; p borrows the read buffer until it returns.
	// The handler acknowledges it (Conn.Ack) when it is done with it.
	OnPublish(c *Conn, p *codec.Publish)
	// OnAck receives a PUBACK, PUBREC, PUBREL or PUBCOMP.
	OnAck(c *Conn, a *codec.Ack)
	// OnSuback receives a SUBACK.
	OnSuback(c *Conn, s *codec.Suback)
	// OnClose is called once when the connection ends, with the reason (never nil).
	OnClose(c *Conn, err error)
}

// Conn is one connection to a broker. Its methods are safe for concurrent use.
type Conn struct {
	nc      net.Conn
	version codec.Version
	connack codec.Connack // owned copy of the interesting fields
	h       Handler

	wmu    sync.Mutex
	wbuf   []byte
	closed chan struct{}
	once   sync.Once
	err    error

	keepAlive time.Duration
	lastWrite time.Time    // under wmu
	lastRead  atomic.Int64 // unix nanoseconds of the last packet read
}

// ConnackInfo is what the server's CONNACK said.
type ConnackInfo struct {
	SessionPresent bool
	// ReceiveMaximum is the MQTT 5 server's Receive Maximum, 65535 when not sent.
	ReceiveMaximum uint16
	// MaximumQoS is the server's Maximum QoS (2 when not sent).
	MaximumQoS byte
	// RetainAvailable is false when an MQTT 5 server said it has no retained messages.
	RetainAvailable bool
	// MaximumPacketSize is the server's (0: no limit).
	MaximumPacketSize uint32
	// KeepAlive is the keep alive in force (the MQTT 5 server's Server Keep Alive if sent).
	KeepAlive time.Duration
}

// Dial connects, sends CONNECT and waits for the CONNACK. On success the reader goroutine
// runs and the handler receives what follows.
func Dial(ctx context.Context, o Options, h Handler) (*Conn, ConnackInfo, error) {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxPacketSize == 0 {
		o.MaxPacketSize = 256 << 20
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", o.Addr)
	if err != nil {
		return nil, ConnackInfo{}, err
	}
	if o.PSK != nil {
		if dl, ok := ctx.Deadline(); ok {
			nc.SetDeadline(dl)
		}
		pc := tlspsk.Client(nc, o.PSK)
		stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) }) // a stop ends the handshake
		err := pc.Handshake()
		stop()
		if err != nil {
			nc.Close()
			return nil, ConnackInfo{}, fmt.Errorf("TLS-PSK handshake with %s as identity %q: %w", o.Addr, o.PSK.Identity, err)
		}
		nc = pc
	} else if o.TLS != nil {
		tc := tls.Client(nc, o.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, ConnackInfo{}, fmt.Errorf("TLS handshake with %s: %w", o.Addr, err)
		}
		nc = tc
	}
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	c := &Conn{nc: nc, version: o.Version, h: h, closed: make(chan struct{}), keepAlive: o.KeepAlive}
	cp := codec.Connect{Version: o.Version, CleanStart: o.CleanStart, KeepAlive: uint16(min(o.KeepAlive/time.Second, 65535)), ClientID: []byte(o.ClientID)}
	if o.Username != "" {
		cp.UsernameFlag, cp.Username = true, []byte(o.Username)
	}
	if o.Password != "" {
		cp.PasswordFlag, cp.Password = true, []byte(o.Password)
	}
	if o.Version >= codec.V5 && !o.CleanStart {
		cp.Props.SetSessionExpiry(0xFFFFFFFF)
	}
	pkt := codec.AppendConnect(nil, &cp)
	if o.BridgeBit && o.Version < codec.V5 {
		// Fixed header, then the protocol name (2-byte length and the name), then the level.
		_, n, _ := codec.DecodeVarint(pkt[1:])
		name := 4
		if o.Version == codec.V31 {
			name = 6
		}
		pkt[1+n+2+name] |= 0x80
	}
	if _, err := nc.Write(pkt); err != nil {
		nc.Close()
		return nil, ConnackInfo{}, fmt.Errorf("sending CONNECT: %w", err)
	}
	r := bufio.NewReaderSize(nc, 64<<10)
	pkt, err = readPacket(r, o.MaxPacketSize, o.Version, nil)
	if err != nil {
		nc.Close()
		return nil, ConnackInfo{}, fmt.Errorf("waiting for CONNACK: %w", err)
	}
	if codec.PacketType(pkt[0]>>4) != codec.TypeConnack {
		nc.Close()
		return nil, ConnackInfo{}, fmt.Errorf("expected CONNACK, got packet type %d", pkt[0]>>4)
	}
	if err := c.connack.Decode(pkt, o.Version); err != nil {
		nc.Close()
		return nil, ConnackInfo{}, fmt.Errorf("decoding CONNACK: %w", err)
	}
	if c.connack.Code != codec.Success {
		nc.Close()
		return nil, ConnackInfo{}, fmt.Errorf("%w: %w (0x%02x)", ErrRefused, c.connack.Code, byte(c.connack.Code))
	}
	info := ConnackInfo{SessionPresent: c.connack.SessionPresent, ReceiveMaximum: 65535, MaximumQoS: 2, RetainAvailable: true, KeepAlive: o.KeepAlive}
	if o.Version >= codec.V5 {
		p := &c.connack.Props
		if p.Has(codec.PropReceiveMaximum) {
			info.ReceiveMaximum = p.ReceiveMaximum
		}
		if p.Has(codec.PropMaximumQoS) {
			info.MaximumQoS = p.MaximumQoS
		}
		if p.Has(codec.PropRetainAvailable) {
			info.RetainAvailable = p.RetainAvailable == 1
		}
		if p.Has(codec.PropMaximumPacketSize) {
			info.MaximumPacketSize = p.MaximumPacketSize
		}
		if p.Has(codec.PropServerKeepAlive) {
			info.KeepAlive = time.Duration(p.ServerKeepAlive) * time.Second
			c.keepAlive = info.KeepAlive
		}
	}
	c.connack.Props = codec.Properties{} // borrowed the CONNACK's bytes
	nc.SetDeadline(time.Time{})
	c.lastWrite = time.Now()
	c.lastRead.Store(time.Now().UnixNano())
	go c.read(r, o.MaxPacketSize)
	if c.keepAlive > 0 {
		go c.ping()
	}
	return c, info, nil
}

// ErrRefused wraps the CONNACK refusal of a server.
var ErrRefused = errors.New("mqttc: connection refused by the server")

// ErrClosed is returned by writes on a closed connection.
var ErrClosed = errors.New("mqttc: connection closed")

// Version is the connection's protocol version.
func (c *Conn) Version() codec.Version { return c.version }

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.closed }

// Err is why the connection ended (nil while it runs).
func (c *Conn) Err() error {
	select {
	case <-c.closed:
		return c.err
	default:
		return nil
	}
}

// Close ends the connection (sending DISCONNECT first, best effort).
func (c *Conn) Close() {
	c.wmu.Lock()
	c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	c.nc.Write(codec.AppendDisconnect(nil, &codec.Disconnect{}, c.version))
	c.wmu.Unlock()
	c.fail(ErrClosed)
}

func (c *Conn) fail(err error) {
	c.once.Do(func() {
		c.err = err
		c.nc.Close()
		close(c.closed)
		c.h.OnClose(c, err)
	})
}

// Write sends the packets built by fill (appending to the buffer it is given) with one write.
// fill runs with the write lock held: it must only encode.
func (c *Conn) Write(fill func(b []byte) []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	c.wbuf = fill(c.wbuf[:0])
	if len(c.wbuf) == 0 {
		return nil
	}
	_, err := c.nc.Write(c.wbuf)
	if cap(c.wbuf) > 1<<20 {
		c.wbuf = nil // do not keep a huge buffer after a large batch
	}
	if err != nil {
		go c.fail(fmt.Errorf("writing: %w", err))
		return err
	}
	c.lastWrite = time.Now()
	return nil
}

// Ack sends a PUBACK, PUBREC, PUBREL or PUBCOMP.
func (c *Conn) Ack(t codec.PacketType, id uint16) error {
	return c.Write(func(b []byte) []byte {
		return codec.AppendAck(b, &codec.Ack{Type: t, PacketID: id}, c.version)
	})
}

// Subscribe sends a SUBSCRIBE of filters (each with its QoS) with packet id; the SUBACK goes
// to the handler.
func (c *Conn) Subscribe(id uint16, subs []codec.Subscription) error {
	return c.Write(func(b []byte) []byte {
		return codec.AppendSubscribe(b, &codec.Subscribe{PacketID: id, Subs: subs}, c.version)
	})
}

// Unsubscribe sends an UNSUBSCRIBE of filters with packet id (the UNSUBACK is not reported).
func (c *Conn) Unsubscribe(id uint16, filters ...string) error {
	u := codec.Unsubscribe{PacketID: id}
	for _, f := range filters {
		u.Filters = append(u.Filters, []byte(f))
	}
	return c.Write(func(b []byte) []byte { return codec.AppendUnsubscribe(b, &u, c.version) })
}

// ping sends PINGREQ when nothing was written or nothing was read for half the keep alive
// interval, so that the server hears from the client and the reader's deadline (1.5
// intervals without a packet from the server) only fires on a dead connection.
func (c *Conn) ping() {
	t := time.NewTicker(c.keepAlive / 2)
	defer t.Stop()
	for {
		select {
		case <-c.closed:
			return
		case <-t.C:
		}
		c.wmu.Lock()
		idle := time.Since(c.lastWrite)
		c.wmu.Unlock()
		if idle >= c.keepAlive/2 || time.Since(time.Unix(0, c.lastRead.Load())) >= c.keepAlive/2 {
			c.Write(codec.AppendPingreq)
		}
	}
}

// read is the reader goroutine.
func (c *Conn) read(r *bufio.Reader, maxSize uint32) {
	var (
		buf []byte
		pub codec.Publish
		ack codec.Ack
		sa  codec.Suback
	)
	for {
		if c.keepAlive > 0 {
			c.nc.SetReadDeadline(time.Now().Add(c.keepAlive * 3 / 2))
		}
		pkt, err := readPacket(r, maxSize, c.version, buf)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("closed by the server")
			}
			c.fail(err)
			return
		}
		buf = pkt[:0]
		c.lastRead.Store(time.Now().UnixNano())
		switch t := codec.PacketType(pkt[0] >> 4); t {
		case codec.TypePublish:
			if err := pub.Decode(pkt, c.version); err != nil {
				c.fail(fmt.Errorf("decoding PUBLISH: %w", err))
				return
			}
			c.h.OnPublish(c, &pub)
		case codec.TypePuback, codec.TypePubrec, codec.TypePubrel, codec.TypePubcomp:
			if err := ack.Decode(pkt, c.version); err != nil {
				c.fail(fmt.Errorf("decoding acknowledgement: %w", err))
				return
			}
			c.h.OnAck(c, &ack)
		case codec.TypeSuback:
			if err := sa.Decode(pkt, c.version); err != nil {
				c.fail(fmt.Errorf("decoding SUBACK: %w", err))
				return
			}
			c.h.OnSuback(c, &sa)
		case codec.TypeUnsuback, codec.TypePingresp:
		case codec.TypeDisconnect:
			var d codec.Disconnect
			d.Decode(pkt, c.version)
			c.fail(fmt.Errorf("DISCONNECT from the server: %v (0x%02x)", d.Code, byte(d.Code)))
			return
		default:
			c.fail(fmt.Errorf("unexpected packet type %d from the server", t))
			return
		}
	}
}

// readPacket reads one whole packet into buf (grown as needed).
func readPacket(r *bufio.Reader, maxSize uint32, v codec.Version, buf []byte) ([]byte, error) {
	var head [5]byte
	n := 0
	for {
		b, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		head[n] = b
		n++
		if n >= 2 && b&0x80 == 0 {
			break
		}
		if n == 5 {
			return nil, errors.New("malformed remaining length")
		}
	}
	h, err := codec.FrameV(head[:n], maxSize, v)
	if err != nil {
		return nil, err
	}
	total := h.HeaderLen + h.Length
	if cap(buf) < total {
		buf = make([]byte, total)
	}
	buf = buf[:total]
	copy(buf, head[:n])
	if _, err := io.ReadFull(r, buf[n:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}
