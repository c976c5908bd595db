package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// suiteCase is one row group of the make bench suite.
type suiteCase struct {
	Name     string   `json:"name"`
	Title    string   `json:"title"`
	Scenario string   `json:"scenario"`
	Metrics  []string `json:"metrics"` // headline figures, see metricValue
	// Transport is tls or ws for the rows over those listeners (suite_transports.go); "" is TCP.
	Transport string `json:"transport,omitempty"`
	// HalfOf names an earlier case: each broker is offered half of the rate it delivered
	// there (latency at 50 % of its own measured peak).
	HalfOf string `json:"half_of,omitempty"`
	// Cluster runs the case on two of our nodes joined in a cluster (suite_cluster.go).
	Cluster bool `json:"cluster,omitempty"`
	// Bridge rows run through a bridge to a second broker, the remote (suite_bridge.go).
	Bridge bool `json:"bridge,omitempty"`
	// BridgeRemote is the bridge rows' remote: "mosquitto" (also when "") or "ours".
	BridgeRemote string `json:"bridge_remote,omitempty"`
	apply        func(o *Options)
	// run replaces runOne for cases that need more than one broker and one load (the auth
	// storms, suite_auth.go).
	run func(ctx context.Context, k brokerKind, o Options, work string, certs *benchCerts) (*Result, error)
}

// SuiteReport is the suite's JSON document and the input of the HTML report.
type SuiteReport struct {
	Started  string                 `json:"started"`
	Host     map[string]string      `json:"host"`
	Brokers  []string               `json:"brokers"`
	Ceiling  []*Result              `json:"tool_ceiling"`
	Cases    []suiteCase            `json:"cases"`
	Results  map[string][]*Result   `json:"results"` // case name -> one result per broker, in Brokers order (nil when it failed): the median round
	Rounds   int                    `json:"rounds"`
	Runs     map[string][][]*Result `json:"runs,omitempty"` // with several rounds: case -> broker -> every round
	Failures map[string]string      `json:"failures,omitempty"`
}

// suiteCases returns the standard suite: d is the publishing window of each run, conns the
// size of the idle-connection run.
func suiteCases(d time.Duration, conns int) []suiteCase {
	return append(append(append(append(tcpCases(d, conns), transportCases(d, conns)...), clusterCases()...), authCases(d)...), bridgeCases()...)
}

// tcpCases are the rows over MQTT/TCP.
func tcpCases(d time.Duration, conns int) []suiteCase {
	thr := []string{"recv_rate", "broker_us", "p99", "loss"}
	return []suiteCase{
		{Name: "fanin-q0", Title: "fan-in 8→1, QoS 0, 64 B", Scenario: "fanin", Metrics: thr,
			apply: func(o *Options) { o.Pubs, o.Subs, o.QoS = 8, 1, 0 }},
		{Name: "fanin-q1", Title: "fan-in 8→1, QoS 1, 64 B", Scenario: "fanin", Metrics: thr,
			apply: func(o *Options) { o.Pubs, o.Subs, o.QoS, o.SubQoS = 8, 1, 1, 1 }},
		{Name: "p2p-q0", Title: "p2p 8→8, QoS 0, 64 B", Scenario: "p2p", Metrics: thr,
			apply: func(o *Options) { o.Pubs, o.Subs, o.QoS = 8, 8, 0 }},
		{Name: "p2p-q1", Title: "p2p 8→8, QoS 1, 64 B", Scenario: "p2p", Metrics: thr,
			apply: func(o *Options) { o.Pubs, o.Subs, o.QoS, o.SubQoS = 8, 8, 1, 1 }},
		{Name: "fanout-100", Title: "fan-out 1→100, QoS 0, 64 B", Scenario: "fanout", Metrics: thr,
			apply: func(o *Options) { o.Pubs, o.Subs, o.QoS = 1, 100, 0 }},
		{Name: "fanout-1000", Title: "fan-out 1→1000, QoS 0, 64 B", Scenario: "fanout", Metrics: thr,
			apply: func(o *Options) { o.Pubs, o.Subs, o.QoS = 1, 1000, 0 }},
		{Name: "p2p-4k", Title: "throughput p2p 8→8, QoS 0, 4 KiB", Scenario: "p2p", Metrics: []string{"recv_rate", "recv_mbps", "broker_us", "p99", "loss"},
			apply: func(o *Options) { o.Pubs, o.Subs, o.QoS, o.Size = 8, 8, 0, 4096 }},
		{Name: "lat20k-q0", Title: "latency at 20k msg/s, p2p 8→8, QoS 0, 64 B", Scenario: "p2p", Metrics: []string{"p50", "p99", "p999", "recv_rate"},
			apply: func(o *Options) { o.Pubs, o.Subs, o.QoS, o.Rate = 8, 8, 0, 20000.0/8 }},
		{Name: "lat20k-q1", Title: "latency at 20k msg/s, p2p 8→8, QoS 1, 64 B", Scenario: "p2p", Metrics: []string{"p50", "p99", "p999", "loss"},
			apply: func(o *Options) { o.Pubs, o.Subs, o.QoS, o.SubQoS, o.Rate = 8, 8, 1, 1, 20000.0/8 }},
		{Name: "lat50-q0", Title: "latency at 50 % of each broker's own p2p-q0 peak, p2p 8→8, QoS 0, 64 B", Scenario: "p2p",
			Metrics: []string{"p50", "p99", "p999", "recv_rate"}, HalfOf: "p2p-q0",
			apply: func(o *Options) { o.Pubs, o.Subs, o.QoS = 8, 8, 0 }},
		{Name: "conn", Title: fmt.Sprintf("%d idle connections, one subscription each", conns), Scenario: "conn",
			Metrics: []string{"rss_per_conn", "conn_rate", "connack_p99"},
			apply: func(o *Options) {
				o.Subs, o.Filter, o.ConnRate, o.ConnWorkers = conns, "bench/conn/%i", 5000, 8
				o.Duration = min(d, 3*time.Second)
			}},
	}
}

