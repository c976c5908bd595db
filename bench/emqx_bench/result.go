package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is what one run measured. Its JSON form is the tool's machine-readable output.
type Result struct {
	Label        string  `json:"label,omitempty"`
	Scenario     string  `json:"scenario"`
	Broker       string  `json:"broker"`
	Version      string  `json:"mqtt_version"`
	QoS          int     `json:"qos"`
	Size         int     `json:"payload_bytes"`
	Pubs         int     `json:"publishers"`
	Subs         int     `json:"subscribers"`
	RatePerPub   float64 `json:"offered_rate_per_publisher"` // 0: unlimited
	OfferedTotal float64 `json:"offered_rate_total"`
	Window       int     `json:"window"`
	Inflight     int     `json:"inflight"`
	Start        string  `json:"start"`

	Connected      int     `json:"connected"`
	ConnectFailed  int     `json:"connect_failed"`
	LostConns      int     `json:"connections_lost"`
	ConnectSeconds float64 `json:"connect_seconds"`
	ConnectRate    float64 `json:"connect_rate"`
	ConnectLatency Latency `json:"connect_latency_us"`
	// CPU spent per connection during the connect phase (handshakes, CONNECT, SUBSCRIBE), by
	// the broker and by the tool: the tool's share says whether it, rather than the broker,
	// bounds ConnectRate.
	ConnectCPUPerConn     float64 `json:"connect_broker_cpu_us_per_conn,omitempty"`
	ToolConnectCPUPerConn float64 `json:"connect_tool_cpu_us_per_conn,omitempty"`
	// TLS is what the run's first TLS handshake negotiated ("TLS 1.3 X25519 TLS_AES_128_GCM_SHA256").
	TLS string `json:"tls_negotiated,omitempty"`
	// The auth storm cases (suite_auth.go): publish latency p99 of already-connected clients
	// without and during the connect storm.
	StormIdleP99 float64 `json:"storm_idle_publish_p99_us,omitempty"`
	StormBusyP99 float64 `json:"storm_busy_publish_p99_us,omitempty"`
	// StormDiscP99 is the same p99 while the storm's clients all disconnect; StormSamples the
	// fewest latency samples of the three windows (a p99 of n samples is its n/100-th worst).
	StormDiscP99 float64 `json:"storm_disconnect_publish_p99_us,omitempty"`
	StormSamples uint64  `json:"storm_latency_samples,omitempty"`
	// StormLag is our broker's loop lag in each storm window (looplag.go); nil for peers.
	StormLag *StormLag `json:"storm_loop_lag,omitempty"`
	// The acl-redis case: the same run's rate with acl.conf alone (ours only).
	ACLConfRate float64 `json:"aclconf_received_per_sec,omitempty"`

	Seconds    float64      `json:"seconds"` // publishing window
	Sent       uint64       `json:"sent"`    // PUBLISHes written in the window
	Acked      uint64       `json:"acked"`   // QoS 1/2 acknowledgements, whole run
	Received   uint64       `json:"received"`
	SentRate   float64      `json:"sent_per_sec"`
	RecvRate   float64      `json:"received_per_sec"` // deliveries in the window / window
	Expected   uint64       `json:"expected"`         // first deliveries owed to the in-tool subscribers, whole run
	Delivered  uint64       `json:"delivered"`        // of those, received
	Lost       uint64       `json:"lost"`
	Duplicates uint64       `json:"duplicates"`
	OutOfOrder uint64       `json:"out_of_order"`
	Foreign    uint64       `json:"foreign"`    // without this run's stamp
	Unexpected uint64       `json:"unexpected"` // from a publisher the subscriber should not hear
	Stalls     uint64       `json:"window_stalls"`
	ProtoErrs  uint64       `json:"protocol_errors"`
	Latency    Latency      `json:"latency_us"`
	Histogram  [][3]float64 `json:"latency_histogram_us"` // [low, high, count] per non-empty bucket, merged to ~40 per decade

	BrokerDrops    *int64  `json:"broker_dropped,omitempty"`
	BrokerRSS      int64   `json:"broker_rss_bytes,omitempty"`
	BrokerRSSPeak  int64   `json:"broker_rss_peak_bytes,omitempty"`
	BrokerCPU      float64 `json:"broker_cpu_seconds,omitempty"` // in the window
	BrokerCPUPerMs float64 `json:"broker_cpu_us_per_msg,omitempty"`
	// Node2CPUPerMs is the second node's CPU per message in the cluster cases (suite_cluster.go).
	Node2CPUPerMs float64 `json:"node2_cpu_us_per_msg,omitempty"`
	RSSPerConn    float64 `json:"broker_rss_per_connection,omitempty"`
	ToolRSS       int64   `json:"tool_rss_bytes,omitempty"`
	ToolCPU       float64 `json:"tool_cpu_seconds"`
	ToolCPUPerMsg float64 `json:"tool_cpu_us_per_msg,omitempty"`
	// RemoteCPU is the CPU time in the window of Options.RemotePID (a bridge's remote broker),
	// RemoteCPUPerMsg per message.
	RemoteCPU       float64 `json:"remote_cpu_seconds,omitempty"`
	RemoteCPUPerMsg float64 `json:"remote_cpu_us_per_msg,omitempty"`

	Series []Sample `json:"series"`
	Errors []string `json:"errors,omitempty"`

	Broker0, BrokerConnected, Broker2 procSample `json:"-"`
}

