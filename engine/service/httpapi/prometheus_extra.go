package httpapi

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/emqgo/emqgo/engine"
)

// The families of /metrics that carry labels or buckets, written in the Prometheus text format
// directly: the per-listener connection gauges and the latency histograms.

// writeListenerGauges writes emqx_listener_connections{listener="tcp:external"}, one sample per
// listener, and emqx_listener_running (1 while accepting).
func writeListenerGauges(w io.Writer, node *engine.Node) {
	ls := node.Listeners()
	if len(ls) == 0 {
		return
	}
	fmt.Fprintf(w, "# HELP emqx_listener_connections Connections open on the listener, whatever their state.\n# TYPE emqx_listener_connections gauge\n")
	for _, l := range ls {
		fmt.Fprintf(w, "emqx_listener_connections{listener=%s} %d\n", promLabel(l.ID()), l.Connections)
	}
	fmt.Fprintf(w, "# HELP emqx_listener_running 1 while the listener accepts connections, 0 once stopped.\n# TYPE emqx_listener_running gauge\n")
	for _, l := range ls {
		running := 0
		if l.Running {
			running = 1
		}
		fmt.Fprintf(w, "emqx_listener_running{listener=%s} %d\n", promLabel(l.ID()), running)
	}
}

// writeHistograms writes the node's latency histograms with cumulative le buckets in seconds,
// and <name>_max gauges for those that track their largest observation (the loop lag).
func writeHistograms(w io.Writer, node *engine.Node) {
	for _, h := range node.Histograms() {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", h.Name, h.Help, h.Name)
		var cum uint64
		for i, c := range h.Counts {
			cum += c
			le := "+Inf"
			if i < len(h.Bounds) {
				le = strconv.FormatFloat(h.Bounds[i].Seconds(), 'g', -1, 64)
			}
			fmt.Fprintf(w, "%s_bucket{le=\"%s\"} %d\n", h.Name, le, cum)
		}
		fmt.Fprintf(w, "%s_sum %s\n%s_count %d\n", h.Name, strconv.FormatFloat(h.Sum.Seconds(), 'g', -1, 64), h.Name, h.Count)
		if h.Max > 0 {
			fmt.Fprintf(w, "# HELP %s_max The largest observation of %s since the node started.\n# TYPE %s_max gauge\n%s_max %s\n",
				h.Name, h.Name, h.Name, h.Name, strconv.FormatFloat(h.Max.Seconds(), 'g', -1, 64))
		}
	}
}

// promLabel quotes a label value for the text format.
func promLabel(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v) + `"`
}
