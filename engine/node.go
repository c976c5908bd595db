package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/ants/v2"
	"github.com/panjf2000/gnet/v2"

	"github.com/emqgo/emqgo/engine/acl"
	"github.com/emqgo/emqgo/sessions"
	"github.com/emqgo/emqgo/trie"
)

// Version is the broker version, set at build time with -ldflags -X.
var Version = "0.1.0-dev"

// SysDescr is the broker description reported by emqx_ctl broker and $SYS.
const SysDescr = "emqgo, an EMQX-class MQTT broker in Go"

// Node is one running broker. Its exported methods are safe for concurrent use from any
// goroutine (the control channel, the HTTP API, $SYS, bridges).
type Node struct {
	cfg *Config
	log *slog.Logger

	subs     *trie.Index[*sessions.Session]
	retained *trie.Retained[*sessions.Message]
	reg      sessions.Registry
	acl      atomic.Pointer[acl.Rules]
	timers   *timers
	auth     atomic.Pointer[[]Authenticator] // authentication chain; empty: allow_anonymous decides
	authz    atomic.Pointer[[]Authorizer]    // access-control chain before acl.conf; empty: acl.conf alone
	hooks    atomic.Pointer[hookSet]         // installed hooks, nil when none (hooks.go)
	routes   atomic.Pointer[routeWatch]      // local interest for the cluster, nil when none (peer.go)
	locator  SessionLocator                  // sessions on other nodes, nil when none (peer_sessions.go)
	hookReg  hookRegistry
	pool     *ants.Pool // side pool for work that may block (authentication)

	loopsMu sync.Mutex
	loops   atomic.Pointer[[]*loop] // every loop seen so far, indexed by loop.idx
	side    *loop                   // routing context for callers outside the loops

	eng      gnet.Engine
	engMu    sync.Mutex
	boot     chan struct{}
	done     chan error
	byAddr   map[netip.AddrPort]*listenerState // bound address of each listener served by the loops
	started  time.Time
	stopping atomic.Bool
	stopOnce sync.Once

	stats nodeStats
	mods  moduleState
	tls   tlsState  // TLS listeners (listener_tls.go)
	bans  banTable  // banned clients (banned.go)
	flap  flapState // flapping detection (flapping.go)

	// dur makes state durable (durable.go): over Config.Store, or memoryOnly. hasStore and
	// storeHint (dur's downHint) are the cheap gates in front of it on the publish path.
	dur       durability
	hasStore  bool
	storeHint *atomic.Bool

	// ext holds the counters of plugins that Metrics adds (metrics_ext.go).
	ext extMetrics
	// relays are the sessions handed over to another node and relaying (peer_relay.go); last,
	// so that the fields above keep their places.
	relays relays
}

type listenerState struct {
	Listener
	conns  atomic.Int64
	bucket connBucket   // max_conn_rate
	admLog admissionLog // refusals and delays since the last summary
	ctl    listenerCtl  // stopped by emqx_ctl, refusal counts (listeners.go)
}

// New prepares a node; Start binds its listeners.
func New(cfg *Config, log *slog.Logger) (*Node, error) {
	if cfg == nil {
		return nil, errors.New("engine: nil config")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Listeners) == 0 {
		return nil, errors.New("engine: no listener configured")
	}
	n := &Node{
		cfg:      cfg,
		log:      log,
		subs:     trie.New[*sessions.Session](),
		retained: trie.NewRetained[*sessions.Message](cfg.RetainerMaxMessages, cfg.RetainerMaxPayload),
		boot:     make(chan struct{}),
		done:     make(chan error, 1),
		byAddr:   make(map[netip.AddrPort]*listenerState),
	}
	n.acl.Store(cfg.ACL)
	n.mods.skipLogged = make([]atomic.Bool, len(cfg.AutoSubscriptions))
	n.initDurability()
	empty := make([]*loop, 0)
	n.loops.Store(&empty)
	n.timers = newTimers(n)
	size := cfg.SidePoolSize
	if size <= 0 {
		size = 4096
	}
	pool, err := ants.NewPool(size, ants.WithNonblocking(true), ants.WithPanicHandler(func(v any) {
		log.Error("BUG: panic on the side pool", "panic", v)
	}))
	if err != nil {
		return nil, fmt.Errorf("engine: side pool: %w", err)
	}
	n.pool = pool
	return n, nil
}

// Config returns the node's configuration. Read-only.
func (n *Node) Config() *Config { return n.cfg }

