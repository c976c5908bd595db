package httpapi

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestPhaseTimeouts: a client that stops in the middle of its request headers, one that stops
// in the middle of its body, and an idle kept-alive connection are each closed by the server
// once the phase's timeout passes, so none holds a connection (and a max_clients slot) for
// ever. The bounds below only say "closed, not kept": each is ten times the timeout.
func TestPhaseTimeouts(t *testing.T) {
	const d = 200 * time.Millisecond
	e := start(t, func(o *Options) { o.ReadHeaderTimeout, o.ReadTimeout, o.IdleTimeout = d, 2*d, d })
	addr := strings.TrimPrefix(e.base, "http://")
	closedWithin := func(what string, c net.Conn, r *bufio.Reader) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(10 * d))
		for {
			if _, err := r.ReadByte(); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("%s: the connection is still open after %v", what, 10*d)
				}
				if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
					t.Fatalf("%s: %v", what, err)
				}
				return
			}
		}
	}
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}

	// Headers never finished.
	c, r := dial()
	if _, err := io.WriteString(c, "GET /api/v4/brokers HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	closedWithin("unfinished headers", c, r)

	// A body shorter than its Content-Length.
	c, r = dial()
	if _, err := io.WriteString(c, "POST /api/v4/mqtt/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46cHVibGlj\r\n"+
		"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"topic\":"); err != nil {
		t.Fatal(err)
	}
	closedWithin("unfinished body", c, r)

	// A kept-alive connection after a whole request and its answer.
	c, r = dial()
	if _, err := io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	closedWithin("idle kept-alive connection", c, r)
}
