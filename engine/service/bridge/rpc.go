package bridge

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emqgo/emqgo/codec"
)

// RPC bridges (the guide's bridge.mqtt.<name>.address = emqx2@host): forward-only bridges to a
// node of another of our clusters. The bridge is the same internal subscriber with the same
// replayq queue as an MQTT bridge; only the link differs. It dials the remote node's RPC
// listener (engine/service/cluster/rpcserver.go, an embedded NATS server on the remote's
// rpc.tcp_server_port) as a NATS client, user emqgo-rpc with node.cookie as password, and
// sends the queue in batches as requests on emqgo.rpc.publish: each request's body is a
// sequence of records (a uvarint length, then the message as an MQTT 5 PUBLISH packet, the
// mountpoint already applied). The remote publishes the batch on its node, from where its
// cluster routes it to every subscriber, and replies; only then do the batch's messages leave
// the queue. Up to max_inflight_batches batches wait for their replies. When the link drops, or
// a reply takes longer than RPC.Timeout, the link is closed and everything unanswered is sent
// again in queue order after reconnecting: at least once, in order.
//
// The constants below are the remote's (cluster.RPCUser ...): the two services meet only on
// the wire, so each side states them; the cmd tests run one against the other.
const (
	rpcUser        = "emqgo-rpc"
	rpcSubject     = "emqgo.rpc.publish"
	rpcErrorHeader = "Emqgo-Error"
	rpcFromHeader  = "Emqgo-From"
)

// RPC is the remote of an RPC bridge.
type RPC struct {
	Node   string // the remote's node name (name@host), for logs
	Cookie string // node.cookie, which both clusters share: the link's password
	From   string // this node's name, sent with each batch
	// Timeout bounds the wait for a batch's reply and for a connection (0: 15s); past it the
	// link is dropped and the unanswered batches go again.
	Timeout time.Duration
	// TLS, when set (cluster.ssl.*, as between the nodes of a cluster), runs the link over
	// TLS: the remote's listener requires it when its own cluster.ssl is on. Not modified.
	TLS *tls.Config
}

var errRPCSubscription = errors.New("an RPC bridge only forwards: subscriptions are for MQTT bridges (address = host:port)")

// checkRPC checks an RPC bridge's settings; Address is the remote's RPC listener.
func (c *Config) checkRPC() error {
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		return fmt.Errorf("bridge %s: RPC listener address %q of node %s is not host:port: %v", c.Name, c.Address, c.RPC.Node, err)
	}
	// Forward-only: the wiring warns about configured subscriptions; those of a state file
	// were saved by an MQTT bridge of the same name.
	c.Subscriptions = nil
	if c.RPC.Timeout <= 0 {
		c.RPC.Timeout = 15 * time.Second
	}
	return nil
}

// RPCAddress returns the RPC listener address of node name (name@host or name@host:port):
// the name's port when it has one, else defaultPort (rpc.tcp_client_port). ok is false when
// address is not a node name.
func RPCAddress(name string, defaultPort int) (addr string, ok bool) {
	n, host, found := strings.Cut(name, "@")
	if !found || n == "" || host == "" {
		return "", false
	}
	if h, p, err := net.SplitHostPort(host); err == nil {
		if _, err := strconv.Atoi(p); err == nil && h != "" {
			return net.JoinHostPort(h, p), true
		}
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(defaultPort)), true
}

// rpcLink is one connection to the remote's RPC listener. The worker goroutine sends; the
// NATS client's goroutine delivers replies (onReply) and the close (down).
type rpcLink struct {
	b     *Bridge
	nc    *nats.Conn
	inbox string        // replies come to inbox + "." + batch id
	down  chan struct{} // closed when the connection is closed
	wake  chan struct{} // a reply made room in the window
	limit int64         // bytes of a request body, below the server's max_payload

	mu      sync.Mutex
	pending map[uint64]*rpcBatch
	nextID  uint64
}

type rpcBatch struct {
	seqs []uint64
	sent time.Time
}

// ctxDialer dials for the NATS client until ctx ends (Stop during a connection attempt).
type ctxDialer struct {
	ctx     context.Context
	timeout time.Duration
}

func (d ctxDialer) Dial(network, address string) (net.Conn, error) {
	return (&net.Dialer{Timeout: d.timeout}).DialContext(d.ctx, network, address)
}

