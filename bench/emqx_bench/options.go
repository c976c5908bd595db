package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// Options is one load run, as parsed from the command line or built by the suite.
// It is read-only once the run starts.
type Options struct {
	Scenario    string        // conn, pub, sub, p2p, fanin, fanout, shared
	Broker      string        // host:port, loopback only
	SubBroker   string        // subscribers connect here instead ("": Broker), e.g. another node of a cluster
	Settle      time.Duration // wait between connecting (and subscribing) and publishing
	Transport   string        // tcp, tls, ws or wss
	Listener    string        // suite: which of the broker's listeners of Transport ("tls-rsa"); "": Transport's
	CAFile      string        // tls, wss: PEM certificates to trust instead of the system's
	Insecure    bool          // tls, wss: do not verify the broker's certificate
	ServerName  string        // tls, wss: name to verify (default: the -broker host)
	TLSCurves   string        // tls, wss: key exchanges offered, comma-separated (transport_tls.go); "default": Go's
	TLSResume   bool          // tls: keep the broker's session tickets, so that handshakes after the first resume
	WSPath      string        // ws, wss: the HTTP path, /mqtt by default
	PSKIdentity string        // psk: the TLS-PSK identity
	PSKKey      string        // psk: the key in hex (openssl's -psk)
	Version     codec.Version // protocol level of every client
	Label       string        // name of the run in reports

	Pubs, Subs  int     // publishers and subscribers (conn: Subs is the number of connections)
	ConnRate    float64 // new connections per second, 0 for as fast as they complete
	ConnWorkers int     // dials in progress at once

	Rate     float64 // messages per second per publisher, 0 for unlimited
	Size     int     // payload bytes (at least headerSize: the stamp)
	QoS      byte    // publish QoS
	SubQoS   byte    // subscription QoS
	Inflight int     // QoS 1/2: unacknowledged PUBLISHes per publisher
	Window   int     // closed loop: messages per publisher not yet received by every in-tool subscriber; 0 for none, -1 for auto
	Retain   bool

	Topic       string // publish topic pattern
	Filter      string // subscription filter pattern
	ClientID    string // client identifier pattern
	SharedGroup string // shared scenario: group name in $share/<group>/<filter>
	Username    string
	Password    string

	Duration time.Duration // how long publishers publish (conn: how long connections are held idle)
	// HoldStdin ends the window early when standard input reaches end of file (conn: the
	// storm rows' child holds its clients until the tool that started it says so).
	HoldStdin bool
	Count     int64         // messages per publisher, 0 for no limit (then Duration bounds the run)
	Drain     time.Duration // at most this long after publishing stops to wait for late deliveries
	KeepAlive time.Duration
	// SessionExpiry > 0 makes the clients' sessions persistent: MQTT 5 Session Expiry Interval,
	// MQTT 3.x clean session false (the broker's own expiry then applies).
	SessionExpiry time.Duration
	Timeout       time.Duration // connect + subscribe phase bound

	IfAddrs []net.IP // local source addresses, round robin; empty for the kernel's choice
	Loops   int      // event loops of the tool

	BrokerPID  int    // read RSS and CPU of this process from /proc
	RemotePID  int    // a second process whose CPU in the window is reported (a bridge's remote)
	MetricsCmd string // a command that prints "messages.dropped : N"; run before and after
	JSON       string // write the JSON result to this file ("-" for stdout)
	Progress   bool   // one progress line per second on stderr
}

// Scenario names, as the field uses them.
var scenarios = []string{"conn", "pub", "sub", "p2p", "fanin", "fanout", "shared", "echo"}

