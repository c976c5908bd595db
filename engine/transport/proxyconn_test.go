package transport

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// ReadProxyHeader hands the bytes after the header to the next reads, names the client, and
// refuses a missing header or one that does not arrive in time.
func TestReadProxyHeader(t *testing.T) {
	a, b := net.Pipe()
	go func() { _, _ = b.Write([]byte("PROXY TCP4 203.0.113.7 10.0.0.1 5555 8883\r\nhello")) }()
	pc, h, err := ReadProxyHeader(a, time.Now().Add(5*time.Second))
	if err != nil || !h.Proxied {
		t.Fatalf("header: %+v, %v", h, err)
	}
	if got := pc.RemoteAddr().String(); got != "203.0.113.7:5555" {
		t.Fatalf("RemoteAddr %s", got)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(pc, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("after the header: %q, %v", buf, err)
	}
	a.Close()
	b.Close()

	a, b = net.Pipe()
	go func() { _, _ = b.Write([]byte("\x16\x03\x01\x00\xa5")) }() // a TLS ClientHello
	if _, _, err := ReadProxyHeader(a, time.Now().Add(5*time.Second)); !errors.Is(err, ErrProxyMissing) {
		t.Fatalf("ClientHello first: %v, want ErrProxyMissing", err)
	}
	a.Close()
	b.Close()

	a, b = net.Pipe()
	defer b.Close()
	go func() { _, _ = b.Write([]byte("PROXY TCP4 ")) }()
	if _, _, err := ReadProxyHeader(a, time.Now().Add(100*time.Millisecond)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("incomplete header: %v, want a deadline error", err)
	}
}
