// Package cluster joins nodes into an EMQX-style cluster over an embedded NATS server per
// node (github.com/nats-io/nats-server/v2, in-process), connected to the other nodes' servers
// by NATS cluster routes: membership (emqx_ctl cluster join|leave|force-leave|status, static
// seeds, heartbeats, autoclean, autoheal), cluster-wide routes (each node announces the
// topic filters its own subscribers want; every other node holds an internal subscriber per
// node subscribed to those filters, whose deliveries it forwards to that node), shared
// subscriptions across nodes, replication of retained messages, sessions that move to the
// node where their client connects (sessions.go) without losing the messages routed to them
// meanwhile (move.go: the old node relays them until the new node's routes are everywhere),
// and the wills of a stopped or dead node's clients (wills.go: a node only seen down may be
// cut off by a partition, so its wills wait for cluster.autoclean or its restart, and never
// fire if it comes back with its clients). A clustering node also runs the RPC listener (rpcserver.go), where RPC
// bridges of other clusters deliver.
//
// It is a side service: it uses only engine.Node's exported API (WatchRoutes, NewSubscriber
// with Peer, RouteFromPeer, RetainFromPeer, AddHooks, SetSessionLocator, HandOver,
// HandOverRelay, AdoptSession, PublishWill). Nothing runs on the event loops but
// the route watch and the retained-message hook, which only queue work.
package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emqgo/emqgo/engine"
	"github.com/emqgo/emqgo/sessions"
)

// Options configure the service (cluster.* and node.* keys).
type Options struct {
	NodeName    string        // node.name, name@host
	ClusterName string        // cluster.name
	Listen      string        // cluster.listen: route listener, "port" or "ip:port"
	Cookie      string        // node.cookie: the routes' password
	Discovery   string        // cluster.discovery: "manual" or "static"
	Seeds       []string      // cluster.static.seeds
	Autoheal    bool          // cluster.autoheal
	Autoclean   time.Duration // cluster.autoclean; 0: never
	// DataDir holds the list of known nodes (cluster_nodes.json), so that a restarted node
	// rejoins; "" keeps it in memory only.
	DataDir string
	// Heartbeat is how often nodes announce themselves (default 1s); a node not heard for
	// three heartbeats is down.
	Heartbeat time.Duration
	Log       *slog.Logger
	// TLS, when set, runs the routes over TLS, this configuration serving both the accepting
	// and the dialling side (transport.PeerTLS); TLSTimeout bounds a handshake (0: 2s).
	TLS        *tls.Config
	TLSTimeout time.Duration
	DNS        DNSOptions // cluster.discovery = dns (discovery_dns.go)
}

// Service is a node's membership in a cluster. Its methods are safe for concurrent use.
type Service struct {
	n    *engine.Node
	o    Options
	log  *slog.Logger
	port int // route port, also the default port of other nodes
	// boot is this node's identity in heartbeats: new at start and after leaving a cluster.
	boot atomic.Int64
	// leaving silences the heartbeats while the node leaves.
	leaving atomic.Bool
	// left stops dns discovery once the node left a cluster (leave, force-leave, joining
	// another): the operator's decision holds until a restart.
	left atomic.Bool
	// lastTake is when (unix ns) this node last replaced its retained messages by the
	// winning side's after a partition (heal.go).
	lastTake atomic.Int64

	ops sync.Mutex // serialises join, leave and force-leave

	mu          sync.Mutex
	bb          *backbone
	explicit    []string // node names (maybe with :port) this node routes to itself
	members     map[string]*member
	departed    map[string]int64 // node -> boot it left with: its last heartbeats are ignored
	handlers    map[string]func([]byte) ([]byte, error)
	closed      bool
	conn        atomic.Pointer[nats.Conn] // bb.nc, for the forwarders
	inbound     *engine.Subscriber        // the handle through which peers' messages are routed
	removeHooks func()

	// Local interest: changes from the route watch wait in incoming (chgMu, the only lock an
	// event loop may take here) until the loop moves them to pending and announces them with
	// the next sequence number (pendMu, held while publishing).
	chgMu     sync.Mutex
	incoming  []routeChange
	pendMu    sync.Mutex
	pending   []routeChange
	announced map[string]bool
	seq       uint64
	kick      chan struct{}

	retainQ  chan *sessions.Message
	connectQ chan connectMsg

	// Sessions and wills of other nodes' clients (sessions.go, wills.go); dirMu is taken on
	// event loops, only around map operations.
	dirMu  sync.Mutex
	owners map[string]string             // client id → the other node holding its session
	wills  map[string]map[string]willRec // node → client id → its connection's will
	// localWills: client id → ConnectedAt of this node's connections whose will was announced.
	localWills map[string]int64
	handOvers  chan struct{} // hand-overs being served
	relaysOut  relayTable    // sessions handed over, relayed until the new node ends it (move.go)

	stop chan struct{}
	wg   sync.WaitGroup

	dropped atomic.Uint64 // messages not forwarded (queue full, frame too large)

	flows sync.Map // receiving node's token -> *flow (flow.go)
	acks  acks     // answers to forwarded frames not sent yet (flow.go)
	met   clusterMetrics
}