// metricValue returns a headline figure of r, its unit and whether more is better.
func metricValue(m string, r *Result) (v float64, unit string, higher bool) {
	switch m {
	case "recv_rate":
		return r.RecvRate, "msg/s", true
	case "recv_mbps":
		return r.RecvRate * float64(r.Size) / 1e6, "MB/s", true
	case "broker_us":
		return r.BrokerCPUPerMs, "µs CPU/msg", false
	case "remote_us":
		return r.RemoteCPUPerMsg, "µs CPU/msg remote", false
	case "tool_us":
		return r.ToolCPUPerMsg, "µs CPU/msg tool", false
	case "broker_core":
		return 100 * r.cpuShare(r.BrokerCPU), "% core broker", false
	case "remote_core":
		return 100 * r.cpuShare(r.RemoteCPU), "% core remote", false
	case "tool_core":
		return 100 * r.cpuShare(r.ToolCPU), "% core tool", false
	case "node2_us":
		return r.Node2CPUPerMs, "µs CPU/msg node 2", false
	case "p50":
		return r.Latency.P50, "µs p50", false
	case "p99":
		return r.Latency.P99, "µs p99", false
	case "p999":
		return r.Latency.P999, "µs p99.9", false
	case "loss":
		return float64(r.Lost + r.Duplicates), "lost+dup", false
	case "rss_per_conn":
		return r.RSSPerConn, "B RSS/conn", false
	case "conn_rate":
		return r.ConnectRate, "conn/s", true
	case "conn_cpu":
		return r.ConnectCPUPerConn, "µs CPU/conn", false
	case "tool_conn_cpu":
		return r.ToolConnectCPUPerConn, "µs tool CPU/conn", false
	case "connack_p99":
		return r.ConnectLatency.P99, "µs CONNACK p99", false
	case "idle_p99":
		return r.StormIdleP99, "µs publish p99 idle", false
	case "storm_p99":
		return r.StormBusyP99, "µs publish p99 in storm", false
	case "disc_p99":
		return r.StormDiscP99, "µs publish p99 in disconnects", false
	case "disc_ratio":
		if r.StormIdleP99 <= 0 {
			return 0, "× idle p99 (disconnects)", false
		}
		return r.StormDiscP99 / r.StormIdleP99, "× idle p99 (disconnects)", false
	case "storm_samples":
		return float64(r.StormSamples), "latency samples per window", true
	case "lag_idle", "lag_storm", "lag_disc":
		var l *LoopLag
		if r.StormLag != nil {
			l = map[string]*LoopLag{"lag_idle": r.StormLag.Idle, "lag_storm": r.StormLag.Storm, "lag_disc": r.StormLag.Disc}[m]
		}
		unit := "µs loop lag mean " + strings.TrimPrefix(m, "lag_")
		if l == nil {
			return 0, unit, false
		}
		return l.MeanUS, unit, false
	case "aclconf_rate":
		return r.ACLConfRate, "msg/s with acl.conf", true
	case "acl_ratio":
		if r.ACLConfRate <= 0 {
			return 0, "× acl.conf rate", true
		}
		return r.RecvRate / r.ACLConfRate, "× acl.conf rate", true
	case "storm_ratio":
		if r.StormIdleP99 <= 0 {
			return 0, "× idle p99", false
		}
		return r.StormBusyP99 / r.StormIdleP99, "× idle p99", false
	}
	return 0, m, true
}