// Latency is a summary in microseconds.
type Latency struct {
	Count uint64  `json:"count"`
	Min   float64 `json:"min"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

// Sample is one second of the run.
type Sample struct {
	T        float64 `json:"t"`
	SentRate float64 `json:"sent_per_sec"`
	RecvRate float64 `json:"received_per_sec"`
	P99us    float64 `json:"p99_us"`
	Conns    int64   `json:"connections"`
}

func us(ns uint64) float64 { return float64(ns) / 1e3 }

func summarize(h *Histogram) Latency {
	return Latency{Count: h.Count(), Min: us(h.Min()), Mean: h.Mean() / 1e3, P50: us(h.Quantile(0.5)),
		P90: us(h.Quantile(0.9)), P99: us(h.Quantile(0.99)), P999: us(h.Quantile(0.999)), Max: us(h.Max())}
}

// coarseBuckets merges the histogram into buckets 10^(1/perDecade) wide, for charts.
func coarseBuckets(h *Histogram, perDecade float64) [][3]float64 {
	var out [][3]float64
	h.Buckets(func(lo, hi, c uint64) {
		key := math.Floor(math.Log10(float64(max(lo, 1))) * perDecade)
		l := math.Pow(10, key/perDecade) / 1e3
		u := math.Pow(10, (key+1)/perDecade) / 1e3
		if n := len(out); n > 0 && out[n-1][0] == l {
			out[n-1][2] += float64(c)
			return
		}
		out = append(out, [3]float64{l, u, float64(c)})
	})
	return out
}

// fill completes r from the counters at the end of the window (w) and of the drain (f).
func (r *Result) fill(window time.Duration, w, f totals, lat, connLat *Histogram, b1, b2 procSample, toolCPU time.Duration) {
	r.Seconds = window.Seconds()
	r.Sent, r.Acked, r.Received = w.sent, f.acked, f.recv
	r.SentRate = float64(w.sent) / r.Seconds
	r.RecvRate = float64(w.recv) / r.Seconds
	r.Duplicates, r.OutOfOrder, r.Foreign, r.Unexpected = f.dups, f.late, f.foreign, f.unexpected
	r.Stalls, r.ProtoErrs = f.stalls, f.protoErr
	r.Latency = summarize(lat)
	r.ConnectLatency = summarize(connLat)
	r.Histogram = coarseBuckets(lat, 20)
	if b1.ok && b2.ok {
		r.BrokerRSS, r.BrokerRSSPeak = b2.RSS, b2.HWM
		r.BrokerCPU = (b2.CPU - b1.CPU).Seconds()
		if w.recv > 0 {
			r.BrokerCPUPerMs = r.BrokerCPU * 1e6 / float64(max(w.recv, w.sent))
		}
	}
	r.ToolCPU = toolCPU.Seconds()
	if n := max(w.recv, w.sent); n > 0 {
		r.ToolCPUPerMsg = r.ToolCPU * 1e6 / float64(n)
	}
}

// fillRemote sets the remote's CPU in the window from its samples at the window's ends.
func (r *Result) fillRemote(w totals, a, b procSample) {
	if !a.ok || !b.ok {
		return
	}
	r.RemoteCPU = (b.CPU - a.CPU).Seconds()
	if n := max(w.recv, w.sent); n > 0 {
		r.RemoteCPUPerMsg = r.RemoteCPU * 1e6 / float64(n)
	}
}

// cpuShare is CPU seconds as a share of one core over the window (1 = a whole core).
func (r *Result) cpuShare(cpu float64) float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return cpu / r.Seconds
}

// WriteJSON writes r as one indented JSON object.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the human summary of r.
func (r *Result) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "  %s\t%s\n", k, v) }
	title := r.Scenario
	if r.Label != "" {
		title = r.Label + " (" + r.Scenario + ")"
	}
	fmt.Fprintf(tw, "== %s against %s: MQTT %s, QoS %d, %d B, %d pub / %d sub\n", title, r.Broker, r.Version, r.QoS, r.Size, r.Pubs, r.Subs)
	row("connections", fmt.Sprintf("%d ok, %d failed, %d lost; %.2fs (%s/s), CONNACK p50 %s p99 %s",
		r.Connected, r.ConnectFailed, r.LostConns, r.ConnectSeconds, human(r.ConnectRate),
		fmtUS(r.ConnectLatency.P50), fmtUS(r.ConnectLatency.P99)))
	if r.ConnectCPUPerConn > 0 || r.ToolConnectCPUPerConn > 0 {
		row("connect CPU", fmt.Sprintf("broker %.0f µs/conn, tool %.0f µs/conn", r.ConnectCPUPerConn, r.ToolConnectCPUPerConn))
	}
	if r.TLS != "" {
		row("TLS", r.TLS)
	}
	if r.Pubs > 0 {
		offered := "unlimited"
		if r.OfferedTotal > 0 {
			offered = human(r.OfferedTotal) + " msg/s"
		}
		row("offered load", offered)
		row("sent", fmt.Sprintf("%d in %.2fs = %s msg/s", r.Sent, r.Seconds, human(r.SentRate)))
	}
	if (r.Subs > 0 && r.Scenario != "conn") || r.Scenario == "echo" {
		row("received", fmt.Sprintf("%d = %s msg/s in the window", r.Received, human(r.RecvRate)))
		row("latency", fmt.Sprintf("p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (n=%d)", fmtUS(r.Latency.P50),
			fmtUS(r.Latency.P90), fmtUS(r.Latency.P99), fmtUS(r.Latency.P999), fmtUS(r.Latency.Max), r.Latency.Count))
		if r.Expected > 0 || r.Pubs > 0 {
			lossPct := 0.0
			if r.Expected > 0 {
				lossPct = 100 * float64(r.Lost) / float64(r.Expected)
			}
			row("loss", fmt.Sprintf("%d of %d (%.3f%%), duplicates %d, out of order %d", r.Lost, r.Expected, lossPct, r.Duplicates, r.OutOfOrder))
		}
		if r.Foreign+r.Unexpected+r.Stalls+r.ProtoErrs > 0 {
			row("other", fmt.Sprintf("foreign %d, unexpected %d, window stalls %d, protocol errors %d", r.Foreign, r.Unexpected, r.Stalls, r.ProtoErrs))
		}
	}
	if r.BrokerDrops != nil {
		row("broker drops", fmt.Sprint(*r.BrokerDrops))
	}
	if r.BrokerRSS > 0 {
		row("broker", fmt.Sprintf("RSS %s (peak %s), CPU %.2fs = %.2f µs/msg", bytesHuman(r.BrokerRSS), bytesHuman(r.BrokerRSSPeak), r.BrokerCPU, r.BrokerCPUPerMs))
	}
	if r.RSSPerConn != 0 {
		row("RSS per connection", fmt.Sprintf("%.0f B", r.RSSPerConn))
	}
	row("tool", fmt.Sprintf("CPU %.2fs = %.2f µs/msg, RSS %s", r.ToolCPU, r.ToolCPUPerMsg, bytesHuman(r.ToolRSS)))
	for _, e := range r.Errors {
		row("error", e)
	}
	_ = tw.Flush()
}

// human prints a rate or count with k/M suffixes.
func human(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case a >= 1e3:
		return fmt.Sprintf("%.2fk", v/1e3)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

func bytesHuman(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func fmtDur(ns uint64) string { return fmtUS(us(ns)) }

// fmtUS prints microseconds with a unit that keeps three significant digits.
func fmtUS(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fs", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.2fms", v/1e3)
	default:
		return strings.TrimSuffix(fmt.Sprintf("%.0fµs", v), "")
	}
}

// connectCPU sets the connect phase's CPU per connection from the broker's sample after the
// phase (against Broker0) and the tool's CPU in the phase.
func (r *Result) connectCPU(b procSample, tool time.Duration) {
	if r.Connected == 0 {
		return
	}
	if r.Broker0.ok && b.ok {
		r.ConnectCPUPerConn = float64((b.CPU - r.Broker0.CPU).Microseconds()) / float64(r.Connected)
	}
	r.ToolConnectCPUPerConn = float64(tool.Microseconds()) / float64(r.Connected)
}