// defaultOptions returns the options of scenario s before flags override them.
func defaultOptions(s string) Options {
	o := Options{
		Scenario: s, Broker: "127.0.0.1:1883", Transport: "tcp", WSPath: "/mqtt", Version: codec.V311,
		ConnWorkers: 32, Size: 64, Inflight: 64, Window: -1,
		ClientID: "bench-%n-%r-%i", SharedGroup: "bench",
		Duration: 10 * time.Second, Drain: 3 * time.Second, KeepAlive: 300 * time.Second,
		Timeout: 60 * time.Second, Progress: true,
	}
	switch s {
	case "conn":
		o.Subs, o.ConnRate, o.Filter = 1000, 2000, ""
		o.Duration = 5 * time.Second
	case "pub":
		o.Pubs, o.Topic = 1, "bench/pub/%i"
	case "sub":
		o.Subs, o.Filter = 1, "bench/#"
	case "p2p":
		o.Pubs, o.Subs, o.Topic, o.Filter = 8, 8, "bench/p2p/%i", "bench/p2p/%i"
	case "fanin":
		o.Pubs, o.Subs, o.Topic, o.Filter = 8, 1, "bench/fanin/%i", "bench/fanin/+"
	case "fanout":
		o.Pubs, o.Subs, o.Topic, o.Filter = 1, 100, "bench/fanout", "bench/fanout"
	case "shared":
		o.Pubs, o.Subs, o.Topic, o.Filter = 8, 4, "bench/shared/%i", "bench/shared/+"
	case "echo":
		o.Pubs, o.Topic = 8, "bench/echo/%i"
	}
	return o
}

