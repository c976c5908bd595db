package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/emqgo/emqgo/codec"
)

// runner carries out one load run. Its fields are set up before the event loops start
// and read-only after, except the atomics and what loopFor guards.
type runner struct {
	o       Options
	runText string // %n in patterns
	runTag  uint16 // in every stamp
	base    time.Time
	log     io.Writer // progress and notes

	cli       *gnet.Client
	transport *transportConfig // tls, ws, wss; nil for tcp
	pubs      []*client        // by publisher id
	subs      []*client
	scopes    []*scope

	mu       sync.Mutex
	loops    map[gnet.EventLoop]*loopState
	loopList []*loopState

	connected, ready, failed, lost atomic.Int64
	publishing, stopping, closing  atomic.Bool

	errMu  sync.Mutex
	errors map[string]int
}

func newRunner(o Options, log io.Writer) *runner {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &runner{
		o: o, runText: hex.EncodeToString(b[:3]), runTag: binary.BigEndian.Uint16(b[2:]),
		base: time.Now(), log: log, loops: map[gnet.EventLoop]*loopState{}, errors: map[string]int{},
	}
}

// mono returns monotonic nanoseconds since the run began.
func (r *runner) mono() int64 { return int64(time.Since(r.base)) }

func (r *runner) note(format string, args ...any) {
	if r.log != nil {
		fmt.Fprintf(r.log, format+"\n", args...)
	}
}

func (r *runner) loopFor(el gnet.EventLoop) *loopState {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.loops[el]
	if l == nil {
		l = &loopState{el: el, delivered: make([]uint64, len(r.pubs))}
		l.task = gnet.RunnableFunc(func(context.Context) error { r.tick(l); return nil })
		r.loops[el] = l
		r.loopList = append(r.loopList, l)
	}
	return l
}

func (r *runner) loopSnapshot() []*loopState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*loopState(nil), r.loopList...)
}

// fail marks cl failed with a reason (counted by reason, so that 10 k identical refusals
// make one line).
func (r *runner) fail(cl *client, why string) {
	if cl.state == stateFailed {
		return
	}
	if cl.state != stateReady {
		r.failed.Add(1)
	} else {
		r.lost.Add(1)
	}
	cl.state = stateFailed
	cl.dead.Store(true)
	r.addError(why)
}

func (r *runner) lostConn(cl *client, err error) {
	why := "connection closed by the broker"
	if err != nil {
		why += ": " + err.Error()
	}
	r.fail(cl, why)
}

func (r *runner) addError(why string) {
	r.errMu.Lock()
	r.errors[why]++
	r.errMu.Unlock()
}

// build creates the clients and scopes of the scenario.
func (r *runner) build() {
	o := &r.o
	numPubs := o.Pubs
	all := make([]uint32, numPubs)
	for i := range all {
		all[i] = uint32(i)
	}
	var shared *scope
	for i := 0; i < o.Subs; i++ {
		role := "sub"
		if o.Scenario == "conn" {
			role = "conn"
		}
		cl := r.newClient(role, i)
		if o.Filter != "" {
			f := expandPattern(o.Filter, patternVars{Index: i, Role: role, ClientID: string(cl.id), Run: r.runText})
			if o.Scenario == "shared" {
				f = codec.SharePrefix + o.SharedGroup + "/" + f
			}
			cl.filter = []byte(f)
		}
		switch o.Scenario {
		case "p2p":
			var exp []uint32
			if i < numPubs {
				exp = []uint32{uint32(i)}
			}
			cl.scope = newScope(numPubs, exp)
		case "shared":
			if shared == nil {
				shared = newScope(numPubs, all)
			}
			cl.scope = shared
		default:
			cl.scope = newScope(numPubs, all)
		}
		if len(r.scopes) == 0 || r.scopes[len(r.scopes)-1] != cl.scope {
			r.scopes = append(r.scopes, cl.scope)
		}
		r.subs = append(r.subs, cl)
	}
	var echo []*scope
	if o.Scenario == "echo" {
		for i := 0; i < numPubs; i++ {
			echo = append(echo, newScope(numPubs, []uint32{uint32(i)}))
		}
		r.scopes = echo
	}
	copies := make([]uint64, numPubs)
	perScope := 1
	for _, sc := range r.scopes {
		for _, p := range sc.expects {
			copies[p]++
		}
		perScope = max(perScope, len(sc.expects))
	}
	payload := make([]byte, o.Size)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	for i := 0; i < numPubs; i++ {
		cl := r.newClient("pub", i)
		topic := expandPattern(o.Topic, patternVars{Index: i, Role: "pub", ClientID: string(cl.id), Run: r.runText})
		p := &publisher{id: uint32(i), copies: copies[i], payload: append([]byte(nil), payload...)}
		if p.copies > 0 {
			p.window = int64(closedWindow(o.Window, perScope, p.copies))
		}
		p.msg = codec.Publish{QoS: o.QoS, Retain: o.Retain, Topic: []byte(topic), Payload: p.payload}
		if o.QoS > 0 {
			p.ids = make([]uint64, 1024)
		}
		cl.pub = p
		if echo != nil {
			cl.filter, cl.scope = []byte(topic), echo[i]
		}
		r.pubs = append(r.pubs, cl)
	}
}

