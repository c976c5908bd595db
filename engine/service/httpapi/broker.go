package httpapi

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"syscall"
	"time"

	"github.com/emqgo/emqgo/engine"
)

// nodeStatus is what a node that answers says of itself (EMQX: Running or Stopped).
const nodeStatus = "Running"

// brokerInfo is one element of GET /api/v4/brokers (EMQX 4.x's shape). otp_release holds the
// Go version: there is no Erlang/OTP here, and tools reading the field only display it.
type brokerInfo struct {
	Datetime   string `json:"datetime"`
	Node       string `json:"node"`
	NodeStatus string `json:"node_status"`
	OTPRelease string `json:"otp_release"`
	Sysdescr   string `json:"sysdescr"`
	Uptime     string `json:"uptime"`
	Version    string `json:"version"`
}

func (s *Server) brokerInfo() brokerInfo {
	return brokerInfo{
		Datetime:   time.Now().Format(time.DateTime),
		Node:       s.node.Name(),
		NodeStatus: nodeStatus,
		OTPRelease: runtime.Version(),
		Sysdescr:   engine.SysDescr,
		Uptime:     humanUptime(s.node.Uptime()),
		Version:    engine.Version,
	}
}

// nodeInfoJSON is one element of GET /api/v4/nodes (EMQX 4.x's shape), from Go facts: memory from
// the runtime (total obtained from the OS, and in use by live objects), processes from
// goroutines, max_fds from RLIMIT_NOFILE, loads from /proc/loadavg.
type nodeInfoJSON struct {
	Connections int64  `json:"connections"`
	Load1       string `json:"load1"`
	Load5       string `json:"load5"`
	Load15      string `json:"load15"`
	MaxFDs      uint64 `json:"max_fds"`
	MemoryTotal string `json:"memory_total"`
	MemoryUsed  string `json:"memory_used"`
	Name        string `json:"name"`
	Node        string `json:"node"`
	NodeStatus  string `json:"node_status"`
	OTPRelease  string `json:"otp_release"`
	ProcessUsed int    `json:"process_used"`
	Uptime      string `json:"uptime"`
	Version     string `json:"version"`
}

func (s *Server) nodeInfoJSON() nodeInfoJSON {
	samples := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(samples)
	var total, used uint64
	if samples[0].Value.Kind() == metrics.KindUint64 {
		total = samples[0].Value.Uint64()
	}
	if samples[1].Value.Kind() == metrics.KindUint64 {
		used = samples[1].Value.Uint64()
	}
	var lim syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	l1, l5, l15 := loadAvg()
	b := s.brokerInfo()
	return nodeInfoJSON{
		Connections: s.node.Stats().Connections,
		Load1:       l1,
		Load5:       l5,
		Load15:      l15,
		MaxFDs:      lim.Cur,
		MemoryTotal: humanBytes(total),
		MemoryUsed:  humanBytes(used),
		Name:        b.Node,
		Node:        b.Node,
		NodeStatus:  nodeStatus,
		OTPRelease:  b.OTPRelease,
		ProcessUsed: runtime.NumGoroutine(),
		Uptime:      b.Uptime,
		Version:     b.Version,
	}
}

// gauge is one of the node's gauges under its EMQX stats name.
type gauge struct {
	name  string
	value int64
}

// statsList is the node's gauges under EMQX's stats names (emqx_ctl broker stats), in a
// stable order.
func statsList(st engine.Stats) []gauge {
	return []gauge{
		{"connections.count", st.Connections},
		{"connections.max", st.ConnectionsMax},
		{"retained.count", st.Retained},
		{"sessions.count", st.Sessions},
		{"sessions.max", st.SessionsMax},
		{"sessions.persistent.count", st.PersistentSessions},
		{"sessions.persistent.max", st.PersistentMax},
		{"subscriptions.count", st.Subscriptions},
		{"subscriptions.shared.count", st.SharedSubscriptions},
		{"topics.count", st.Topics},
		{"topics.max", st.TopicsMax},
	}
}

func statsMap(st engine.Stats) map[string]int64 {
	gs := statsList(st)
	out := make(map[string]int64, len(gs))
	for _, g := range gs {
		out[g.name] = g.value
	}
	return out
}

