package cluster

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emqgo/emqgo/engine"
)

// Membership.
//
// Every node publishes a heartbeat on subjCast each Options.Heartbeat with its name, its
// run's identity (boot), its route address and the sequence number of its last route
// announcement. A node heard from is running; one not heard for three heartbeats is down
// (its forwarders are closed: nothing is sent to it); one down for cluster.autoclean is
// forgotten. A node back with the same boot was cut off rather than restarted: it rejoins
// when cluster.autoheal is on, else it stays out until `cluster join` names it. The nodes
// ever seen are kept in <data_dir>/cluster_nodes.json and dialled at start, so a restarted
// node finds its cluster again even when the node it first joined is down.

// castMsg is a message on subjCast.
type castMsg struct {
	Type   string   `json:"t"` // hb, routes, left, forget, bye
	Node   string   `json:"n"`
	Boot   int64    `json:"b"`
	Route  string   `json:"r,omitempty"` // hb: host:port of the node's routes
	Seq    uint64   `json:"s,omitempty"` // hb, routes: sequence number of the route announcement
	Add    []string `json:"a,omitempty"`
	Del    []string `json:"d,omitempty"`
	Target string   `json:"x,omitempty"` // forget: the node removed
	Peers  []string `json:"p,omitempty"` // hb: the other nodes the sender sees running
}

// member is another node as this node sees it. Guarded by Service.mu.
type member struct {
	name      string
	boot      int64
	route     string
	lastSeen  time.Time
	running   bool
	downSince time.Time // zero while running or never seen down
	outside   bool      // back after being cut off, with autoheal off: not readmitted
	peers     []string  // the nodes it sees running (its last heartbeat)
	stale     time.Time // first heartbeat, while down here, that listed this node running (heal.go)

	// Its routes: applied through seq of its announcements (synced: from a snapshot on).
	seq     uint64
	synced  bool
	filters map[string]bool
	fwd     *engine.Subscriber            // its ordinary filters
	out     *frameOut                     // fwd's frames (frameout.go)
	groups  map[string]*engine.Subscriber // one per shared filter
}

// dropRoutes closes the member's forwarders: nothing is sent to it until it syncs again.
func (m *member) dropRoutes() {
	if m.fwd != nil {
		m.fwd.Close()
		m.fwd = nil
	}
	if m.out != nil {
		m.out.close()
		m.out = nil
	}
	for _, g := range m.groups {
		g.Close()
	}
	m.groups, m.filters, m.synced, m.seq = nil, nil, false, 0
}

// loop sends heartbeats and route announcements and watches the other nodes.
func (s *Service) loop() {
	defer s.wg.Done()
	t := time.NewTicker(s.o.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.kick:
			s.announce()
		case <-t.C:
			s.announce()
			s.heartbeat()
			s.checkMembers()
		}
	}
}

func (s *Service) cast(c *castMsg) {
	nc := s.conn.Load()
	if nc == nil {
		return
	}
	c.Node, c.Boot = s.o.NodeName, s.boot.Load()
	b, _ := json.Marshal(c)
	if c.Type == "routes" {
		s.met.castOut.Add(uint64(len(b)))
	}
	if err := nc.Publish(subjCast, b); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		s.log.Warn("cluster: cannot publish", "subject", subjCast, "error", err)
	}
}

func (s *Service) heartbeat() {
	if s.leaving.Load() {
		return
	}
	s.pendMu.Lock()
	seq := s.seq
	s.pendMu.Unlock()
	host, _ := nodeHost(s.o.NodeName)
	if h, _, err := splitListen(s.o.Listen); err == nil && h != "0.0.0.0" && h != "::" {
		host = h
	}
	s.mu.Lock()
	var peers []string
	for name, m := range s.members {
		if m.running {
			peers = append(peers, name)
		}
	}
	s.mu.Unlock()
	s.cast(&castMsg{Type: "hb", Route: joinHostPort(host, s.port), Seq: seq, Peers: peers})
}

func (s *Service) checkMembers() {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, m := range s.members {
		if m.running && now.Sub(m.lastSeen) > 3*s.o.Heartbeat {
			m.running, m.downSince = false, now
			m.dropRoutes()
			s.log.Warn("cluster: node is down (its clients' wills wait: wills.go)", "peer", name)
		}
		if !m.running && s.o.Autoclean > 0 && !m.downSince.IsZero() && now.Sub(m.downSince) > s.o.Autoclean {
			s.log.Warn("cluster: forgetting a node down for longer than cluster.autoclean", "peer", name, "autoclean", s.o.Autoclean)
			s.nodeDownLocked(name)
			s.forgetLocked(name)
		}
	}
}

// onCast handles heartbeats, route announcements and departures, in the order sent.
func (s *Service) onCast(msg *nats.Msg) {
	var c castMsg
	if err := json.Unmarshal(msg.Data, &c); err != nil || c.Node == "" || c.Node == s.o.NodeName {
		return
	}
	switch c.Type {
	case "hb":
		s.onHeartbeat(&c)
	case "routes":
		s.met.castIn.Add(uint64(len(msg.Data)))
		s.onRoutes(&c)
	case "bye": // stopping: down now, its clients' wills are due
		s.mu.Lock()
		if m := s.members[c.Node]; m != nil && m.boot == c.Boot && m.running {
			m.running, m.downSince = false, time.Now()
			m.dropRoutes()
			s.log.Warn("cluster: node is stopping", "peer", c.Node)
			s.nodeDownLocked(c.Node)
		}
		s.mu.Unlock()
	case "left":
		s.mu.Lock()
		s.log.Info("cluster: node left the cluster", "peer", c.Node)
		s.forgetLocked(c.Node)
		s.mu.Unlock()
	case "forget":
		if c.Target != s.o.NodeName {
			s.mu.Lock()
			s.log.Info("cluster: node removed from the cluster", "peer", c.Target, "by", c.Node)
			s.forgetLocked(c.Target)
			s.mu.Unlock()
		}
	}
}