type routeChange struct {
	filter string
	added  bool
}

// New prepares the service and installs its route watch; call it before n.Start, then Start
// after. It does not listen yet.
func New(n *engine.Node, o Options) (*Service, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = time.Second
	}
	if err := validNodeName(o.NodeName); err != nil {
		return nil, fmt.Errorf("cluster: node.name: %w", err)
	}
	switch o.Discovery {
	case "", "manual", "static":
	case "dns":
		if err := o.DNS.check(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("cluster: cluster.discovery = %s is not supported (manual, static or dns)", o.Discovery)
	}
	_, port, err := splitListen(o.Listen)
	if err != nil {
		return nil, err
	}
	for _, seed := range o.Seeds {
		if err := validNodeName(seed); err != nil {
			return nil, fmt.Errorf("cluster: cluster.static.seeds: %w", err)
		}
	}
	s := &Service{
		n: n, o: o, log: o.Log, port: port,
		members:    make(map[string]*member),
		departed:   make(map[string]int64),
		handlers:   make(map[string]func([]byte) ([]byte, error)),
		announced:  make(map[string]bool),
		kick:       make(chan struct{}, 1),
		retainQ:    make(chan *sessions.Message, 10000),
		connectQ:   make(chan connectMsg, 10000),
		owners:     make(map[string]string),
		wills:      make(map[string]map[string]willRec),
		localWills: make(map[string]int64),
		handOvers:  make(chan struct{}, maxHandOvers),
		stop:       make(chan struct{}),
	}
	s.boot.Store(time.Now().UnixNano())
	if err := n.WatchRoutes(s.routeChanged); err != nil {
		return nil, err
	}
	if err := n.SetSessionLocator(locator{s}); err != nil {
		return nil, err
	}
	return s, nil
}

// Handle registers fn as the answer to Call(node, method) from other nodes. Register before
// Start. fn runs on a backbone goroutine.
func (s *Service) Handle(method string, fn func(req []byte) ([]byte, error)) {
	s.mu.Lock()
	s.handlers[method] = fn
	s.mu.Unlock()
}

// Start starts the embedded server, connects to the known nodes (and the static seeds) and
// begins announcing this node. Call after the node started.
func (s *Service) Start() error {
	inbound, err := s.n.NewSubscriber(engine.SubscriberOptions{Name: "cluster", Peer: true, Handle: func([]engine.Delivery) {}})
	if err != nil {
		return err
	}
	s.inbound = inbound
	s.addMetrics()
	s.removeHooks = s.n.AddHooks(&engine.Hooks{MessagePublished: s.published, ClientConnected: s.connected,
		ClientDisconnected: s.disconnected, SessionTerminated: s.terminated})
	known := s.loadKnown()
	if s.o.Discovery == "static" {
		for _, seed := range s.o.Seeds {
			if baseName(seed) != s.o.NodeName && !slices.Contains(known, seed) {
				known = append(known, seed)
			}
		}
	}
	s.mu.Lock()
	s.explicit = known
	err = s.rebuildLocked(s.o.ClusterName)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if s.o.Discovery == "dns" {
		s.wg.Add(1)
		go s.discoverDNS()
	}
	s.wg.Add(3)
	go s.loop()
	go s.sendRetained()
	go s.sendConnects()
	return nil
}

// Close tells the other nodes that this one stops (one of them publishes the wills of its
// clients: wills.go), stops the server and forgets the peers. Call it when the node stops,
// before its connections close. Safe to call more than once.
func (s *Service) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.cast(&castMsg{Type: "bye"})
	s.closed = true
	close(s.stop)
	bb := s.bb
	s.bb = nil
	s.conn.Store(nil)
	for _, m := range s.members {
		m.dropRoutes()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if s.removeHooks != nil {
		s.removeHooks()
	}
	if bb != nil {
		bb.close()
	}
	if s.inbound != nil {
		s.inbound.Close()
	}
}

// rebuildLocked replaces the backbone with a fresh one routing to s.explicit. Hold s.mu.
func (s *Service) rebuildLocked(clusterName string) error {
	if s.bb != nil {
		s.conn.Store(nil)
		s.bb.close()
		s.bb = nil
	}
	bb, err := startBackbone(&s.o, clusterName, s.routeURLs(), s.log)
	if err != nil {
		return err
	}
	if err := s.subscribe(bb.nc); err != nil {
		bb.close()
		return err
	}
	s.bb = bb
	s.conn.Store(bb.nc)
	return nil
}