func (r *runner) windowOf0() int {
	if len(r.pubs) == 0 {
		return 0
	}
	return int(r.pubs[0].pub.window)
}

// closedWindow returns the closed-loop window of a publisher whose messages go to copies
// in-tool deliveries, where a subscriber hears up to perScope publishers. Auto (-1) keeps every
// subscriber's queue in the broker at about 800 messages, below the usual 1000-message queue
// limits (Mosquitto's max_queued_messages, EMQX's max_mqueue_len), and a publisher's
// undelivered copies at 64 k at most, with at least 16 messages in flight.
func closedWindow(window, perScope int, copies uint64) int {
	if window >= 0 {
		return window
	}
	w := 800 / max(perScope, 1)
	w = min(w, int(65536/max(copies, 1)))
	return max(w, 16)
}

func (r *runner) newClient(role string, i int) *client {
	id := expandPattern(r.o.ClientID, patternVars{Index: i, Role: role, Run: r.runText})
	return &client{r: r, idx: i, role: role, id: []byte(id)}
}

// connectPacket returns the CONNECT of cl (called on its loop from OnOpen).
func (r *runner) connectPacket(cl *client) []byte {
	c := codec.Connect{Version: r.o.Version, CleanStart: true, KeepAlive: uint16(r.o.KeepAlive / time.Second), ClientID: cl.id}
	if r.o.SessionExpiry > 0 {
		c.CleanStart = false
		if c.Version == codec.V5 {
			c.Props.SetSessionExpiry(uint32(r.o.SessionExpiry / time.Second))
		}
	}
	if r.o.Username != "" {
		c.UsernameFlag, c.Username = true, []byte(r.o.Username)
		if r.o.Password != "" {
			c.PasswordFlag, c.Password = true, []byte(r.o.Password)
		}
	}
	return codec.AppendConnect(nil, &c)
}