func runSuite(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("emqx_bench suite", flag.ContinueOnError)
	self, _ := os.Executable()
	binDir := filepath.Dir(self)
	emqx := fs.String("emqx", filepath.Join(binDir, "emqx"), "our broker's binary")
	mochi := fs.String("mochi", filepath.Join(binDir, "mochi_peer"), "the mochi peer's binary (bench/peers/mochi)")
	mosq := fs.String("mosquitto", firstExisting("/usr/sbin/mosquitto", "/usr/bin/mosquitto"), "Mosquitto's binary")
	peer := fs.String("peer", os.Getenv("PEER"), "an external peer broker `host:port` (loopback), instead of starting Mosquitto and mochi")
	brokers := fs.String("brokers", "", "brokers to run, in order: ours,mosquitto,mochi (default: those found; with -peer: ours,peer)")
	out := fs.String("out", "bench/results", "directory for the JSON and HTML reports")
	d := fs.Duration("duration", 5*time.Second, "publishing window of each run")
	conns := fs.Int("conns", 10000, "connections of the conn case (stay under ~19 k: 20,000 open files per process)")
	only := fs.String("cases", "", "comma-separated case names to run (default: all)")
	ceiling := fs.Bool("ceiling", true, "first measure the tool against its own sink")
	rounds := fs.Int("rounds", 1, "runs of each case per broker; the report keeps the median by the case's first figure")
	if err := fs.Parse(args); err != nil {
		return err
	}
	kinds, err := pickBrokers(*brokers, *peer, *emqx, *mosq, *mochi)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "emqx-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	certs, err := writeBenchCerts(work)
	if err != nil {
		fmt.Fprintf(os.Stderr, "suite: no certificates, the TLS rows are skipped: %v\n", err)
		certs = nil
	}

	*rounds = max(*rounds, 1)
	rep := &SuiteReport{Started: time.Now().Format(time.RFC3339), Host: hostInfo(), Results: map[string][]*Result{},
		Failures: map[string]string{}, Rounds: *rounds, Runs: map[string][][]*Result{}}
	for _, k := range kinds {
		rep.Brokers = append(rep.Brokers, k.Name)
	}
	base := func(c suiteCase) Options {
		o := defaultOptions(c.Scenario)
		o.Duration, o.Drain, o.Progress, o.Label = *d, 2*time.Second, false, c.Name
		o.Timeout = 60 * time.Second
		c.apply(&o)
		return o
	}
	logw := os.Stderr
	if *ceiling {
		for _, c := range []struct {
			sink string
			suiteCase
		}{
			{"sink", suiteCase{Name: "ceiling-pub", Title: "tool → sink: 8 publishers, QoS 0, 64 B", Scenario: "pub", apply: func(o *Options) { o.Pubs = 8 }}},
			{"sink-echo", suiteCase{Name: "ceiling-echo", Title: "tool → sink → tool: 8 echo clients, QoS 0, 64 B", Scenario: "echo", apply: func(o *Options) { o.Pubs = 8 }}},
		} {
			res, err := runOne(ctx, brokerKind{Name: c.sink, Bin: self}, base(c.suiteCase), work, nil)
			if err != nil {
				fmt.Fprintf(logw, "ceiling %s: %v\n", c.Name, err)
				continue
			}
			fmt.Fprintf(logw, "tool ceiling %-13s sent %s/s, received %s/s, tool CPU %.2f µs/msg\n", c.Name, human(res.SentRate), human(res.RecvRate), res.ToolCPUPerMsg)
			rep.Ceiling = append(rep.Ceiling, res)
		}
	}
	cases := suiteCases(*d, *conns)
	if err := checkCaseNames(*only, cases); err != nil {
		return err
	}
	for i, c := range cases {
		if *only != "" && !containsWord(*only, c.Name) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		rep.Cases = append(rep.Cases, c)
		results := make([]*Result, len(kinds))
		all := make([][]*Result, len(kinds))
		// Alternate the order from case to case and round to round so that no broker
		// always runs first (or last) on a machine whose noise drifts.
		for round := 0; round < *rounds && ctx.Err() == nil; round++ {
			for j := range kinds {
				bi := (i + j + round) % len(kinds)
				k := kinds[bi]
				o := base(c)
				if c.Cluster && k.Name != "ours" {
					if round == 0 {
						fmt.Fprintf(logw, "%-12s %-10s skipped: not a cluster of ours\n", c.Name, k.Name)
					}
					continue
				}
				if !servesTransport(k.Name, c.Transport) {
					if round == 0 {
						fmt.Fprintf(logw, "%-12s %-10s skipped: no %s listener\n", c.Name, k.Name, c.Transport)
					}
					continue
				}
				if c.Bridge && !bridges(k.Name) {
					if round == 0 {
						fmt.Fprintf(logw, "%-12s %-10s skipped: no MQTT bridge\n", c.Name, k.Name)
					}
					continue
				}
				if c.HalfOf != "" {
					prev := rep.Results[c.HalfOf]
					if len(prev) <= bi || prev[bi] == nil || prev[bi].RecvRate <= 0 {
						fmt.Fprintf(logw, "%-12s %-10s skipped: no %s result to take half of\n", c.Name, k.Name, c.HalfOf)
						continue
					}
					o.Rate = prev[bi].RecvRate / 2 / float64(o.Pubs)
				}
				run := runOne
				if c.Cluster {
					run = runCluster
				}
				if c.run != nil {
					run = c.run
				}
				if c.Bridge {
					run = func(ctx context.Context, k brokerKind, o Options, work string, _ *benchCerts) (*Result, error) {
						return runBridge(ctx, k, c.BridgeRemote, *mosq, *emqx, o, work)
					}
				}
				res, err := run(ctx, k, o, work, certs)
				if err != nil {
					fmt.Fprintf(logw, "%-12s %-10s FAILED: %v\n", c.Name, k.Name, err)
					rep.Failures[fmt.Sprintf("%s/%s/%d", c.Name, k.Name, round+1)] = err.Error()
					continue
				}
				all[bi] = append(all[bi], res)
				fmt.Fprintf(logw, "%-12s %-10s %s\n", c.Name, k.Name, oneLine(c, res))
			}
		}
		for bi := range kinds {
			results[bi] = median(all[bi], c.Metrics[0])
		}
		if *rounds > 1 {
			rep.Runs[c.Name] = all
		}
		rep.Results[c.Name] = results
	}
	writeSuiteTable(os.Stdout, rep)
	stamp := time.Now().Format("20060102-150405")
	jsonPath := filepath.Join(*out, "suite-"+stamp+".json")
	htmlPath := filepath.Join(*out, "suite-"+stamp+".html")
	if err := writeFileWith(jsonPath, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		return enc.Encode(rep)
	}); err != nil {
		return err
	}
	if err := writeFileWith(htmlPath, func(w io.Writer) error { return writeHTML(w, rep) }); err != nil {
		return err
	}
	for _, p := range [][2]string{{jsonPath, "latest.json"}, {htmlPath, "latest.html"}} {
		link := filepath.Join(*out, p[1])
		_ = os.Remove(link)
		_ = os.Symlink(filepath.Base(p[0]), link)
	}
	fmt.Fprintf(os.Stdout, "\nwrote %s and %s\n", jsonPath, htmlPath)
	return nil
}