// parseOptions parses the flags of scenario s. Help goes to out.
func parseOptions(s string, args []string, out io.Writer) (Options, error) {
	o := defaultOptions(s)
	fs := flag.NewFlagSet("emqx_bench "+s, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.Broker, "broker", o.Broker, "broker `host:port` (loopback only)")
	fs.StringVar(&o.Transport, "transport", o.Transport, "tcp, tls, psk (TLS-PSK, PSK-AES128-GCM-SHA256), ws or wss (MQTT over WebSocket, subprotocol mqtt)")
	fs.StringVar(&o.SubBroker, "sub-broker", o.SubBroker, "subscribers connect to this `host:port` instead of -broker (another node of a cluster, a bridge's remote)")
	fs.DurationVar(&o.Settle, "settle", o.Settle, "wait this long after connecting before publishing (e.g. for subscriptions to reach the other nodes of a cluster)")
	fs.StringVar(&o.CAFile, "ca", o.CAFile, "tls/wss: PEM file of the certificates to trust")
	fs.BoolVar(&o.Insecure, "insecure", o.Insecure, "tls/wss: do not verify the broker's certificate")
	fs.StringVar(&o.ServerName, "server-name", o.ServerName, "tls/wss: certificate name to verify (default: the -broker host)")
	fs.StringVar(&o.TLSCurves, "tls-curves", o.TLSCurves, "tls/wss: key exchanges offered (x25519, p256, p384, p521, x25519mlkem768; default: Go's own)")
	fs.BoolVar(&o.TLSResume, "tls-resume", o.TLSResume, "tls: resume sessions with the broker's tickets (one client session cache per run)")
	fs.StringVar(&o.WSPath, "ws-path", o.WSPath, "ws/wss: HTTP path of the WebSocket endpoint")
	fs.StringVar(&o.PSKIdentity, "psk-identity", o.PSKIdentity, "psk: TLS-PSK identity")
	fs.StringVar(&o.PSKKey, "psk", o.PSKKey, "psk: TLS-PSK key in hex (as openssl -psk)")
	fs.Var((*versionValue)(&o.Version), "version", "MQTT version: 3.1, 3.1.1 or 5")
	fs.StringVar(&o.Label, "label", o.Label, "name of the run in the reports")
	fs.IntVar(&o.Pubs, "pubs", o.Pubs, "publishers")
	fs.IntVar(&o.Subs, "subs", o.Subs, "subscribers (conn: connections)")
	clients := fs.Int("clients", 0, "clients: connections for conn, subscribers for sub, publishers for pub, pairs for p2p")
	fs.Var((*rateValue)(&o.ConnRate), "conn-rate", "new connections per second (0 or 'max' for as fast as they complete)")
	fs.IntVar(&o.ConnWorkers, "conn-workers", o.ConnWorkers, "connection attempts in progress at once")
	fs.Var((*rateValue)(&o.Rate), "rate", "messages per second per publisher (0 or 'max' for unlimited; 20k works)")
	totalRate := fs.String("total-rate", "", "messages per second over all publishers (sets -rate)")
	fs.Var((*sizeValue)(&o.Size), "size", "payload bytes (64, 4KiB, 1MiB)")
	qos := fs.Int("qos", int(o.QoS), "publish QoS 0, 1 or 2")
	subQoS := fs.Int("sub-qos", -1, "subscription QoS (default: the publish QoS)")
	fs.IntVar(&o.Inflight, "inflight", o.Inflight, "QoS 1/2: unacknowledged messages per publisher")
	fs.IntVar(&o.Window, "window", o.Window, "closed loop: messages per publisher not yet received by the in-tool subscribers (-1: auto, 800 per subscriber queue and 64 k deliveries per publisher at most; 0: open loop, only -inflight and TCP back-pressure)")
	fs.BoolVar(&o.Retain, "retain", o.Retain, "publish with the retain flag")
	fs.StringVar(&o.Topic, "topic", o.Topic, "publish topic pattern (%i index, %r role, %c client id, %n run tag)")
	fs.StringVar(&o.Filter, "filter", o.Filter, "subscription filter pattern (conn: empty for none)")
	fs.StringVar(&o.ClientID, "client-id", o.ClientID, "client identifier pattern")
	fs.StringVar(&o.SharedGroup, "group", o.SharedGroup, "shared scenario: the group of $share/<group>/<filter>")
	fs.StringVar(&o.Username, "username", o.Username, "user name sent in CONNECT")
	fs.StringVar(&o.Password, "password", o.Password, "password sent in CONNECT")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "how long to publish (conn: to hold the connections)")
	fs.Int64Var(&o.Count, "count", o.Count, "messages per publisher (0: until -duration)")
	fs.DurationVar(&o.Drain, "drain", o.Drain, "longest wait for late deliveries once publishing stops")
	fs.DurationVar(&o.KeepAlive, "keepalive", o.KeepAlive, "MQTT keep alive")
	fs.DurationVar(&o.SessionExpiry, "session-expiry", 0, "persistent sessions: clean session false (3.x) / this Session Expiry Interval (5); 0 for clean sessions")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "bound of the connect and subscribe phase")
	ifaddr := fs.String("ifaddr", "", "local source addresses, e.g. 127.0.0.1,127.0.0.2-127.0.0.16 (round robin)")
	fs.IntVar(&o.Loops, "loops", o.Loops, "event loops of the tool (default: one per CPU)")
	fs.IntVar(&o.BrokerPID, "broker-pid", o.BrokerPID, "report RSS and CPU time of this broker process")
	fs.StringVar(&o.MetricsCmd, "metrics-cmd", o.MetricsCmd, "shell command printing the broker's 'messages.dropped : N', run before and after")
	fs.StringVar(&o.JSON, "json", o.JSON, "write the result as one JSON object to this file ('-': stdout)")
	quiet := fs.Bool("quiet", false, "no progress line")
	fs.BoolVar(&o.HoldStdin, "hold-stdin", false, "end the window (conn: close the clients) early when standard input reaches end of file")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *clients > 0 {
		switch s {
		case "conn", "sub":
			o.Subs = *clients
		case "pub", "echo":
			o.Pubs = *clients
		case "p2p":
			o.Pubs, o.Subs = *clients, *clients
		default:
			return o, fmt.Errorf("-clients is ambiguous for %s: use -pubs and -subs", s)
		}
	}
	if *qos < 0 || *qos > 2 {
		return o, fmt.Errorf("-qos %d: want 0, 1 or 2", *qos)
	}
	o.QoS = byte(*qos)
	o.SubQoS = o.QoS
	if *subQoS >= 0 {
		if *subQoS > 2 {
			return o, fmt.Errorf("-sub-qos %d: want 0, 1 or 2", *subQoS)
		}
		o.SubQoS = byte(*subQoS)
	}
	if *totalRate != "" {
		var r rateValue
		if err := r.Set(*totalRate); err != nil {
			return o, fmt.Errorf("-total-rate: %w", err)
		}
		if o.Pubs > 0 {
			o.Rate = float64(r) / float64(o.Pubs)
		}
	}
	if *ifaddr != "" {
		ips, err := parseAddrList(*ifaddr)
		if err != nil {
			return o, fmt.Errorf("-ifaddr: %w", err)
		}
		o.IfAddrs = ips
	}
	o.Progress = !*quiet
	return o, o.validate()
}

