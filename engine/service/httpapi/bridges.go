package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Bridge is one MQTT bridge's state and counters (emqx_bridge_mqtt), as GET /api/v4/bridges
// shows it.
type Bridge struct {
	Name   string `json:"name"`
	Status string `json:"status"` // connected, connecting or stopped
	// Queued and QueuedBytes are the messages waiting for the remote (sent and not yet
	// acknowledged included); OldestAge is the age in seconds of the oldest of them.
	Queued      int     `json:"queued"`
	QueuedBytes int64   `json:"queued_bytes"`
	OldestAge   float64 `json:"oldest_age_seconds"`
	Sent        uint64  `json:"sent"`
	Received    uint64  `json:"received"`
	Dropped     uint64  `json:"dropped"`
	Reconnects  uint64  `json:"reconnects"`
}

// BridgeSource lists the node's MQTT bridges (nil or empty: none loaded). Called from the
// server's goroutines: implementations are safe for concurrent use.
type BridgeSource interface {
	Bridges() []Bridge
}

func (s *Server) bridgeRoutes(api *http.ServeMux) {
	api.HandleFunc("GET /api/v4/bridges", s.bridgesAll)
	api.HandleFunc("GET /api/v4/nodes/{node}/bridges", s.nodeBridges)
}

func (s *Server) bridgeList() []Bridge {
	out := []Bridge{}
	if s.opts.Bridges != nil {
		out = append(out, s.opts.Bridges.Bridges()...)
	}
	return out
}

// GET /api/v4/bridges: [{"node", "bridges": [...]}] (beyond EMQX 4's API).
func (s *Server) bridgesAll(w http.ResponseWriter, r *http.Request) {
	writeData(w, s.perNode("bridges", s.bridgeList()))
}

// GET /api/v4/nodes/{node}/bridges: [...].
func (s *Server) nodeBridges(w http.ResponseWriter, r *http.Request) {
	if s.thisNode(w, r) {
		writeData(w, s.bridgeList())
	}
}

// writeBridgeMetrics writes each bridge's backlog and counters for /metrics, one family per
// metric (its TYPE line once) with a sample per bridge labelled with the bridge's name.
func writeBridgeMetrics(w io.Writer, src BridgeSource) {
	if src == nil {
		return
	}
	list := src.Bridges()
	if len(list) == 0 {
		return
	}
	family := func(name, kind string, value func(b *Bridge) string) {
		fmt.Fprintf(w, "# TYPE %s %s\n", name, kind)
		for i := range list {
			fmt.Fprintf(w, "%s{bridge=%s} %s\n", name, promLabel(list[i].Name), value(&list[i]))
		}
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	family("emqx_bridge_connected", "gauge", func(b *Bridge) string {
		if b.Status == "connected" {
			return "1"
		}
		return "0"
	})
	family("emqx_bridge_queued_messages", "gauge", func(b *Bridge) string { return strconv.Itoa(b.Queued) })
	family("emqx_bridge_queued_bytes", "gauge", func(b *Bridge) string { return strconv.FormatInt(b.QueuedBytes, 10) })
	family("emqx_bridge_oldest_age_seconds", "gauge", func(b *Bridge) string { return strconv.FormatFloat(b.OldestAge, 'f', 3, 64) })
	family("emqx_bridge_sent_total", "counter", func(b *Bridge) string { return u(b.Sent) })
	family("emqx_bridge_received_total", "counter", func(b *Bridge) string { return u(b.Received) })
	family("emqx_bridge_dropped_total", "counter", func(b *Bridge) string { return u(b.Dropped) })
	family("emqx_bridge_reconnects_total", "counter", func(b *Bridge) string { return u(b.Reconnects) })
}
