package main

import (
	"bufio"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Our broker's loop lag (emqx_loop_lag_seconds on /metrics: how long an event loop took to
// pick up a task handed to it, sampled every tenth of the sweep interval) over one window of
// a storm row: the histogram is read before and after, and the difference summarised.

// lagHist is one reading of emqx_loop_lag_seconds: cumulative counts per upper bound
// (seconds; +Inf last), the sum in seconds and the count.
type lagHist struct {
	le    []float64
	cum   []uint64
	sum   float64
	count uint64
}

// LoopLag summarises the loop lag over a window: mean and p99 in µs (p99 is the upper bound
// of the bucket holding it, so coarse: 1, 2.5, 5, 10, 25 ms...) and the samples.
type LoopLag struct {
	MeanUS  float64 `json:"mean_us"`
	P99US   float64 `json:"p99_us"`
	Samples uint64  `json:"samples"`
}

// readLoopLag reads the histogram from the broker's /metrics at apiAddr (host:port).
func readLoopLag(apiAddr string) (*lagHist, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + apiAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	h := &lagHist{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	const name = "emqx_loop_lag_seconds"
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		key, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(key, name+`_bucket{le="`):
			le := strings.TrimSuffix(strings.TrimPrefix(key, name+`_bucket{le="`), `"}`)
			bound := math.Inf(1)
			if le != "+Inf" {
				if bound, err = strconv.ParseFloat(le, 64); err != nil {
					return nil, fmt.Errorf("/metrics: bucket %q: %w", le, err)
				}
			}
			n, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("/metrics: %q: %w", line, err)
			}
			h.le, h.cum = append(h.le, bound), append(h.cum, n)
		case key == name+"_sum":
			h.sum, _ = strconv.ParseFloat(val, 64)
		case key == name+"_count":
			h.count, _ = strconv.ParseUint(val, 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(h.le) == 0 {
		return nil, fmt.Errorf("/metrics has no %s", name)
	}
	return h, nil
}

// lagBetween summarises what after observed since before (nil when either is missing).
func lagBetween(before, after *lagHist) *LoopLag {
	if before == nil || after == nil || len(before.cum) != len(after.cum) || after.count <= before.count {
		return nil
	}
	n := after.count - before.count
	out := &LoopLag{Samples: n, MeanUS: (after.sum - before.sum) / float64(n) * 1e6}
	want := uint64(math.Ceil(0.99 * float64(n)))
	for i := range after.cum {
		if after.cum[i]-before.cum[i] >= want {
			le := after.le[i]
			if math.IsInf(le, 1) && i > 0 {
				le = after.le[i-1] // beyond the last bound: reported as that bound
			}
			out.P99US = le * 1e6
			break
		}
	}
	return out
}

// StormLag is the loop lag of a storm row's three windows.
type StormLag struct {
	Idle  *LoopLag `json:"idle,omitempty"`
	Storm *LoopLag `json:"storm,omitempty"`
	Disc  *LoopLag `json:"disconnects,omitempty"`
}

// lagWatch reads the loop lag of the broker whose API is at apiAddr ("" for a peer: nothing
// is read) at the start and end of a window.
type lagWatch struct {
	apiAddr string
	before  *lagHist
}

func (w *lagWatch) start() {
	if w.apiAddr != "" {
		w.before, _ = readLoopLag(w.apiAddr)
	}
}

// stop returns the window's loop lag, nil when it could not be read.
func (w *lagWatch) stop() *LoopLag {
	if w.apiAddr == "" || w.before == nil {
		return nil
	}
	after, _ := readLoopLag(w.apiAddr)
	return lagBetween(w.before, after)
}
