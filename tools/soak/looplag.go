package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The broker's event-loop lag, read from its /metrics histogram emqx_loop_lag_seconds: how
// long a loop took to pick up the sweep task handed to it every 100 ms (the time it was busy
// with other work, waited for a CPU or for the collector). The histogram restarts with each
// broker process; the soak adds up the increments of every process.

const lagFamily = "emqx_loop_lag_seconds"

// lagScrape is one reading of the histogram: cumulative counts per upper bound (seconds, the
// last one +Inf) and the largest lag the process has seen.
type lagScrape struct {
	bounds []float64
	cum    []uint64
	max    float64
}

func (s *lagScrape) count() uint64 {
	if len(s.cum) == 0 {
		return 0
	}
	return s.cum[len(s.cum)-1]
}

// scrapeLag reads the loop-lag histogram from the broker's /metrics; nil when it cannot.
func (b *broker) scrapeLag() *lagScrape {
	resp, err := apiClient.Get("http://127.0.0.1:" + strconv.Itoa(b.apiPort) + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil
	}
	s := &lagScrape{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, lagFamily+`_bucket{le="`); ok {
			le, val, ok := strings.Cut(rest, `"} `)
			if !ok {
				continue
			}
			bound := math.Inf(1)
			if le != "+Inf" {
				if bound, err = strconv.ParseFloat(le, 64); err != nil {
					continue
				}
			}
			c, err := strconv.ParseUint(strings.TrimSpace(val), 10, 64)
			if err != nil {
				continue
			}
			s.bounds, s.cum = append(s.bounds, bound), append(s.cum, c)
		} else if rest, ok := strings.CutPrefix(line, lagFamily+"_max "); ok {
			s.max, _ = strconv.ParseFloat(strings.TrimSpace(rest), 64)
		}
	}
	if len(s.cum) == 0 {
		return nil
	}
	return s
}

// lagCounts is a histogram of lags: counts per bucket (not cumulative) over bounds.
type lagCounts struct {
	bounds []float64 // seconds, the last +Inf
	counts []uint64
	max    float64 // the largest lag known exactly (the processes' _max), 0 when unknown
}

func (c *lagCounts) total() (n uint64) {
	for _, v := range c.counts {
		n += v
	}
	return n
}

// quantile returns the upper bound of the bucket holding the q-quantile (a lag at most this
// long), the exact max for the last bucket; 0 without samples.
func (c *lagCounts) quantile(q float64) time.Duration {
	n := c.total()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	var cum uint64
	for i, v := range c.counts {
		cum += v
		if cum >= rank && v > 0 {
			if c.max > 0 && (math.IsInf(c.bounds[i], 1) || c.max < c.bounds[i]) {
				return secs(c.max)
			}
			if math.IsInf(c.bounds[i], 1) && i > 0 {
				return secs(c.bounds[i-1]) // above the last bound, max unknown
			}
			return secs(c.bounds[i])
		}
	}
	return secs(c.max)
}

// above returns the share of samples longer than d, counting whole buckets: d is rounded up
// to the next bucket bound (roundUp).
func (c *lagCounts) above(d time.Duration) float64 {
	n := c.total()
	if n == 0 {
		return 0
	}
	r := c.roundUp(d).Seconds()
	var over uint64
	for i, v := range c.counts {
		if i > 0 && c.bounds[i-1] >= r {
			over += v
		}
	}
	return float64(over) / float64(n)
}

// top returns the window's largest lag: exact when a process's max rose in it, else the
// upper bound of its highest non-empty bucket; 0 without samples.
func (c *lagCounts) top() time.Duration {
	if c.max > 0 {
		return secs(c.max)
	}
	for i := len(c.counts) - 1; i >= 0; i-- {
		if c.counts[i] > 0 {
			if math.IsInf(c.bounds[i], 1) && i > 0 {
				return secs(c.bounds[i-1])
			}
			return secs(c.bounds[i])
		}
	}
	return 0
}

// roundUp returns the first bucket bound at or above d (d itself without buckets).
func (c *lagCounts) roundUp(d time.Duration) time.Duration {
	for _, b := range c.bounds {
		if b >= d.Seconds() && !math.IsInf(b, 1) {
			return secs(b)
		}
	}
	return d
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// lagTracker adds up the lag samples of every broker process: each reading's increment over
// the previous one (a reading below the previous one is a new process: all of it counts).
type lagTracker struct {
	mu    sync.Mutex
	prev  *lagScrape
	all   lagCounts
	since lagCounts // the increments since the timeline last took them
}

// add takes a new reading (nil: the broker did not answer).
func (t *lagTracker) add(s *lagScrape) {
	if s == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.all.bounds == nil {
		t.all = lagCounts{bounds: s.bounds, counts: make([]uint64, len(s.bounds))}
	}
	if len(s.bounds) != len(t.all.bounds) {
		return // not the histogram the tracker started with
	}
	fresh := t.prev == nil || s.count() < t.prev.count()
	if t.since.bounds == nil {
		t.since = lagCounts{bounds: s.bounds, counts: make([]uint64, len(s.bounds))}
	}
	for i := range s.cum {
		d := s.cum[i]
		if i > 0 {
			d -= s.cum[i-1]
		}
		if !fresh {
			p := t.prev.cum[i]
			if i > 0 {
				p -= t.prev.cum[i-1]
			}
			if d < p { // a bucket went down: a new process after all
				fresh = true
			} else {
				d -= p
			}
		}
		t.all.counts[i] += d
		t.since.counts[i] += d
	}
	if fresh || s.max > t.prev.max { // the window saw a new largest lag: exact
		t.since.max = max(t.since.max, s.max)
	}
	t.all.max = max(t.all.max, s.max)
	t.prev = s
}

// window returns the lags since the last call and starts a new window.
func (t *lagTracker) window() lagCounts {
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.since
	t.since = lagCounts{bounds: w.bounds, counts: make([]uint64, len(w.bounds))}
	return w
}

// total returns every lag sample seen.
func (t *lagTracker) total() lagCounts {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.all
	c.counts = append([]uint64(nil), c.counts...)
	return c
}

// String prints the samples' percentiles.
func (c lagCounts) String() string {
	if c.total() == 0 {
		return "no samples"
	}
	return fmt.Sprintf("%d samples: p50 ≤ %v, p99 ≤ %v, p99.9 ≤ %v, max %v",
		c.total(), c.quantile(0.5).Round(time.Microsecond), c.quantile(0.99).Round(time.Microsecond), c.quantile(0.999).Round(time.Microsecond), secs(c.max).Round(time.Microsecond))
}

// loadAverage returns the machine's load average over one minute (/proc/loadavg), -1 when
// unknown.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}