// connectAll dials clients at the connect rate with ConnWorkers dials in progress and
// waits until each is ready or failed, or the timeout.
func (r *runner) connectAll(ctx context.Context, clients []*client) error {
	if len(clients) == 0 {
		return nil
	}
	o := &r.o
	target := r.ready.Load() + r.failed.Load() + int64(len(clients))
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	workers := min(o.ConnWorkers, len(clients))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := next.Add(1) - 1
				if k >= int64(len(clients)) || ctx.Err() != nil {
					return
				}
				if o.ConnRate > 0 {
					due := start.Add(time.Duration(float64(k) / o.ConnRate * 1e9))
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
				}
				r.dial(clients[k], int(k))
			}
		}()
	}
	wg.Wait()
	deadline := start.Add(o.Timeout)
	for r.ready.Load()+r.failed.Load() < target {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("connect phase timed out: %d of %d clients ready", r.ready.Load(), target-r.failed.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

func (r *runner) dial(cl *client, k int) {
	d := net.Dialer{Timeout: 10 * time.Second}
	if n := len(r.o.IfAddrs); n > 0 {
		d.LocalAddr = &net.TCPAddr{IP: r.o.IfAddrs[k%n]}
		// Let connect() pick the port per destination, so that each source address
		// brings its own ~28 k ports instead of sharing bind()'s pool.
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	var nc net.Conn
	var err error
	addr := r.o.Broker
	if cl.role == "sub" && r.o.SubBroker != "" {
		addr = r.o.SubBroker
	}
	if r.transport != nil {
		nc, err = r.transport.dialTransport(context.Background(), &d, r.o.Transport, addr)
	} else {
		nc, err = d.Dial("tcp", addr)
	}
	if err != nil {
		r.failed.Add(1)
		r.addError("dial: " + trimErr(err))
		return
	}
	if _, err := r.cli.EnrollContext(nc, cl); err != nil {
		r.failed.Add(1)
		r.addError("enroll: " + trimErr(err))
	}
}

// trimErr drops the addresses from a dial error so that equal causes count as one.
func trimErr(err error) string {
	var op *net.OpError
	if e, ok := err.(*net.OpError); ok {
		op = e
		return op.Op + ": " + op.Err.Error()
	}
	return err.Error()
}

// pace runs the pacing task on every loop every millisecond until ctx ends: publishers
// top up their windows and, once a second, idle clients send PINGREQ.
func (r *runner) pace(ctx context.Context) {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	lastPing := time.Now()
	keep := r.o.KeepAlive / 2
	if keep <= 0 {
		keep = 1<<63 - 1
	}
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			ping := now.Sub(lastPing) >= min(keep, time.Second)
			if ping {
				lastPing = now
			}
			for _, l := range r.loopSnapshot() {
				if ping {
					l.pingDue.Store(true)
				}
				r.kick(l)
			}
		}
	}
}

// kick queues the pacing task on loop l unless it is queued already. Safe from any goroutine.
func (r *runner) kick(l *loopState) {
	if l.pending.Swap(true) {
		return
	}
	_ = l.el.Execute(context.Background(), l.task)
}

func (r *runner) tick(l *loopState) {
	l.pending.Store(false)
	now := time.Now().UnixNano()
	for _, cl := range l.pubs {
		cl.fill(now)
	}
	if !l.pingDue.Load() || r.closing.Load() {
		return
	}
	l.pingDue.Store(false)
	keep := int64(r.o.KeepAlive / 2)
	if keep <= 0 {
		return
	}
	m := r.mono()
	var pkt [2]byte
	for _, cl := range l.clients {
		if cl.state != stateFailed && m-cl.lastOut > keep {
			_, _ = cl.conn.Write(codec.AppendPingreq(pkt[:0]))
			cl.lastOut = m
		}
	}
}

// totals is the sum of every loop's counters and publisher's at one moment.
type totals struct {
	sent, acked, recv, fresh, dups, late, foreign, unexpected, protoErr uint64
	inflight                                                            int64
	stalls                                                              uint64
	allDone                                                             bool
}

func (r *runner) totals() totals {
	var t totals
	for _, l := range r.loopSnapshot() {
		t.sent += l.sent.Load()
		t.acked += l.acked.Load()
		t.recv += l.recv.Load()
		t.fresh += l.fresh.Load()
		t.dups += l.dups.Load()
		t.late += l.late.Load()
		t.foreign += l.foreign.Load()
		t.unexpected += l.unexpected.Load()
		t.protoErr += l.protoErr.Load()
	}
	t.allDone = len(r.pubs) > 0
	for _, cl := range r.pubs {
		t.inflight += cl.pub.inflight.Load()
		t.stalls += cl.pub.stalls.Load()
		t.allDone = t.allDone && (cl.pub.done.Load() || cl.dead.Load())
	}
	return t
}

func (r *runner) latency() (lat, conn *Histogram) {
	lat, conn = NewHistogram(), NewHistogram()
	for _, l := range r.loopSnapshot() {
		l.lat.snapshotInto(lat)
		l.connLat.snapshotInto(conn)
	}
	return lat, conn
}

// expected returns how many first deliveries the in-tool subscribers must have and how
// many they have, over every scope and publisher (lost = expected - received, per pair).
func (r *runner) expected() (want, got, lost uint64) {
	for _, sc := range r.scopes {
		for _, p := range sc.expects {
			pub := r.pubs[p].pub
			n := pub.sent.Load()
			if r.o.QoS > 0 {
				n = pub.acked.Load()
			}
			d := sc.distinct(p)
			want += n
			got += min(d, n)
			if d < n {
				lost += n - d
			}
		}
	}
	return want, got, lost
}

var droppedRe = regexp.MustCompile(`messages[._/]dropped\S*\s*[:=]?\s*(\d+)`)

// brokerDropped runs the metrics command and returns messages.dropped, or -1.
func brokerDropped(cmd string) int64 {
	if cmd == "" {
		return -1
	}
	out, err := exec.Command("sh", "-c", cmd).Output()
	if err != nil {
		return -1
	}
	m := droppedRe.FindSubmatch(out)
	if m == nil {
		return -1
	}
	n, err := strconv.ParseInt(string(m[1]), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// run carries out the whole run and returns its result.
func (r *runner) run(ctx context.Context) (*Result, error) {
	o := &r.o
	perClient := 1
	if o.Transport != "tcp" {
		perClient = 3 // the real connection and both ends of the socket pair
		tc, err := newTransportConfig(o)
		if err != nil {
			return nil, err
		}
		r.transport = tc
	}
	if err := checkFileLimit((o.Pubs + o.Subs) * perClient); err != nil {
		return nil, err
	}
	r.build()
	loops := o.Loops
	if loops <= 0 {
		loops = runtime.NumCPU()
	}
	cli, err := gnet.NewClient(&handler{r: r}, gnet.WithMulticore(true), gnet.WithNumEventLoop(loops),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay), gnet.WithLogger(quietLogger{}), gnet.WithReadBufferCap(256<<10))
	if err != nil {
		return nil, fmt.Errorf("cannot create the gnet client: %w", err)
	}
	if err := cli.Start(); err != nil {
		return nil, fmt.Errorf("cannot start the gnet client: %w", err)
	}
	r.cli = cli
	defer func() {
		r.closing.Store(true)
		_ = cli.Stop()
	}()
	paceCtx, stopPace := context.WithCancel(ctx)
	defer stopPace()
	go r.pace(paceCtx)

	res := &Result{Label: o.Label, Scenario: o.Scenario, Broker: o.Broker, Version: o.Version.String(),
		QoS: int(o.QoS), Size: o.Size, Pubs: o.Pubs, Subs: o.Subs, RatePerPub: o.Rate,
		OfferedTotal: o.Rate * float64(o.Pubs), Window: r.windowOf0(), Inflight: o.Inflight, Start: time.Now().UTC().Format(time.RFC3339)}
	res.Broker0 = readProc(o.BrokerPID)
	drop0 := brokerDropped(o.MetricsCmd)

	// Subscribers first, so that no message is published before its receivers exist.
	t0, tool0 := time.Now(), selfCPU()
	if err := r.connectAll(ctx, r.subs); err != nil {
		return nil, err
	}
	if err := r.connectAll(ctx, r.pubs); err != nil {
		return nil, err
	}
	res.ConnectSeconds = time.Since(t0).Seconds()
	res.Connected = int(r.connected.Load())
	res.ConnectFailed = int(r.failed.Load())
	if res.ConnectSeconds > 0 {
		res.ConnectRate = float64(res.Connected) / res.ConnectSeconds
	}
	res.connectCPU(readProc(o.BrokerPID), selfCPU()-tool0)
	if r.transport != nil {
		res.TLS = r.transport.tlsRun.String() + r.transport.resume.String()
	}
	r.note("connected %d clients in %.2fs (%d failed)", res.Connected, res.ConnectSeconds, res.ConnectFailed)
	if res.Connected == 0 {
		return nil, fmt.Errorf("no client connected: %s", r.errorSummary())
	}

	if o.Settle > 0 {
		time.Sleep(o.Settle)
	}
	// Publishing window.
	b1, cpu1, rem1 := readProc(o.BrokerPID), selfCPU(), readProc(o.RemotePID)
	res.BrokerConnected = b1
	start := time.Now()
	r.publishing.Store(true)
	prev, prevT := r.totals(), start
	tick := time.NewTicker(time.Second)
	check := time.NewTicker(20 * time.Millisecond)
	defer check.Stop()
	var released <-chan struct{} // stays nil (never ready) without HoldStdin
	if o.HoldStdin {
		released = stdinClosed()
	}
	var sec int
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-released:
			break loop
		case <-check.C:
			if time.Since(start) >= o.Duration || (o.Count > 0 && r.totals().allDone) {
				break loop
			}
		case now := <-tick.C:
			sec++
			t := r.totals()
			dt := now.Sub(prevT).Seconds()
			lat, _ := r.latency()
			s := Sample{T: now.Sub(start).Seconds(), SentRate: float64(t.sent-prev.sent) / dt,
				RecvRate: float64(t.recv-prev.recv) / dt, P99us: us(lat.Quantile(0.99)), Conns: r.connected.Load() - r.lost.Load()}
			res.Series = append(res.Series, s)
			if o.Progress {
				r.note("[%3ds] conns %d  sent %s/s  recv %s/s  p99 %s  inflight %d%s", sec, s.Conns,
					human(s.SentRate), human(s.RecvRate), fmtDur(lat.Quantile(0.99)), t.inflight, r.lossNote(t))
			}
			prev, prevT = t, now
		}
	}
	tick.Stop()
	r.stopping.Store(true)
	window := time.Since(start)
	tw := r.totals()
	b2, cpu2, rem2 := readProc(o.BrokerPID), selfCPU(), readProc(o.RemotePID)

	// Drain: wait for inflight acknowledgements and late deliveries.
	if len(r.pubs) > 0 {
		deadline, quiet := time.Now().Add(o.Drain), time.Now()
		last := tw.recv
		for time.Now().Before(deadline) && ctx.Err() == nil {
			t := r.totals()
			want, got, _ := r.expected()
			if t.inflight == 0 && got >= want {
				break
			}
			if t.recv != last {
				last, quiet = t.recv, time.Now()
			} else if time.Since(quiet) > time.Second && (t.inflight == 0 || o.QoS == 0) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	tf := r.totals()
	lat, connLat := r.latency()
	want, got, lost := r.expected()
	res.fill(window, tw, tf, lat, connLat, b1, b2, cpu2-cpu1)
	res.fillRemote(tw, rem1, rem2)
	res.Expected, res.Delivered, res.Lost = want, got, lost
	if len(r.scopes) == 0 || len(r.pubs) == 0 {
		res.Expected, res.Delivered, res.Lost = 0, 0, 0
	}
	res.Broker2 = readProc(o.BrokerPID)
	if o.Scenario == "conn" && res.Broker0.ok && res.Broker2.ok && res.Connected > 0 {
		res.RSSPerConn = float64(res.Broker2.RSS-res.Broker0.RSS) / float64(res.Connected)
	}
	if drop0 >= 0 {
		if d := brokerDropped(o.MetricsCmd); d >= 0 {
			v := d - drop0
			res.BrokerDrops = &v
		}
	}
	res.LostConns = int(r.lost.Load())
	res.ToolRSS = readProc(os.Getpid()).RSS
	res.Errors = r.errorList()
	return res, nil
}

func (r *runner) lossNote(t totals) string {
	s := ""
	if t.dups > 0 {
		s += fmt.Sprintf("  dup %d", t.dups)
	}
	if n := r.lost.Load(); n > 0 {
		s += fmt.Sprintf("  lost-conns %d", n)
	}
	return s
}

func (r *runner) errorList() []string {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	var out []string
	for k, n := range r.errors {
		out = append(out, fmt.Sprintf("%dx %s", n, k))
	}
	sort.Strings(out)
	return out
}

func (r *runner) errorSummary() string {
	l := r.errorList()
	if len(l) == 0 {
		return "no error recorded"
	}
	if len(l) > 3 {
		l = l[:3]
	}
	return fmt.Sprint(l)
}

// checkFileLimit refuses a run that cannot open its sockets: every client holds one file,
// plus a few dozen for the runtime, gnet's pollers and the reports. (Go raises the soft limit
// to the hard one at start-up; beyond the hard limit only root and fs.nr_open help.)
func checkFileLimit(clients int) error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return nil
	}
	if need := uint64(clients) + 64; need > rl.Cur {
		return fmt.Errorf("%d clients need about %d open files, the limit is %d (ulimit -n; see bench/README.md for large runs)", clients, need, rl.Cur)
	}
	return nil
}

// quietLogger keeps gnet from logging to stdout; errors reach stderr.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(f string, a ...any) {
	panic(fmt.Sprintf("gnet: "+f, a...))
}