// median returns the run whose figure m is the median (the lower middle for an even count).
func median(rs []*Result, m string) *Result {
	if len(rs) == 0 {
		return nil
	}
	sorted := append([]*Result(nil), rs...)
	sort.SliceStable(sorted, func(a, b int) bool {
		va, _, _ := metricValue(m, sorted[a])
		vb, _, _ := metricValue(m, sorted[b])
		return va < vb
	})
	return sorted[(len(sorted)-1)/2]
}

// runOne starts a fresh broker of kind k, runs o against it over o.Transport and stops the
// broker. certs is the set the broker's TLS listeners serve (nil: none).
func runOne(ctx context.Context, k brokerKind, o Options, work string, certs *benchCerts) (*Result, error) {
	b, err := startBroker(ctx, k, work, certs)
	if err != nil {
		return nil, err
	}
	defer b.stop()
	lis := o.Listener
	if lis == "" {
		lis = o.Transport
	}
	addr := b.addrs[lis]
	if addr == "" {
		return nil, fmt.Errorf("%s has no %s listener in this run", k.Name, lis)
	}
	if o.Transport != "tcp" {
		if err := waitListening(ctx, addr); err != nil {
			return nil, fmt.Errorf("%s %s listener: %w", k.Name, o.Transport, err)
		}
		if certs != nil {
			o.CAFile = certs.CA
		}
		// Every broker gets the same offer: X25519 alone, as the rows' titles say
		// (transport_tls.go).
		o.TLSCurves = "x25519"
	}
	o.Broker, o.BrokerPID, o.MetricsCmd = addr, b.pid(), b.metricsCmd
	if err := o.validate(); err != nil {
		return nil, err
	}
	time.Sleep(200 * time.Millisecond) // let the broker's start-up work settle before the baseline RSS
	res, err := newRunner(o, nil).run(ctx)
	if err != nil {
		return nil, err
	}
	res.Broker = k.Name
	return res, nil
}

