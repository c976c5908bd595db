package main

import (
	"context"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// probe measures PINGREQ→PINGRESP round trips every 20 ms on a connection of its own: a PINGREQ
// is answered by the event loop that owns the connection, so the round trip is that loop's
// responsiveness as a client sees it (loop lag plus the loopback and the probe's own
// scheduling). Samples are kept only while the broker is up.
type probe struct {
	mu      sync.Mutex
	samples []time.Duration // every sample
	window  []time.Duration // samples since the timeline last took them
}

func (p *probe) run(ctx context.Context, addr string) {
	for ctx.Err() == nil {
		m, _, err := dial(addr, &codec.Connect{Version: codec.V311, CleanStart: true, KeepAlive: 30, ClientID: []byte("soak-probe")})
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for ctx.Err() == nil {
			start := time.Now()
			if m.write([]byte{0xc0, 0x00}) != nil {
				break
			}
			_ = m.c.SetReadDeadline(time.Now().Add(5 * time.Second))
			h, _, err := m.read()
			if err != nil || h.Type != codec.TypePingresp {
				break
			}
			d := time.Since(start)
			p.mu.Lock()
			p.samples = append(p.samples, d)
			p.window = append(p.window, d)
			p.mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
		m.close()
	}
}

type rttStats struct {
	n                   int
	p50, p99, p999, max time.Duration
}

func quantiles(s []time.Duration) rttStats {
	if len(s) == 0 {
		return rttStats{}
	}
	s = slices.Clone(s)
	slices.Sort(s)
	q := func(f float64) time.Duration { return s[min(int(f*float64(len(s))), len(s)-1)] }
	return rttStats{n: len(s), p50: q(0.5), p99: q(0.99), p999: q(0.999), max: s[len(s)-1]}
}

func (p *probe) percentiles() rttStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return quantiles(p.samples)
}

// takeWindow returns the p99 of the samples since the last call.
func (p *probe) takeWindow() time.Duration {
	p.mu.Lock()
	w := p.window
	p.window = nil
	p.mu.Unlock()
	return quantiles(w).p99
}

// timeline samples the broker every 5 s: RSS, goroutines, connections, message rate, probe
// p99, the loops' lag, and the machine's load average.
type timeline struct {
	start time.Time
	about string // the load profile, shown in the HTML report
	mu    sync.Mutex
	rows  []row
	marks []mark
}

type row struct {
	at                     time.Duration
	rss, goroutines, conns int64
	msgRate                float64
	probeP99               time.Duration
	lagP50, lagP99, lagMax time.Duration // the loops' lag in the window (looplag.go)
	lagSamples             uint64
	load1                  float64   // the machine's load average over 1 minute
	cpu                    cpuShares // broker and soak CPU (% of one core), machine idle (% of all) in the window
}

type mark struct {
	at   time.Duration
	what string
}

func (t *timeline) mark(what string) {
	t.mu.Lock()
	t.marks = append(t.marks, mark{time.Since(t.start), what})
	t.mu.Unlock()
}

func (t *timeline) sample(ctx context.Context, b *broker, p *probe, lags *lagTracker) {
	const every = 5 * time.Second
	lastMsgs, lastAt := int64(-1), time.Now()
	var cpu cpuSampler
	cpu.sample(b.pid())
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		g, conns := b.nodeFacts()
		msgs := b.messagesReceived()
		now := time.Now()
		rate := 0.0
		if msgs >= 0 && lastMsgs >= 0 && msgs >= lastMsgs {
			rate = float64(msgs-lastMsgs) / now.Sub(lastAt).Seconds()
		}
		lastMsgs, lastAt = msgs, now
		lags.add(b.scrapeLag())
		w := lags.window()
		r := row{at: now.Sub(t.start), rss: b.rss(), goroutines: g, conns: conns, msgRate: rate, probeP99: p.takeWindow(),
			lagP50: w.quantile(0.5), lagP99: w.quantile(0.99), lagMax: w.top(), lagSamples: w.total(), load1: loadAverage(), cpu: cpu.sample(b.pid())}
		t.mu.Lock()
		t.rows = append(t.rows, r)
		t.mu.Unlock()
	}
}

