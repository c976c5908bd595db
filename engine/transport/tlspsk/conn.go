package tlspsk

import (
	"crypto/rand"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Config holds the settings of a PSK server or client. A Config must not change once given
// to Server or Client; one Config may serve any number of connections at once.
type Config struct {
	// GetKey returns the key shared with the client that names identity, and false for an
	// unknown identity. Required on a server. It is called on the goroutine running the
	// handshake, once per handshake, and may block (within the connection's deadline).
	// A key it returns is not kept after the handshake.
	GetKey func(identity string) (key []byte, ok bool)
	// Hint is the server's psk_identity_hint: when not empty it is sent in a
	// ServerKeyExchange message (RFC 4279 section 2); otherwise that message is omitted.
	Hint string

	// Identity and Key are the client's PSK identity and key. Required on a client.
	Identity string
	Key      []byte
	// ServerName, when not empty, is sent as the client's server_name extension (SNI).
	ServerName string

	// CipherSuites lists the suites allowed, in order of preference (the server's order
	// decides); empty: DefaultCipherSuites().
	CipherSuites []uint16
	// Rand is the source of randoms and CBC IVs; nil: crypto/rand.
	Rand io.Reader
}

func (c *Config) rand() io.Reader {
	if c.Rand != nil {
		return c.Rand
	}
	return rand.Reader
}

func (c *Config) suites() []uint16 {
	if len(c.CipherSuites) > 0 {
		return c.CipherSuites
	}
	return DefaultCipherSuites()
}

// ConnectionState describes an established connection.
type ConnectionState struct {
	CipherSuite          uint16 // the suite in use (CipherSuiteName gives its name)
	Identity             string // the client's PSK identity
	Hint                 string // the server's identity hint ("" when it sent none)
	ExtendedMasterSecret bool   // RFC 7627 was negotiated
	SecureRenegotiation  bool   // the peer sent renegotiation_info or its SCSV (RFC 5746)
	ServerName           string // the client's SNI, on a server
}

// Conn is a TLS 1.2 PSK connection over a net.Conn: the PSK counterpart of crypto/tls.Conn,
// with the same contract. The handshake runs on the first Read or Write, or on Handshake.
// Read and Write may run at the same time on different goroutines (one reader, one
// writer), and Close may be called from any goroutine; deadlines apply to the underlying
// connection. Renegotiation is refused (a no_renegotiation warning alert).
type Conn struct {
	conn     net.Conn
	cfg      *Config
	isClient bool

	hsMu   sync.Mutex // serialises Handshake
	hsDone atomic.Bool
	hsErr  error
	state  ConnectionState // set before hsDone
	// Handshake state (under hsMu).
	transcript []byte
	hs         []byte // handshake bytes received and not yet parsed

	in struct {
		sync.Mutex
		hc    halfConn
		raw   []byte // raw[rs:re] read from conn, not yet parsed
		rs    int
		re    int
		plain []byte // application data decrypted, not yet returned (aliases raw)
		err   error  // sticky: after it, Read returns it
	}
	out struct {
		sync.Mutex
		hc  halfConn
		buf []byte
		err error // sticky
	}
	closed atomic.Bool
}

// Server returns a server-side PSK connection over conn. cfg.GetKey must be set.
func Server(conn net.Conn, cfg *Config) *Conn { return &Conn{conn: conn, cfg: cfg} }

// Client returns a client-side PSK connection over conn. cfg.Identity and cfg.Key must be set.
func Client(conn net.Conn, cfg *Config) *Conn {
	return &Conn{conn: conn, cfg: cfg, isClient: true}
}

// Handshake runs the handshake if it has not run yet and returns its result (the same error
// on every later call once it failed). A failure sends the alert the cause calls for
// (AlertError tells which) and leaves the underlying connection open: Close it.
func (c *Conn) Handshake() error {
	if c.hsDone.Load() {
		return nil
	}
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.hsErr != nil || c.hsDone.Load() {
		return c.hsErr
	}
	c.in.Lock()
	var err error
	if c.isClient {
		err = c.clientHandshake()
	} else {
		err = c.serverHandshake()
	}
	c.transcript, c.hs = nil, nil
	if err != nil {
		c.in.err = err
		c.in.Unlock()
		c.hsErr = c.fail(err)
		return c.hsErr
	}
	c.in.Unlock()
	c.hsDone.Store(true)
	return nil
}

// ConnectionState returns the state of the connection; zero before the handshake completed.
func (c *Conn) ConnectionState() ConnectionState {
	if !c.hsDone.Load() {
		return ConnectionState{}
	}
	return c.state
}

// fail sends the alert of err when it is a local failure, then returns err.
func (c *Conn) fail(err error) error {
	var ae *AlertError
	if errors.As(err, &ae) && ae.Sent {
		c.sendAlert(ae.Alert)
	}
	return err
}

// sendAlert writes alert a: close_notify and no_renegotiation as warnings, others fatal (no
// more writes after them).
func (c *Conn) sendAlert(a Alert) {
	level := byte(2)
	if a == AlertCloseNotify || a == AlertNoRenegotiation {
		level = 1
	}
	c.out.Lock()
	defer c.out.Unlock()
	if c.out.err != nil {
		return
	}
	buf, err := c.out.hc.seal(c.out.buf[:0], recordAlert, []byte{level, byte(a)}, c.cfg.rand())
	if err == nil {
		_, err = c.conn.Write(buf)
	}
	if err != nil || level == 2 {
		c.out.err = errors.New("tlspsk: connection failed (alert " + a.String() + ")")
		if err != nil {
			c.out.err = err
		}
	}
}

// Read reads application data, running the handshake first if needed. It returns io.EOF
// after the peer's close_notify.
func (c *Conn) Read(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	if len(b) == 0 {
		return 0, nil
	}
	c.in.Lock()
	defer c.in.Unlock()
	for len(c.in.plain) == 0 {
		if c.in.err != nil {
			return 0, c.in.err
		}
		typ, data, err := c.readRecord()
		if err == nil {
			err = c.afterHandshake(typ, data)
		}
		if err != nil {
			c.in.err = err
			return 0, c.fail(err)
		}
	}
	n := copy(b, c.in.plain)
	c.in.plain = c.in.plain[n:]
	return n, nil
}

// afterHandshake handles a record received once the handshake is over. Under in's lock.
func (c *Conn) afterHandshake(typ byte, data []byte) error {
	switch typ {
	case recordApplicationData:
		c.in.plain = data
		return nil
	case recordAlert:
		return c.alertReceived(data)
	case recordHandshake:
		// A HelloRequest (to a client) or ClientHello (to a server) asks to renegotiate.
		switch {
		case len(data) > 0 && c.isClient && data[0] == typeHelloRequest:
			c.sendAlert(AlertNoRenegotiation) // a warning: the connection goes on
			return nil
		case len(data) > 0 && !c.isClient && data[0] == typeClientHello:
			// The client would wait for a ServerHello that will not come: end here.
			return local(AlertNoRenegotiation, "the client asked to renegotiate")
		}
		return local(AlertUnexpectedMessage, "handshake message after the handshake")
	}
	return local(AlertUnexpectedMessage, "change_cipher_spec after the handshake")
}

// alertReceived handles an alert record: io.EOF for close_notify, nil for other warnings,
// an AlertError for fatal alerts.
func (c *Conn) alertReceived(data []byte) error {
	if len(data) != 2 {
		return local(AlertDecodeError, "alert record of "+itoa(len(data))+" bytes")
	}
	a := Alert(data[1])
	switch {
	case a == AlertCloseNotify:
		return io.EOF
	case data[0] == 1:
		return nil
	}
	return &AlertError{Alert: a}
}

// Write writes application data in records of at most 16 KiB, running the handshake first if
// needed.
func (c *Conn) Write(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	c.out.Lock()
	defer c.out.Unlock()
	if c.out.err != nil {
		return 0, c.out.err
	}
	written := 0
	for len(b) > 0 {
		// Up to 4 records per socket write.
		buf := c.out.buf[:0]
		var err error
		chunk := 0
		for i := 0; i < 4 && len(b) > chunk; i++ {
			n := min(len(b)-chunk, maxPlaintext)
			if buf, err = c.out.hc.seal(buf, recordApplicationData, b[chunk:chunk+n], c.cfg.rand()); err != nil {
				c.out.err = err
				return written, err
			}
			chunk += n
		}
		c.out.buf = buf[:0]
		if cap(buf) > recordHeaderLen+maxCiphertext {
			c.out.buf = nil // a large write: do not keep its buffer on an idle connection
		}
		if _, err := c.conn.Write(buf); err != nil {
			c.out.err = err
			return written, err
		}
		written += chunk
		b = b[chunk:]
	}
	return written, nil
}

// closeNotifyTimeout bounds the write of close_notify in Close.
const closeNotifyTimeout = 5 * time.Second

// Close sends close_notify (after a completed handshake, unless a write is in progress) and
// closes the underlying connection. Safe from any goroutine; later calls return
// net.ErrClosed.
func (c *Conn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return net.ErrClosed
	}
	if c.hsDone.Load() && c.out.TryLock() {
		if c.out.err == nil {
			_ = c.conn.SetWriteDeadline(time.Now().Add(closeNotifyTimeout))
			if buf, err := c.out.hc.seal(c.out.buf[:0], recordAlert, []byte{1, byte(AlertCloseNotify)}, c.cfg.rand()); err == nil {
				_, _ = c.conn.Write(buf)
			}
			c.out.err = net.ErrClosed
		}
		c.out.Unlock()
	}
	return c.conn.Close()
}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.conn }

