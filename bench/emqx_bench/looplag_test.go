package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// lagServer serves /metrics with the loop-lag histogram of counts (per bucket, not
// cumulative, bounds 1 ms, 5 ms, +Inf) and sum seconds.
func lagServer(t *testing.T, counts *[3]uint64, sum *float64) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var cum uint64
		fmt.Fprintln(w, "# TYPE emqx_loop_lag_seconds histogram")
		for i, le := range []string{"0.001", "0.005", "+Inf"} {
			cum += counts[i]
			fmt.Fprintf(w, "emqx_loop_lag_seconds_bucket{le=%q} %d\n", le, cum)
		}
		fmt.Fprintf(w, "emqx_loop_lag_seconds_sum %g\nemqx_loop_lag_seconds_count %d\nemqx_loop_lag_seconds_max 0.2\n", *sum, cum)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestLoopLagWindow(t *testing.T) {
	counts, sum := [3]uint64{50, 0, 0}, 0.01
	w := lagWatch{apiAddr: lagServer(t, &counts, &sum)}
	w.start()
	// The window: 98 samples under 1 ms, 2 between 1 and 5 ms, 0.06 s in all.
	counts, sum = [3]uint64{148, 2, 0}, 0.07
	l := w.stop()
	if l == nil || l.Samples != 100 || l.P99US != 5000 || l.MeanUS < 599 || l.MeanUS > 601 {
		t.Fatalf("window: %+v; want 100 samples, p99 in the 5 ms bucket, mean 600 µs", l)
	}
	// Beyond the last bound: reported as that bound, never +Inf (JSON has no infinity).
	w.start()
	counts[2] += 10
	if l := w.stop(); l == nil || l.P99US != 5000 {
		t.Fatalf("window past the last bound: %+v", l)
	}
	// A peer (no API) and a window without samples have no figure.
	if l := (&lagWatch{}).stop(); l != nil {
		t.Fatalf("peer: %+v", l)
	}
	w.start()
	if l := w.stop(); l != nil {
		t.Fatalf("no samples: %+v", l)
	}
}

func TestSteadyRate(t *testing.T) {
	r := &Result{RecvRate: 500, Series: []Sample{{RecvRate: 10}, {RecvRate: 900}, {RecvRate: 1000}, {RecvRate: 1100}}}
	if got := steadyRate(r); got != 1000 {
		t.Fatalf("steady rate %v, want 1000 (the first second left out, median of the rest)", got)
	}
	if got := steadyRate(&Result{RecvRate: 500, Series: []Sample{{RecvRate: 10}, {RecvRate: 900}}}); got != 500 {
		t.Fatalf("short run: %v, want its mean rate", got)
	}
	if got := medianRate([]*Result{{RecvRate: 1}, {RecvRate: 4}, {RecvRate: 2}, {RecvRate: 3}}); got != 2.5 {
		t.Fatalf("median of four: %v", got)
	}
}
