package httpapi

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/VictoriaMetrics/metrics"

	"github.com/emqgo/emqgo/engine"
)

func init() {
	// HELP/TYPE lines, so that a scraper knows counters from gauges.
	metrics.ExposeMetadata(true)
}

var scrapeBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// prometheus serves GET /metrics in the Prometheus text format: every counter of
// Node.Metrics as emqx_<name>_total (those marked Gauge as emqx_<name>), every gauge of Node.Stats as emqx_<name>
// (emqx_connections_count...), and the Go runtime and process metrics. Everything is read
// from the node at scrape time.
func (s *Server) prometheus(w http.ResponseWriter, r *http.Request) {
	b := scrapeBuffers.Get().(*bytes.Buffer)
	defer scrapeBuffers.Put(b)
	b.Reset()
	writePrometheus(b, s.node)
	writeBridgeMetrics(b, s.opts.Bridges)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write(b.Bytes())
}

// writePrometheus writes node's counters and gauges and the process metrics to w.
func writePrometheus(w io.Writer, node *engine.Node) {
	for _, m := range node.Metrics() {
		if m.Gauge {
			metrics.WriteGaugeUint64(w, promName(m.Name), m.Value)
			continue
		}
		metrics.WriteCounterUint64(w, promName(m.Name)+"_total", m.Value)
	}
	for _, g := range statsList(node.Stats()) {
		metrics.WriteGaugeUint64(w, promName(g.name), uint64(max(g.value, 0)))
	}
	metrics.WriteGaugeFloat64(w, "emqx_uptime_seconds", node.Uptime().Seconds())
	writeListenerGauges(w, node)
	writeHistograms(w, node)
	metrics.WriteProcessMetrics(w)
}

// promName turns an EMQX metric name into a Prometheus one: "messages.qos0.received" is
// "emqx_messages_qos0_received". Any character outside [a-zA-Z0-9_] becomes '_'.
func promName(name string) string {
	var b strings.Builder
	b.Grow(len("emqx_") + len(name))
	b.WriteString("emqx_")
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
