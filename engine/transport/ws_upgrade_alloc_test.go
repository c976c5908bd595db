package transport

import (
	"strings"
	"testing"
)

// An upgrade allocates nothing of its own (the upgrader is pooled with its callbacks bound):
// a storm of WebSocket connections leaves no more garbage per connection than TCP's, which
// would otherwise raise the heap and the RSS that idle connections are measured by. What
// remains is gobwas's Sec-WebSocket-Accept value.
func TestWebSocketUpgradeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are exact only without -race")
	}
	o := &WebSocketOptions{Path: "/mqtt", VerifyProtocol: true, CheckOrigin: true, AllowOriginAbsence: true}
	fc := &fakeConn{}
	w := &WebSocket{}
	fc.out.Grow(1024)
	req := []byte(testUpgrade)
	allocs := testing.AllocsPerRun(200, func() {
		*w = WebSocket{}
		w.Init(fc, o)
		fc.in = req
		fc.out.Reset()
		if up, err := w.Feed(); !up || err != nil {
			t.Fatalf("upgrade: %v %v", up, err)
		}
	})
	if !strings.HasPrefix(fc.out.String(), "HTTP/1.1 101 ") {
		t.Fatalf("response %q", fc.out.String())
	}
	if allocs > 1 {
		t.Errorf("an upgrade allocates %.0f times, want at most 1 (gobwas's accept key)", allocs)
	}
}