func metricsMap(ms []engine.Metric) map[string]uint64 {
	out := make(map[string]uint64, len(ms))
	for _, m := range ms {
		out[m.Name] = m.Value
	}
	return out
}

// thisNode checks the {node} of a /nodes/{node}/... or /brokers/{node} path: this node's name
// (other nodes of a cluster are answered by otherNode where the endpoint supports them).
func (s *Server) thisNode(w http.ResponseWriter, r *http.Request) bool {
	if name := r.PathValue("node"); name != s.node.Name() {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("no node %q (this node is %q)", name, s.node.Name()))
		return false
	}
	return true
}

// GET /api/v4/brokers: {"code":0,"data":[broker...]}.
func (s *Server) brokers(w http.ResponseWriter, r *http.Request) {
	writeData(w, s.fromEveryNode(r, MethodBroker))
}

// GET /api/v4/brokers/{node}: {"code":0,"data":broker}.
func (s *Server) broker(w http.ResponseWriter, r *http.Request) {
	if !s.otherNode(w, r, MethodBroker) && s.thisNode(w, r) {
		writeData(w, s.brokerInfo())
	}
}

// GET /api/v4/nodes.
func (s *Server) nodes(w http.ResponseWriter, r *http.Request) {
	writeData(w, s.fromEveryNode(r, MethodNode))
}

// GET /api/v4/nodes/{node}.
func (s *Server) nodeInfo(w http.ResponseWriter, r *http.Request) {
	if !s.otherNode(w, r, MethodNode) && s.thisNode(w, r) {
		writeData(w, s.nodeInfoJSON())
	}
}

// GET /api/v4/stats: {"code":0,"data":[{"node":name,"stats":{...}}]}.
func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	writeData(w, s.fromEveryNode(r, MethodStats))
}

// GET /api/v4/nodes/{node}/stats: {"code":0,"data":{...}}.
func (s *Server) nodeStats(w http.ResponseWriter, r *http.Request) {
	if s.thisNode(w, r) {
		writeData(w, statsMap(s.node.Stats()))
	}
}

// GET /api/v4/metrics: {"code":0,"data":[{"node":name,"metrics":{...}}]}.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	writeData(w, []map[string]any{{"node": s.node.Name(), "metrics": metricsMap(s.node.Metrics())}})
}

// GET /api/v4/nodes/{node}/metrics: {"code":0,"data":{...}}.
func (s *Server) nodeMetrics(w http.ResponseWriter, r *http.Request) {
	if s.thisNode(w, r) {
		writeData(w, metricsMap(s.node.Metrics()))
	}
}

// loadAvg returns the 1, 5 and 15 minute load averages as EMQX prints them ("2.75"), or
// "0.00" where the system does not say.
func loadAvg() (string, string, string) {
	b, err := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if err != nil || len(f) < 3 {
		return "0.00", "0.00", "0.00"
	}
	return f[0], f[1], f[2]
}

// humanBytes prints a size as EMQX's node list does: "76.45M".
func humanBytes(n uint64) string {
	const k = 1024
	switch {
	case n >= k*k*k:
		return fmt.Sprintf("%.2fG", float64(n)/(k*k*k))
	case n >= k*k:
		return fmt.Sprintf("%.2fM", float64(n)/(k*k))
	case n >= k:
		return fmt.Sprintf("%.2fK", float64(n)/k)
	}
	return fmt.Sprintf("%dB", n)
}

// humanUptime prints a duration as EMQX does: "1 days, 2 hours, 3 minutes, 4 seconds",
// leaving out leading zero units.
func humanUptime(d time.Duration) string {
	secs := int64(d / time.Second)
	parts := []struct {
		n    int64
		unit string
	}{{secs / 86400, "days"}, {secs / 3600 % 24, "hours"}, {secs / 60 % 60, "minutes"}, {secs % 60, "seconds"}}
	var out []string
	for _, p := range parts {
		if len(out) == 0 && p.n == 0 && p.unit != "seconds" {
			continue
		}
		out = append(out, fmt.Sprintf("%d %s", p.n, p.unit))
	}
	return strings.Join(out, ", ")
}