// validate checks the combination of options.
func (o *Options) validate() error {
	known := false
	for _, s := range scenarios {
		known = known || s == o.Scenario
	}
	if !known {
		return fmt.Errorf("unknown scenario %q (known: %s)", o.Scenario, strings.Join(scenarios, ", "))
	}
	switch o.Transport {
	case "tcp", "tls", "psk", "ws", "wss":
	default:
		return fmt.Errorf("unknown transport %q (tcp, tls, psk, ws, wss)", o.Transport)
	}
	if err := checkLoopback(o.Broker); err != nil {
		return err
	}
	if o.SubBroker != "" {
		if err := checkLoopback(o.SubBroker); err != nil {
			return err
		}
	}
	for _, ip := range o.IfAddrs {
		if !ip.IsLoopback() {
			return fmt.Errorf("source address %s is not a loopback address", ip)
		}
	}
	if o.Pubs < 0 || o.Subs < 0 || o.Pubs+o.Subs == 0 {
		return errors.New("no clients: set -pubs/-subs or -clients")
	}
	if o.Scenario == "conn" && o.Pubs > 0 {
		return errors.New("conn holds idle connections: no publishers")
	}
	if o.Pubs > 0 && o.Topic == "" {
		return errors.New("publishers need -topic")
	}
	if o.Scenario == "echo" && o.Subs > 0 {
		return errors.New("echo: each publisher subscribes to its own topic; no -subs")
	}
	if o.Subs > 0 && o.Filter == "" && o.Scenario != "conn" {
		return errors.New("subscribers need -filter")
	}
	for _, p := range []string{o.Topic, o.Filter, o.ClientID} {
		if err := checkPattern(p); err != nil {
			return err
		}
	}
	if o.Size < stampSize {
		return fmt.Errorf("-size %d: the payload carries a %d-byte stamp (publisher, sequence, time)", o.Size, stampSize)
	}
	if o.Size > 64<<20 {
		return fmt.Errorf("-size %d: larger than 64 MiB", o.Size)
	}
	if o.Inflight < 1 || o.Inflight > 65535 {
		return fmt.Errorf("-inflight %d: want 1 to 65535", o.Inflight)
	}
	if o.Window < -1 {
		return errors.New("-window: -1 (auto), 0 (open loop) or a message count")
	}
	if o.Duration <= 0 && o.Count == 0 {
		return errors.New("the run needs a bound: -duration or -count")
	}
	if o.Duration <= 0 {
		o.Duration = 24 * time.Hour // -count bounds it
	}
	if o.Count < 0 || o.Rate < 0 || o.ConnRate < 0 {
		return errors.New("counts and rates must not be negative")
	}
	if o.ConnWorkers < 1 {
		o.ConnWorkers = 1
	}
	if o.KeepAlive < 0 || o.KeepAlive > 65535*time.Second {
		return fmt.Errorf("-keepalive %s: want 0 to 65535s", o.KeepAlive)
	}
	return nil
}