// dialRPC connects to the remote's RPC listener; ctx ends the attempt.
func (b *Bridge) dialRPC(ctx context.Context) (*rpcLink, error) {
	r := b.cfg.RPC
	l := &rpcLink{b: b, down: make(chan struct{}), wake: make(chan struct{}, 1), pending: map[uint64]*rpcBatch{}}
	var once sync.Once
	opts := []nats.Option{
		nats.UserInfo(rpcUser, r.Cookie), nats.Name("bridge:" + b.cfg.Name + "@" + r.From),
		nats.NoReconnect(), nats.Timeout(r.Timeout), nats.SetCustomDialer(ctxDialer{ctx, r.Timeout}), nats.PingInterval(r.Timeout), nats.MaxPingsOutstanding(2),
		nats.ClosedHandler(func(*nats.Conn) { once.Do(func() { close(l.down) }) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			b.log.Warn("RPC bridge link error", "node", r.Node, "error", err)
		}),
	}
	if r.TLS != nil {
		opts = append(opts, nats.Secure(r.TLS.Clone()))
	}
	nc, err := nats.Connect("nats://"+b.cfg.Address, opts...)
	if err != nil {
		err = fmt.Errorf("cannot connect to node %s at %s: %w", r.Node, b.cfg.Address, err)
		msg := err.Error()
		b.lastError.Store(&msg)
		return nil, err
	}
	l.nc = nc
	l.limit = nc.MaxPayload() - 1024 // room for the header
	l.inbox = nc.NewRespInbox()
	if _, err := nc.Subscribe(l.inbox+".*", l.onReply); err != nil {
		nc.Close()
		return nil, fmt.Errorf("node %s: cannot subscribe to replies: %w", r.Node, err)
	}
	if err := nc.Flush(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("node %s: %w", r.Node, err)
	}
	return l, nil
}

// startRPC is Start for an RPC bridge: one connection attempt, then the worker.
func (b *Bridge) startRPC(ctx context.Context) error {
	l, err := b.dialRPC(ctx)
	if err != nil {
		return err
	}
	b.mu.Lock()
	if b.stop != nil {
		b.mu.Unlock()
		l.nc.Close()
		return ErrAlreadyStarted
	}
	b.stop, b.done = make(chan struct{}), make(chan struct{})
	stop, done := b.stop, b.done
	b.state.Store(int32(Connected))
	b.mu.Unlock()
	go b.runRPC(stop, done, l)
	return nil
}

// runRPC is an RPC bridge's worker goroutine (run for MQTT bridges): it serves a link until it
// ends, then reconnects with a growing delay, until stop is closed.
func (b *Bridge) runRPC(stop <-chan struct{}, done chan<- struct{}, l *rpcLink) {
	defer close(done)
	defer b.state.Store(int32(Stopped))
	delay := min(time.Second, b.cfg.ReconnectInterval)
	for {
		if l == nil {
			b.state.Store(int32(Connecting))
			ctx, cancel := stopContext(stop)
			var err error
			l, err = b.dialRPC(ctx)
			cancel()
			if err != nil {
				b.log.Warn("RPC bridge cannot connect to the remote node; retrying", "node", b.cfg.RPC.Node, "in", delay, "error", err)
				select {
				case <-stop:
					return
				case <-time.After(delay):
				}
				delay = min(delay*2, b.cfg.ReconnectInterval)
				continue
			}
		}
		b.connected()
		delay = min(time.Second, b.cfg.ReconnectInterval)
		b.log.Info("RPC bridge connected", "node", b.cfg.RPC.Node, "address", b.cfg.Address)
		err := l.serve(stop)
		l.nc.Close()
		select {
		case <-stop:
			return
		default:
		}
		if err == nil {
			err = l.nc.LastError()
		}
		if err == nil {
			err = errors.New("connection closed")
		}
		msg := err.Error()
		b.lastError.Store(&msg)
		b.log.Warn("RPC bridge lost the remote node; reconnecting", "node", b.cfg.RPC.Node, "error", err)
		l = nil
	}
}

// serve sends the queue over the link until it drops, a reply is overdue, or stop.
func (l *rpcLink) serve(stop <-chan struct{}) error {
	b := l.b
	b.q.Rewind() // what was sent and not answered goes again, in order
	b.state.Store(int32(Connected))
	t := time.NewTicker(max(b.cfg.RPC.Timeout/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		if err := l.fill(); err != nil {
			return err
		}
		select {
		case <-b.wake:
		case <-l.wake:
		case <-t.C:
			if l.overdue() {
				return fmt.Errorf("node %s did not answer a batch within %s", b.cfg.RPC.Node, b.cfg.RPC.Timeout)
			}
		case <-l.down:
			return nil
		case <-stop:
			return nil
		}
	}
}

func (l *rpcLink) overdue() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, bt := range l.pending {
		if time.Since(bt.sent) > l.b.cfg.RPC.Timeout {
			return true
		}
	}
	return false
}