func (s *Service) onHeartbeat(c *castMsg) {
	if s.leaving.Load() {
		// This node is leaving: a heartbeat still on its way from a former peer must not make
		// that peer a member again between the clearing of the members and the backbone's
		// close (cluster leave would then list it as running).
		return
	}
	now := time.Now()
	s.mu.Lock()
	if boot, ok := s.departed[c.Node]; ok && boot == c.Boot {
		s.mu.Unlock()
		return // it left; what is still on its way is ignored
	}
	m := s.members[c.Node]
	fresh := m == nil || m.boot != c.Boot
	if m == nil {
		m = &member{name: c.Node, boot: c.Boot}
		s.members[c.Node] = m
		s.log.Info("cluster: node joined", "peer", c.Node, "route", c.Route)
	}
	if m.boot != c.Boot { // restarted: whatever it had is gone
		s.nodeWillsLocked(c.Node, c.Boot) // its earlier run's clients lost their connections
		m.dropRoutes()
		m.boot, m.outside, m.downSince = c.Boot, false, time.Time{}
	}
	if fresh { // a node new to this one: ask for its retained messages
		if nc := s.conn.Load(); nc != nil {
			nc.Publish(subjNode+token(c.Node)+".retained", []byte(s.o.NodeName))
		}
		if !s.closed { // and for the client ids of its sessions (sessions.go)
			s.wg.Add(1)
			go s.syncSessions(c.Node)
		}
	}
	if m.route != c.Route {
		m.route = c.Route
		s.saveKnownLocked()
	}
	m.lastSeen = now
	m.peers = c.Peers
	if !m.running {
		if m.outside {
			s.mu.Unlock()
			return
		}
		if !m.downSince.IsZero() && !s.o.Autoheal {
			m.outside = true
			s.log.Warn("cluster: a node that was cut off is back; cluster.autoheal is off, so it stays out until `emqx_ctl cluster join` names it", "peer", c.Node)
			s.mu.Unlock()
			return
		}
		if !m.downSince.IsZero() && s.staleLocked(m, c, now) { // autoheal (heal.go)
			s.mu.Unlock()
			return
		}
		if !m.downSince.IsZero() {
			s.healLocked(c)
		}
		m.running, m.downSince = true, time.Time{}
	}
	resync := !m.synced || c.Seq > m.seq
	s.mu.Unlock()
	if resync {
		s.syncRoutes(c.Node)
	}
}

// forgetLocked removes a node: its forwarders, its explicit route, its place in the known
// nodes. Hold s.mu.
func (s *Service) forgetLocked(name string) {
	s.forgetNodeSessions(name)
	if m := s.members[name]; m != nil {
		m.dropRoutes()
		delete(s.members, name)
		s.departed[name] = m.boot
	}
	kept := s.explicit[:0:0]
	for _, e := range s.explicit {
		if baseName(e) != name {
			kept = append(kept, e)
		}
	}
	if len(kept) != len(s.explicit) {
		s.explicit = kept
		s.reloadRoutesLocked()
	}
	s.saveKnownLocked()
}

func (s *Service) reloadRoutesLocked() {
	if s.bb == nil {
		return
	}
	if err := s.bb.setRoutes(s.routeURLs()); err != nil {
		s.log.Warn("cluster: cannot change the cluster routes", "error", err)
	}
}

// knownFile is where the nodes this one knows are kept.
func (s *Service) knownFile() string {
	if s.o.DataDir == "" {
		return ""
	}
	return filepath.Join(s.o.DataDir, "cluster_nodes.json")
}

// loadKnown reads the known nodes (name@host:port), for the explicit routes at start.
func (s *Service) loadKnown() []string {
	f := s.knownFile()
	if f == "" {
		return nil
	}
	b, err := os.ReadFile(f)
	if err != nil {
		if !os.IsNotExist(err) {
			s.log.Warn("cluster: cannot read the known nodes", "file", f, "error", err)
		}
		return nil
	}
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		s.log.Warn("cluster: cannot read the known nodes", "file", f, "error", err)
		return nil
	}
	return slices.DeleteFunc(names, func(n string) bool { return validNodeName(n) != nil || baseName(n) == s.o.NodeName })
}

// saveKnownLocked writes the known nodes. Hold s.mu.
func (s *Service) saveKnownLocked() {
	f := s.knownFile()
	if f == "" {
		return
	}
	var names []string
	seen := map[string]bool{}
	for name, m := range s.members {
		if m.route != "" {
			n, _, _ := strings.Cut(name, "@")
			names = append(names, n+"@"+m.route)
			seen[name] = true
		}
	}
	for _, e := range s.explicit {
		if !seen[baseName(e)] {
			names = append(names, e)
		}
	}
	slices.Sort(names)
	b, _ := json.Marshal(names)
	tmp := f + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err == nil {
		err = os.Rename(tmp, f)
		if err == nil {
			return
		}
	}
	s.log.Warn("cluster: cannot save the known nodes", "file", f)
}