func pickBrokers(list, peer, emqx, mosq, mochi string) ([]brokerKind, error) {
	all := map[string]brokerKind{
		"ours": {Name: "ours", Bin: emqx}, "mosquitto": {Name: "mosquitto", Bin: mosq}, "mochi": {Name: "mochi", Bin: mochi},
	}
	if peer != "" {
		if err := checkLoopback(peer); err != nil {
			return nil, err
		}
		all["peer"] = brokerKind{Name: "peer", Addr: peer}
	}
	var names []string
	switch {
	case list != "":
		names = strings.Split(list, ",")
	case peer != "":
		names = []string{"ours", "peer"}
	default:
		names = []string{"ours", "mosquitto", "mochi"}
	}
	var out []brokerKind
	for _, n := range names {
		k, ok := all[strings.TrimSpace(n)]
		if !ok {
			return nil, fmt.Errorf("unknown broker %q (ours, mosquitto, mochi, peer with -peer)", n)
		}
		if k.Bin != "" && !fileExists(k.Bin) {
			if list != "" || k.Name == "ours" {
				return nil, fmt.Errorf("%s: %s not found (make build, make bench-deps)", k.Name, k.Bin)
			}
			fmt.Fprintf(os.Stderr, "suite: %s not found at %s, skipped (make bench-deps)\n", k.Name, k.Bin)
			continue
		}
		out = append(out, k)
	}
	return out, nil
}

func oneLine(c suiteCase, r *Result) string {
	var parts []string
	for _, m := range c.Metrics {
		v, unit, _ := metricValue(m, r)
		parts = append(parts, fmtMetric(v, unit))
	}
	if r.TLS != "" {
		parts = append(parts, "("+r.TLS+")")
	}
	if len(r.Errors) > 0 {
		parts = append(parts, fmt.Sprintf("errors: %v", r.Errors))
	}
	return strings.Join(parts, "  ")
}

func fmtMetric(v float64, unit string) string {
	switch {
	case strings.HasPrefix(unit, "µs CPU/msg"):
		return fmt.Sprintf("%.2f %s", v, unit)
	case strings.HasPrefix(unit, "µs"):
		return fmtUS(v) + strings.TrimPrefix(unit, "µs")
	case unit == "msg/s" || unit == "conn/s" || unit == "msg/s with acl.conf":
		return human(v) + " " + unit
	case unit == "lost+dup":
		return fmt.Sprintf("%.0f %s", v, unit)
	default:
		if strings.HasPrefix(unit, "× acl") {
			return fmt.Sprintf("%.3f %s", v, unit)
		}
		return fmt.Sprintf("%.1f %s", v, unit)
	}
}