// LocalAddr returns the underlying connection's local address.
func (c *Conn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// RemoteAddr returns the underlying connection's remote address.
func (c *Conn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// SetDeadline sets the underlying connection's read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// SetReadDeadline sets the underlying connection's read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the underlying connection's write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

// readRecord reads one record and removes its protection. The data it returns stays valid
// until the next readRecord. Under in's lock.
func (c *Conn) readRecord() (typ byte, data []byte, err error) {
	if err := c.fill(recordHeaderLen); err != nil {
		return 0, nil, err
	}
	h := c.in.raw[c.in.rs : c.in.rs+recordHeaderLen]
	typ = h[0]
	n := int(h[3])<<8 | int(h[4])
	if h[1] != 3 {
		return 0, nil, local(AlertProtocolVersion, "not a TLS record (version bytes "+itoa(int(h[1]))+"."+itoa(int(h[2]))+")")
	}
	limit := maxPlaintext
	if c.in.hc.protected() {
		limit = maxCiphertext
	}
	if n > limit {
		return 0, nil, local(AlertRecordOverflow, "record of "+itoa(n)+" bytes")
	}
	if err := c.fill(recordHeaderLen + n); err != nil {
		return 0, nil, err
	}
	frag := c.in.raw[c.in.rs+recordHeaderLen : c.in.rs+recordHeaderLen+n]
	c.in.rs += recordHeaderLen + n
	if typ < recordChangeCipherSpec || typ > recordApplicationData {
		return 0, nil, local(AlertUnexpectedMessage, "record of unknown type "+itoa(int(typ)))
	}
	data, ok := c.in.hc.open(typ, frag)
	if !ok {
		return 0, nil, local(AlertBadRecordMAC, "a record does not authenticate")
	}
	if len(data) > maxPlaintext {
		return 0, nil, local(AlertRecordOverflow, "record plaintext of "+itoa(len(data))+" bytes")
	}
	return typ, data, nil
}

// fill reads until at least n unparsed bytes are buffered. An end of input between records
// is io.EOF, inside one io.ErrUnexpectedEOF.
func (c *Conn) fill(n int) error {
	in := &c.in
	if in.re-in.rs >= n {
		return nil
	}
	if in.raw == nil {
		in.raw = make([]byte, recordHeaderLen+maxCiphertext)
	}
	if in.rs+n > len(in.raw) {
		in.re = copy(in.raw, in.raw[in.rs:in.re])
		in.rs = 0
	}
	for in.re-in.rs < n {
		m, err := c.conn.Read(in.raw[in.re:])
		in.re += m
		if in.re-in.rs >= n {
			return nil
		}
		if err != nil {
			if err == io.EOF && in.re != in.rs {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }
