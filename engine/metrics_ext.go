package engine

import (
	"slices"
	"sync/atomic"
)

// MetricsSource returns counters kept outside the engine (a plugin's allow/deny/ignore and
// backend counters) under their names. It is called by Metrics, from any goroutine, never on
// an event loop; it must not call back into the Node.
type MetricsSource func() []Metric

// extMetrics holds the sources added by AddMetrics; readers take no lock.
type extMetrics struct {
	srcs atomic.Pointer[[]MetricsSource]
}

// AddMetrics adds src's counters after the node's own in Metrics (and so in `emqx_ctl
// metrics`, the HTTP API, $SYS and /metrics). Safe from any goroutine; a source stays for the
// node's lifetime.
func (n *Node) AddMetrics(src MetricsSource) {
	for {
		old := n.ext.srcs.Load()
		var next []MetricsSource
		if old != nil {
			next = slices.Clone(*old)
		}
		next = append(next, src)
		if n.ext.srcs.CompareAndSwap(old, &next) {
			return
		}
	}
}

// appendTo appends the sources' counters to ms.
func (e *extMetrics) appendTo(ms []Metric) []Metric {
	if p := e.srcs.Load(); p != nil {
		for _, src := range *p {
			ms = append(ms, src()...)
		}
	}
	return ms
}