// write saves soak.csv and soak.html (inline SVG charts) in dir.
func (t *timeline) write(dir string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var csv strings.Builder
	csv.WriteString("seconds,rss_bytes,goroutines,connections,messages_per_s,probe_p99_ms,loop_lag_samples,loop_lag_p50_ms,loop_lag_p99_ms,loop_lag_max_ms,load1,broker_cpu_pct,soak_cpu_pct,machine_idle_pct,machine_idle_or_niced_pct\n")
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	for _, r := range t.rows {
		fmt.Fprintf(&csv, "%.0f,%d,%d,%d,%.0f,%.3f,%d,%.3f,%.3f,%.3f,%.2f,%.1f,%.1f,%.1f,%.1f\n", r.at.Seconds(), r.rss, r.goroutines, r.conns, r.msgRate, ms(r.probeP99),
			r.lagSamples, ms(r.lagP50), ms(r.lagP99), ms(r.lagMax), r.load1, r.cpu.broker, r.cpu.soak, r.cpu.idle, r.cpu.spare)
	}
	if err := os.WriteFile(filepath.Join(dir, "soak.csv"), []byte(csv.String()), 0o644); err != nil {
		return err
	}
	var h strings.Builder
	h.WriteString("<!doctype html><meta charset=utf-8><title>emqgo soak</title><style>body{font:14px sans-serif}svg{border:1px solid #ccc;margin:4px}</style><h1>emqgo soak timeline</h1>\n")
	fmt.Fprintf(&h, "<p>Load profile: %s.</p>\n", html.EscapeString(t.about))
	h.WriteString("<p>Red lines: kill -9 of the broker. Samples every 5 s. Loop lag: the broker's emqx_loop_lag_seconds histogram over each 5 s window (p99: the upper bound of its bucket).</p>\n")
	chart := func(title string, val func(row) float64) {
		const w, hgt = 900.0, 160.0
		maxV, maxT := 0.0, 1.0
		for _, r := range t.rows {
			maxV = max(maxV, val(r))
			maxT = max(maxT, r.at.Seconds())
		}
		if maxV == 0 {
			maxV = 1
		}
		fmt.Fprintf(&h, "<h3>%s (max %.1f)</h3><svg width=%.0f height=%.0f>", html.EscapeString(title), maxV, w, hgt)
		for _, m := range t.marks {
			x := m.at.Seconds() / maxT * w
			fmt.Fprintf(&h, "<line x1=%.1f x2=%.1f y1=0 y2=%.0f stroke=red />", x, x, hgt)
		}
		h.WriteString("<polyline fill=none stroke=steelblue stroke-width=1.5 points=\"")
		for _, r := range t.rows {
			fmt.Fprintf(&h, "%.1f,%.1f ", r.at.Seconds()/maxT*w, hgt-val(r)/maxV*(hgt-10))
		}
		h.WriteString("\"/></svg>\n")
	}
	chart("RSS (MB)", func(r row) float64 { return float64(r.rss) / 1e6 })
	chart("connections", func(r row) float64 { return float64(max(r.conns, 0)) })
	chart("messages received per second", func(r row) float64 { return r.msgRate })
	chart("event-loop lag p99 (ms)", func(r row) float64 { return ms(r.lagP99) })
	chart("event-loop lag max (ms)", func(r row) float64 { return ms(r.lagMax) })
	chart("probe round trip p99 (ms)", func(r row) float64 { return ms(r.probeP99) })
	chart("broker CPU (% of one core)", func(r row) float64 { return max(r.cpu.broker, 0) })
	chart("soak tool CPU (% of one core)", func(r row) float64 { return max(r.cpu.soak, 0) })
	chart("machine idle (% of all cores)", func(r row) float64 { return max(r.cpu.idle, 0) })
	chart("machine idle or running niced work (% of all cores)", func(r row) float64 { return max(r.cpu.spare, 0) })
	chart("load average (1 min)", func(r row) float64 { return r.load1 })
	chart("goroutines", func(r row) float64 { return float64(max(r.goroutines, 0)) })
	return os.WriteFile(filepath.Join(dir, "soak.html"), []byte(h.String()), 0o644)
}

// loadSummary returns the min, mean and max of the load average samples.
func (t *timeline) loadSummary() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lo, hi, sum, n := 0.0, 0.0, 0.0, 0
	for _, r := range t.rows {
		if r.load1 < 0 {
			continue
		}
		if n == 0 || r.load1 < lo {
			lo = r.load1
		}
		hi = max(hi, r.load1)
		sum += r.load1
		n++
	}
	if n == 0 {
		return "unknown"
	}
	return fmt.Sprintf("min %.1f, mean %.1f, max %.1f (2 cores)", lo, sum/float64(n), hi)
}

// cpuDuring summarises the CPU columns of the rows taken in [from, to] since the start.
func (t *timeline) cpuDuring(from, to time.Duration) (broker, soak, idle, spare cpuSummary) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range t.rows {
		if r.at < from || r.at > to {
			continue
		}
		broker.add(r.cpu.broker)
		soak.add(r.cpu.soak)
		idle.add(r.cpu.idle)
		spare.add(r.cpu.spare)
	}
	return broker, soak, idle, spare
}