// writeSuiteTable prints every headline figure with the ratio ours/peer.
func writeSuiteTable(w io.Writer, rep *SuiteReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w)
	hdr := "case\tfigure\t"
	for _, b := range rep.Brokers {
		hdr += b + "\t"
	}
	for _, b := range rep.Brokers[1:] {
		hdr += "ours/" + b + "\t"
	}
	fmt.Fprintln(tw, hdr)
	for _, c := range rep.Cases {
		rs := rep.Results[c.Name]
		for mi, m := range c.Metrics {
			name := ""
			if mi == 0 {
				name = c.Name
			}
			_, unit, higher := metricValue(m, &Result{})
			line := name + "\t" + unit + "\t"
			vals := make([]float64, len(rs))
			ok := make([]bool, len(rs))
			for i, r := range rs {
				if r == nil {
					line += "—\t"
					continue
				}
				vals[i], _, _ = metricValue(m, r)
				ok[i] = true
				line += fmtNum(vals[i], unit) + "\t"
			}
			for i := 1; i < len(rs); i++ {
				line += ratio(vals[0], vals[i], ok[0] && ok[i], higher) + "\t"
			}
			fmt.Fprintln(tw, line)
		}
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "ratios are ours/peer; for latency, CPU, RSS and loss lower is better (marked ↓)")
	for _, r := range rep.Ceiling {
		fmt.Fprintf(w, "tool ceiling (%s): sent %s msg/s, received %s msg/s, tool CPU %.2f µs/msg\n", r.Label, human(r.SentRate), human(r.RecvRate), r.ToolCPUPerMsg)
	}
	for _, c := range rep.Cases {
		for _, r := range rep.Results[c.Name] {
			if r != nil && (r.Lost > 0 || r.Duplicates > 0 || r.LostConns > 0) {
				fmt.Fprintf(w, "%s on %s: lost %d of %d, duplicates %d, out of order %d, lost connections %d%s\n", c.Name, r.Broker,
					r.Lost, r.Expected, r.Duplicates, r.OutOfOrder, r.LostConns, dropsNote(r))
			}
		}
	}
}

func dropsNote(r *Result) string {
	if r.BrokerDrops == nil {
		return " (broker drop counter not available)"
	}
	return fmt.Sprintf(" (broker counted %d dropped)", *r.BrokerDrops)
}

func fmtNum(v float64, unit string) string {
	switch {
	case strings.HasPrefix(unit, "µs CPU/msg"):
		return fmt.Sprintf("%.2f", v)
	case strings.HasPrefix(unit, "µs"):
		return fmtUS(v)
	case unit == "msg/s" || unit == "conn/s" || unit == "msg/s with acl.conf":
		return human(v)
	case unit == "lost+dup" || strings.HasPrefix(unit, "B "):
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func ratio(ours, peer float64, ok, higher bool) string {
	if !ok {
		return "—"
	}
	mark := ""
	if !higher {
		mark = "↓"
	}
	if peer == 0 {
		if ours == 0 {
			return "=" + mark
		}
		return "∞" + mark
	}
	return fmt.Sprintf("%.2fx%s", ours/peer, mark)
}

func containsWord(list, w string) bool {
	for _, s := range strings.Split(list, ",") {
		if strings.TrimSpace(s) == w {
			return true
		}
	}
	return false
}

func firstExisting(paths ...string) string {
	for _, p := range paths {
		if fileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	return paths[0]
}

func writeFileWith(path string, f func(io.Writer) error) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := f(fh); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

func hostInfo() map[string]string {
	h := map[string]string{"go": runtime.Version(), "cpus": fmt.Sprint(runtime.NumCPU()), "os": runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				h["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		h["commit"] = strings.TrimSpace(string(out))
	}
	if n, err := os.Hostname(); err == nil {
		h["hostname"] = n
	}
	return h
}

// checkCaseNames refuses a -cases list naming a case the suite does not have, so that a
// mistyped name (or an older binary) does not silently run nothing.
func checkCaseNames(only string, cases []suiteCase) error {
	if only == "" {
		return nil
	}
	known := make(map[string]bool, len(cases))
	for _, c := range cases {
		known[c.Name] = true
	}
	var unknown []string
	for _, name := range strings.Split(only, ",") {
		if name = strings.TrimSpace(name); name != "" && !known[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("-cases: no such case %s (the suite has %d cases; run without -cases to list them in the report)", strings.Join(unknown, ", "), len(cases))
	}
	return nil
}