// checkLoopback refuses any broker address outside 127.0.0.0/8 and ::1: this tool
// sends load, and load goes to machines of one's own only through an explicit opt-in.
func checkLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("broker address %q: %w", hostport, err)
	}
	if os.Getenv("EMQX_BENCH_ALLOW_REMOTE") == "1" {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("broker %q is not a loopback address (set EMQX_BENCH_ALLOW_REMOTE=1 on a test network of your own)", hostport)
	}
	return nil
}

// parseAddrList parses "127.0.0.1,127.0.0.5-127.0.0.9,127.0.1.1-20" into addresses.
func parseAddrList(s string) ([]net.IP, error) {
	var out []net.IP
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		from, to, isRange := strings.Cut(part, "-")
		first := net.ParseIP(from).To4()
		if first == nil {
			return nil, fmt.Errorf("%q is not an IPv4 address", from)
		}
		if !isRange {
			out = append(out, first)
			continue
		}
		var last net.IP
		if n, err := strconv.Atoi(to); err == nil {
			if n < 0 || n > 255 {
				return nil, fmt.Errorf("range end %q out of 0-255", to)
			}
			last = net.IPv4(first[0], first[1], first[2], byte(n)).To4()
		} else if last = net.ParseIP(to).To4(); last == nil {
			return nil, fmt.Errorf("%q is not an IPv4 address", to)
		}
		a, b := ipToUint(first), ipToUint(last)
		if b < a || b-a >= 1<<20 {
			return nil, fmt.Errorf("range %q is empty or too large", part)
		}
		for v := a; v <= b; v++ {
			out = append(out, net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)).To4())
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no address")
	}
	return out, nil
}

func ipToUint(ip net.IP) uint32 {
	return uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3])
}

// sizeValue parses byte sizes: 64, 4k, 4KiB, 1MB, 1MiB (k and K are 1024).
type sizeValue int

func (v *sizeValue) String() string { return strconv.Itoa(int(*v)) }

func (v *sizeValue) Set(s string) error {
	n, err := parseSize(s)
	*v = sizeValue(n)
	return err
}

func parseSize(s string) (int, error) {
	t := strings.TrimSpace(s)
	mult := 1
	lower := strings.ToLower(t)
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"k", 1 << 10}, {"m", 1 << 20}, {"b", 1}} {
		if strings.HasSuffix(lower, u.suffix) {
			t, mult = t[:len(t)-len(u.suffix)], u.mult
			break
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(t))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

// rateValue parses rates: 2500, 20k, 1.5M, 0, max or unlimited (0).
type rateValue float64

func (v *rateValue) String() string { return strconv.FormatFloat(float64(*v), 'g', -1, 64) }

func (v *rateValue) Set(s string) error {
	r, err := parseRate(s)
	*v = rateValue(r)
	return err
}

func parseRate(s string) (float64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "max" || t == "unlimited" {
		return 0, nil
	}
	mult := 1.0
	switch {
	case strings.HasSuffix(t, "k"):
		t, mult = t[:len(t)-1], 1e3
	case strings.HasSuffix(t, "m"):
		t, mult = t[:len(t)-1], 1e6
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("bad rate %q", s)
	}
	return f * mult, nil
}

// versionValue parses an MQTT version: 3.1, 3.1.1, 5, 5.0 or the protocol level 3, 4, 5.
type versionValue codec.Version

func (v *versionValue) String() string { return codec.Version(*v).String() }

func (v *versionValue) Set(s string) error {
	switch strings.TrimSpace(s) {
	case "3.1", "3":
		*v = versionValue(codec.V31)
	case "3.1.1", "4", "311":
		*v = versionValue(codec.V311)
	case "5", "5.0":
		*v = versionValue(codec.V5)
	default:
		return fmt.Errorf("unknown MQTT version %q (3.1, 3.1.1, 5)", s)
	}
	return nil
}
