package gcpace

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestWanted(t *testing.T) {
	const mb = 1 << 20
	cases := []struct {
		name  string
		rate  float64
		live  uint64
		extra uint64
		want  int64
	}{
		{"quiet node", 1 * mb, 20 * mb, 64 * mb, 100},
		{"no live heap yet", 500 * mb, 0, 64 * mb, 100},
		{"busy small heap", 240 * mb, 20 * mb, 64 * mb, 300},            // 60 MB between collections
		{"capped by max extra", 2000 * mb, 20 * mb, 64 * mb, 420},       // 20 + 64 MB at most
		{"large heap left alone", 240 * mb, 4096 * mb, 64 * mb, 100},    // already collects rarely
		{"just above the default", 100 * mb, 20 * mb, 64 * mb, 125},     // 25 MB
		{"small cap", 2000 * mb, 20 * mb, 4 * mb, 120},                  // 24 MB
		{"tiny heap, busy", 400 * mb, 2 * mb, 64 * mb, (66 * 100) / 2},  // 66 MB over 2 MB
		{"rate exactly at default", 4 * 20 * mb, 20 * mb, 64 * mb, 100}, // 20 MB = the default's headroom
	}
	for _, c := range cases {
		if got := wanted(c.rate, c.live, 4, c.extra); got != c.want {
			t.Errorf("%s: wanted(%v MB/s, live %v MB, extra %v MB) = %d, want %d", c.name, c.rate/mb, c.live/mb, c.extra/mb, got, c.want)
		}
	}
}

var sink [][]byte

// TestPacerRaisesAndRestores allocates fast with a small live heap: the pacer raises GOGC
// (fewer collections than at the default over the same allocation), then goes back to the
// default once the allocation stops, and Stop leaves the default in force.
func TestPacerRaisesAndRestores(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	p := newPacer(Options{Check: 20 * time.Millisecond, MaxRate: 4})
	go p.run()
	defer p.Stop()

	churn := func(d time.Duration) {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			for i := 0; i < 64; i++ {
				sink = append(sink, make([]byte, 64<<10))
			}
			sink = sink[:0] // garbage: the live heap stays small
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for p.Percent() <= baseGOGC && time.Now().Before(deadline) {
		churn(50 * time.Millisecond)
	}
	if p.Percent() <= baseGOGC {
		t.Fatalf("GOGC still %d after 10 s of fast allocation with a small live heap", p.Percent())
	}
	raised := p.Percent()
	if cur := debug.SetGCPercent(raised); cur != raised {
		t.Fatalf("the runtime's GOGC is %d, the pacer says %d", cur, raised)
	}

	// Fewer collections per byte allocated than at GOGC=100.
	perGB := func() float64 {
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		churn(300 * time.Millisecond)
		runtime.ReadMemStats(&b)
		return float64(b.NumGC-a.NumGC) / (float64(b.TotalAlloc-a.TotalAlloc) / (1 << 30))
	}
	paced := perGB()
	t.Logf("GOGC raised to %d: %.1f collections per GB allocated", raised, paced)

	// Quiet: back to the default within a few checks.
	deadline = time.Now().Add(5 * time.Second)
	for p.Percent() != baseGOGC && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if p.Percent() != baseGOGC {
		t.Fatalf("GOGC still %d after 5 s without allocation", p.Percent())
	}
	p.Stop()
	if cur := debug.SetGCPercent(100); cur != baseGOGC {
		t.Fatalf("after Stop the runtime's GOGC is %d, want %d", cur, baseGOGC)
	}
	unpaced := perGB()
	t.Logf("GOGC=100: %.1f collections per GB allocated", unpaced)
	if paced >= unpaced {
		t.Fatalf("paced: %.1f collections per GB, unpaced %.1f: pacing did not reduce them", paced, unpaced)
	}
}