// Start binds every listener and starts the event loops. It returns once the node accepts
// connections, or with the first bind error.
func (n *Node) Start() error {
	addrs := make([]string, 0, len(n.cfg.Listeners))
	for i := range n.cfg.Listeners {
		l := &n.cfg.Listeners[i]
		if l.Kind == "ssl" || l.Kind == "wss" {
			if err := n.bindTLS(l); err != nil {
				n.stopTLS()
				return err
			}
			continue
		}
		if l.Kind != "tcp" && (l.Kind != "ws" || l.WebSocket == nil) {
			continue
		}
		// Resolve now so that a bad address is reported with the listener's name, and so
		// that connections can be mapped back to their listener by local address.
		ta, err := net.ResolveTCPAddr("tcp", l.Addr)
		if err != nil {
			n.stopTLS()
			return fmt.Errorf("listener.%s.%s: cannot resolve %q: %w", l.Kind, l.Name, l.Addr, err)
		}
		// Check the port is free first: gnet reports a failed bind as an unrelated
		// setsockopt error in some versions.
		probe, err := net.ListenTCP("tcp", ta)
		if err != nil {
			n.stopTLS()
			return fmt.Errorf("listener.%s.%s: cannot listen on %s: %w", l.Kind, l.Name, l.Addr, err)
		}
		bound := probe.Addr().(*net.TCPAddr)
		probe.Close()
		if ta.Port == 0 {
			ta.Port = bound.Port // tests ask for port 0: keep the one the kernel chose
		}
		n.byAddr[addrPort(ta)] = &listenerState{Listener: *l}
		addrs = append(addrs, "tcp://"+ta.String())
	}
	if len(addrs) == 0 {
		n.stopTLS()
		return errors.New("engine: no TCP listener configured")
	}
	if err := n.dur.load(); err != nil {
		n.stopTLS()
		return fmt.Errorf("engine: loading retained messages and sessions from the durable store: %w", err)
	}
	loops := n.cfg.LoopCount
	if loops <= 0 {
		loops = runtime.NumCPU()
	}
	opts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(loops),
		// Every loop listens on every address (SO_REUSEPORT) and accepts for itself: without
		// it gnet runs one more goroutine that accepts and hands connections over, and three
		// busy goroutines on two cores made connects wait up to a scheduler time slice (10 ms).
		// Always on, also for one loop: then no acceptor goroutine uses gnet's balancer, which
		// discoverLoops uses at start (its round-robin index is not synchronised).
		gnet.WithReusePort(true),
		gnet.WithReuseAddr(true),
		gnet.WithTicker(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{n.log}),
		// One read takes up to 256 KiB: with 4 KiB payloads that is 64 messages per read
		// syscall (8 % less CPU per message than 64 KiB on the test box). Per loop, not per
		// connection.
		gnet.WithReadBufferCap(256 << 10),
	}
	if _, err := presizeFDTable(fdTableSize); err != nil { // before the loops accept (fdtable_linux.go)
		n.log.Warn("cannot size the file descriptor table at start; connect storms may stall the loops while it grows", "err", err)
	}
	n.started = time.Now()
	go func() {
		err := gnet.Rotate(&handler{n: n}, addrs, opts...)
		n.done <- err
	}()
	select {
	case <-n.boot:
	case err := <-n.done:
		n.stopTLS()
		return fmt.Errorf("engine: cannot start listeners %v: %w", addrs, err)
	case <-time.After(10 * time.Second):
		n.stopTLS()
		return fmt.Errorf("engine: listeners %v did not start within 10s", addrs)
	}
	if err := n.startTLS(loops); err != nil {
		n.stopTLS()
		return err
	}
	n.timers.start()
	for a, ls := range n.byAddr {
		n.log.Info("listener started", "listener", ls.Kind+":"+ls.Name, "addr", a)
	}
	return nil
}

// Addr returns the bound address of a listener, e.g. for tests that listen on port 0: name
// is "kind:name" ("ws:external"), or a bare name for a TCP listener ("external").
func (n *Node) Addr(name string) string {
	kind := "tcp"
	if k, nm, ok := strings.Cut(name, ":"); ok {
		kind, name = k, nm
	}
	for a, ls := range n.byAddr {
		if ls.Name == name && ls.Kind == kind {
			return a.String()
		}
	}
	return ""
}

// Stop stops accepting, tells MQTT 5 clients DISCONNECT 0x8B (server shutting down), closes
// every connection and stops the loops, waiting at most until ctx is done, then flushes and
// closes the durable store.
func (n *Node) Stop(ctx context.Context) error {
	var err error
	n.stopOnce.Do(func() {
		defer n.dur.close()
		n.stopping.Store(true)
		n.stopTLS()
		n.shutdownConns()
		n.timers.stop()
		n.pool.Release()
		n.engMu.Lock()
		eng := n.eng
		n.engMu.Unlock()
		if err = eng.Stop(ctx); err != nil {
			err = fmt.Errorf("engine: stopping event loops: %w", err)
			return
		}
		select {
		case <-n.done:
		case <-ctx.Done():
			err = ctx.Err()
		}
	})
	return err
}

// Name returns the node's name (node.name, e.g. emqx@127.0.0.1). Safe for concurrent use.
func (n *Node) Name() string { return n.cfg.NodeName }

// Uptime returns how long the node has been running.
func (n *Node) Uptime() time.Duration { return time.Since(n.started) }

// Started returns when the node started.
func (n *Node) Started() time.Time { return n.started }

// SetACL replaces the ACL rules (acl reload); nil removes every rule. Takes effect for the
// next check on every loop.
func (n *Node) SetACL(r *acl.Rules) { n.acl.Store(r) }

// loopFor returns the loop state of gnet loop el, creating it the first time a loop is seen.
func (n *Node) loopFor(el gnet.EventLoop) *loop {
	for _, l := range *n.loops.Load() {
		if l.el == el {
			return l
		}
	}
	n.loopsMu.Lock()
	defer n.loopsMu.Unlock()
	cur := *n.loops.Load()
	for _, l := range cur {
		if l.el == el {
			return l
		}
	}
	l := newLoop(n, el, len(cur))
	next := make([]*loop, len(cur)+1)
	copy(next, cur)
	next[len(cur)] = l
	n.loops.Store(&next)
	return l
}

// gnetLogger routes gnet's own log lines to the node's logger.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug(fmt.Sprintf(f, a...), "component", "gnet") }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Info(fmt.Sprintf(f, a...), "component", "gnet") }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn(fmt.Sprintf(f, a...), "component", "gnet") }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...), "component", "gnet") }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...), "component", "gnet") }