// fill sends batches while fewer than max_inflight_batches wait for their reply.
func (l *rpcLink) fill() error {
	b := l.b
	var pub codec.Publish
	// Items as queued; each record adds the mountpoint and a few bytes (length, expiry).
	limit := max(min(b.cfg.BatchBytes, l.limit-int64(b.cfg.BatchCount*(len(b.cfg.Mountpoint)+16))), 1)
	for {
		l.mu.Lock()
		full := len(l.pending) >= b.cfg.MaxInflightBatches
		l.mu.Unlock()
		if full {
			return nil
		}
		items, err := b.q.Pop(b.cfg.BatchCount, limit)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return nil
		}
		now := time.Now()
		var done []uint64 // expired, undecodable, too large: out of the queue at once
		bt := &rpcBatch{sent: now}
		body := make([]byte, 0, 64*len(items))
		for _, it := range items {
			expiry, ok := b.decodeForSend(it.Data, &pub, now)
			switch {
			case !ok:
				done = append(done, it.Seq)
				continue
			case int64(len(it.Data)+len(b.cfg.Mountpoint)+16) > l.limit:
				b.tooLarge.Add(1)
				b.log.Warn("bridged message larger than the remote node's RPC limit; dropped", "topic", string(pub.Topic), "bytes", len(pub.Payload))
				done = append(done, it.Seq)
				continue
			}
			body = appendRPCRecord(body, &pub, expiry, b.cfg.Mountpoint, now)
			bt.seqs = append(bt.seqs, it.Seq)
		}
		if len(done) > 0 {
			b.q.Ack(done...)
		}
		if len(bt.seqs) == 0 {
			continue
		}
		l.mu.Lock()
		l.nextID++
		id := l.nextID
		l.pending[id] = bt
		l.mu.Unlock()
		m := nats.NewMsg(rpcSubject)
		m.Reply = l.inbox + "." + strconv.FormatUint(id, 10)
		m.Header.Set(rpcFromHeader, b.cfg.RPC.From)
		m.Data = body
		if err := l.nc.PublishMsg(m); err != nil {
			return fmt.Errorf("cannot send a batch to node %s: %w", b.cfg.RPC.Node, err)
		}
	}
}

// appendRPCRecord appends one record: the length, then pub as an MQTT 5 PUBLISH under the
// mountpoint, with what remains of its expiry.
func appendRPCRecord(dst []byte, pub *codec.Publish, expiry int64, mountpoint string, now time.Time) []byte {
	if mountpoint != "" {
		pub.Topic = append([]byte(mountpoint), pub.Topic...)
	}
	if expiry != 0 {
		pub.Props.SetMessageExpiry(uint32(max((expiry-now.UnixNano()+int64(time.Second)-1)/int64(time.Second), 1)))
	}
	if pub.QoS > 0 {
		pub.PacketID = 1 // required on the wire; meaningless between nodes
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0) // room for the length: 5 bytes of uvarint hold 32 bits
	dst = codec.AppendPublish(dst, pub, codec.V5)
	size := len(dst) - start - 5
	var lb [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(lb[:], uint64(size))
	copy(dst[start+k:], dst[start+5:])
	copy(dst[start:], lb[:k])
	return dst[:start+k+size]
}

// onReply removes an answered batch's messages from the queue.
func (l *rpcLink) onReply(m *nats.Msg) {
	b := l.b
	i := strings.LastIndexByte(m.Subject, '.')
	id, err := strconv.ParseUint(m.Subject[i+1:], 10, 64)
	if err != nil {
		return
	}
	l.mu.Lock()
	bt := l.pending[id]
	delete(l.pending, id)
	l.mu.Unlock()
	if bt == nil {
		return
	}
	if e := m.Header.Get(rpcErrorHeader); e != "" {
		// The remote cannot read the batch: sending it again would not help.
		b.log.Error("remote node refused an RPC bridge batch; dropped", "node", b.cfg.RPC.Node, "messages", len(bt.seqs), "reason", e)
		b.expired.Add(uint64(len(bt.seqs)))
	} else {
		b.sent.Add(uint64(len(bt.seqs)))
	}
	b.q.Ack(bt.seqs...)
	select {
	case l.wake <- struct{}{}:
	default:
	}
}