// subscribe sets up the node's subjects on a new connection.
func (s *Service) subscribe(nc *nats.Conn) error {
	me := token(s.o.NodeName)
	subs := []struct {
		subj string
		fn   nats.MsgHandler
	}{
		{subjCast, s.onCast},
		{subjRetain, s.onRetain},
		{subjClients, s.onConnect},
		{subjRetainTo + me, s.onRetain},
		{subjFwd + me, s.onForward},
		{subjNode + me + ".>", s.onRequest},
		{subjSession + me, s.onHandOver},
		{subjSessionList + me, s.onSessionList},
		{subjAck + me + ".*", s.onAck},
		{subjMoveRoutes + me, s.onMoveRoutes},
		{subjMoveEnd + me, s.onMoveEnd},
	}
	for _, x := range subs {
		sub, err := nc.Subscribe(x.subj, x.fn)
		if err != nil {
			return fmt.Errorf("cluster: cannot subscribe to %s: %w", x.subj, err)
		}
		sub.SetPendingLimits(-1, 512<<20)
	}
	return nc.Flush()
}

// Subjects of the backbone.
const (
	subjCast   = "emqgo.cast"   // heartbeats, route changes, leave/forget (one subscription: ordered)
	subjRetain = "emqgo.retain" // retained messages, to every node
	// + node token: a node's retained messages copied to a node that just appeared
	subjRetainTo = "emqgo.retainto."
	subjFwd      = "emqgo.fwd."    // + node token: messages for that node's subscribers
	subjNode     = "emqgo.node."   // + node token + ".routes" | ".leave" | ".call.<method>"
	callPrefix   = ".call."        // after the node token
	reqTimeout   = 3 * time.Second // of requests between nodes
)

// RunningNodes returns the names of the running nodes, this one included, sorted.
func (s *Service) RunningNodes() []string {
	running, _ := s.status()
	return running
}

func (s *Service) status() (running, stopped []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	running = []string{s.o.NodeName}
	for name, m := range s.members {
		if m.running {
			running = append(running, name)
		} else {
			stopped = append(stopped, name)
		}
	}
	sort.Strings(running)
	sort.Strings(stopped)
	return running, stopped
}

// Call asks node to run the handler registered for method (Handle) with req and returns its
// answer. Calling this node runs the handler directly.
func (s *Service) Call(ctx context.Context, node, method string, req []byte) ([]byte, error) {
	if node == s.o.NodeName {
		s.mu.Lock()
		fn := s.handlers[method]
		s.mu.Unlock()
		if fn == nil {
			return nil, fmt.Errorf("cluster: no handler for %q", method)
		}
		return fn(req)
	}
	nc := s.conn.Load()
	if nc == nil {
		return nil, errors.New("cluster: not connected")
	}
	msg, err := nc.RequestWithContext(ctx, subjNode+token(node)+callPrefix+method, req)
	if err != nil {
		return nil, fmt.Errorf("cluster: %s on node %s: %w", method, node, err)
	}
	if e := msg.Header.Get("error"); e != "" {
		return nil, fmt.Errorf("cluster: %s on node %s: %s", method, node, e)
	}
	return msg.Data, nil
}

// Routes returns the cluster's routes as (filter, node) pairs: this node's local interest
// (its peers' subscriptions left out) and the other running nodes' announced filters, each
// filter without a $share/<group>/ or $queue/ prefix (as the routing table lists it).
func (s *Service) Routes() [][2]string {
	var out [][2]string
	for _, f := range s.n.LocalRoutes() {
		out = append(out, [2]string{plainFilter(f), s.o.NodeName})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, m := range s.members {
		if !m.running {
			continue
		}
		for f := range m.filters {
			out = append(out, [2]string{plainFilter(f), name})
		}
	}
	return out
}

// plainFilter strips a $share/<group>/ or $queue/ prefix.
func plainFilter(f string) string {
	if rest, ok := strings.CutPrefix(f, "$queue/"); ok {
		return rest
	}
	if rest, ok := strings.CutPrefix(f, "$share/"); ok {
		if _, plain, ok := strings.Cut(rest, "/"); ok {
			return plain
		}
	}
	return f
}

// Dropped counts messages that could not be forwarded to another node.
func (s *Service) Dropped() uint64 { return s.dropped.Load() }

// statusLine is EMQX's `cluster status` answer.
func (s *Service) statusLine() string {
	running, stopped := s.status()
	quote := func(names []string) string {
		q := make([]string, len(names))
		for i, n := range names {
			q[i] = "'" + n + "'"
		}
		return "[" + strings.Join(q, ",") + "]"
	}
	out := "Cluster status: [{running_nodes," + quote(running) + "}"
	if len(stopped) > 0 {
		out += ",{stopped_nodes," + quote(stopped) + "}"
	}
	return out + "]\n"
}
