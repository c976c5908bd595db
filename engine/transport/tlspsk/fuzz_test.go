package tlspsk

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// fuzzConn is a net.Conn whose input is fixed and whose output is discarded.
type fuzzConn struct{ r *bytes.Reader }

func (c *fuzzConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c *fuzzConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c *fuzzConn) Close() error                     { return nil }
func (c *fuzzConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *fuzzConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *fuzzConn) SetDeadline(time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(time.Time) error { return nil }

// recordingConn records what a client writes and answers with fixed input.
type recordingConn struct {
	fuzzConn
	out bytes.Buffer
}

func (c *recordingConn) Write(b []byte) (int, error) { return c.out.Write(b) }

// clientFlight returns what our client writes before it waits for the server's Finished,
// when the server's first flight is serverFlight: ClientHello, then ClientKeyExchange,
// ChangeCipherSpec and Finished.
func clientFlight(serverFlight []byte) []byte {
	c := &recordingConn{fuzzConn: fuzzConn{r: bytes.NewReader(serverFlight)}}
	_ = Client(c, &Config{Identity: "client1", Key: []byte("1234")}).Handshake()
	return c.out.Bytes()
}

// FuzzServerHandshake feeds the server handshake arbitrary client input: it must end in an
// error or a handshake (then the rest is read as application data), never a panic or a hang.
func FuzzServerHandshake(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c := Server(&fuzzConn{r: bytes.NewReader(in)}, &Config{GetKey: keys(map[string]string{"client1": "1234"}), Rand: zeroReader{}})
		if err := c.Handshake(); err == nil {
			_, _ = io.ReadAll(c)
		}
	})
}

// The recorded client flight is a valid one: the fuzzer starts from a full handshake.
func TestFuzzSeedHandshakes(t *testing.T) {
	seed := fuzzSeeds()[1]
	c := Server(&fuzzConn{r: bytes.NewReader(seed)}, &Config{GetKey: keys(map[string]string{"client1": "1234"}), Rand: zeroReader{}})
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
}

func fuzzSeeds() [][]byte {
	hello := clientFlight(nil)
	// The flight our server sends with zero randoms: ServerHello (GCM, renegotiation_info,
	// EMS), ServerHelloDone; the client's answer to it is a complete, valid client flight.
	sh := appendU16(nil, version12)
	sh = append(sh, make([]byte, 32)...)
	sh = append(sh, 0)
	sh = appendU16(sh, TLS_PSK_WITH_AES_128_GCM_SHA256)
	sh = append(sh, 0)
	sh = appendVec16(sh, appendExtension(appendExtension(nil, extRenegotiationInfo, []byte{0}), extExtendedMasterSecret, nil))
	msgs := handshakeMessage(handshakeMessage(nil, typeServerHello, sh), typeServerHelloDone, nil)
	rec := append([]byte{recordHandshake, 3, 3, byte(len(msgs) >> 8), byte(len(msgs))}, msgs...)
	return [][]byte{hello, clientFlight(rec), hello[:len(hello)/2], {22, 3, 1, 0, 4, 1, 0, 0, 0}, {21, 3, 3, 0, 2, 2, 40}}
}

// zeroReader makes the server's randoms all zero so that a recorded client flight stays
// valid in the fuzz seeds.
type zeroReader struct{}

func (zeroReader) Read(b []byte) (int, error) { clear(b); return len(b), nil }
