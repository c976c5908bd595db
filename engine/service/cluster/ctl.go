package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Usage is the help of the cluster control command.
var Usage = []string{
	"cluster join <Node>           # Join the cluster",
	"cluster leave                 # Leave the cluster",
	"cluster force-leave <Node>    # Force the node leave from cluster",
	"cluster status                # Cluster status",
}

// joinWait bounds how long `cluster join` waits for the other node's first heartbeat.
const joinWait = 10 * time.Second

// leaveQuiet is how long a leaving node keeps its route port closed, so that the former
// peers' attempts to reconnect fail and they let it go.
const leaveQuiet = 2 * time.Second

// Command runs `emqx_ctl cluster ...` with EMQX 3.2's answers. Safe for concurrent use
// (operations are serialised).
func (s *Service) Command(args []string) (string, int) {
	switch {
	case len(args) == 1 && args[0] == "status":
		return s.statusLine(), 0
	case len(args) == 2 && args[0] == "join":
		return s.join(args[1])
	case len(args) == 1 && args[0] == "leave":
		return s.leave()
	case len(args) == 2 && args[0] == "force-leave":
		return s.forceLeave(args[1])
	}
	return usage(), 1
}

func usage() string { return "Usage:\n" + strings.Join(Usage, "\n") + "\n" }

func (s *Service) join(target string) (string, int) {
	if err := validNodeName(target); err != nil {
		return fmt.Sprintf("Failed to join the cluster: {bad_node_name,%q}\n", target), 1
	}
	name := baseName(target)
	if name == s.o.NodeName {
		return "Ignore.\n", 0
	}
	s.ops.Lock()
	defer s.ops.Unlock()
	s.mu.Lock()
	m := s.members[name]
	if m != nil && m.running {
		s.mu.Unlock()
		return fmt.Sprintf("Failed to join the cluster: {already_in_cluster,'%s'}\n", name), 1
	}
	if m != nil && m.outside { // readmit a node left out by autoheal = off
		m.outside, m.downSince = false, time.Time{}
	}
	// Joining a node of another cluster leaves this one, as in EMQX; a node this one knows
	// (down, or left out by autoheal = off) is of this cluster.
	otherCluster := m == nil && s.runningLocked() > 0
	s.mu.Unlock()
	if otherCluster {
		if err := s.leaveCluster(); err != nil {
			return fmt.Sprintf("Failed to join the cluster: %v\n", err), 1
		}
	}
	s.mu.Lock()
	if s.bb == nil {
		s.mu.Unlock()
		return "Failed to join the cluster: not_running\n", 1
	}
	s.explicit = append(s.explicit, target)
	s.reloadRoutesLocked()
	s.mu.Unlock()
	deadline := time.Now().Add(joinWait)
	var readyAt time.Time
	for time.Now().Before(deadline) {
		s.mu.Lock()
		m := s.members[name]
		ok := m != nil && m.running && m.synced
		if ok && readyAt.IsZero() {
			readyAt = time.Now()
		}
		// Then the nodes it sees (for three heartbeats at most), so that the status below
		// is the cluster's.
		if ok && time.Since(readyAt) < 3*s.o.Heartbeat {
			for _, p := range m.peers {
				if p != s.o.NodeName && (s.members[p] == nil || !s.members[p].running) {
					ok = false
				}
			}
		}
		s.mu.Unlock()
		if ok {
			s.mu.Lock()
			s.saveKnownLocked()
			s.mu.Unlock()
			return "Join the cluster successfully.\n" + s.statusLine(), 0
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.mu.Lock()
	s.explicit = s.explicit[:len(s.explicit)-1]
	s.reloadRoutesLocked()
	s.mu.Unlock()
	return fmt.Sprintf("Failed to join the cluster: {node_down,'%s'}\n", name), 1
}

func (s *Service) runningLocked() int {
	k := 0
	for _, m := range s.members {
		if m.running {
			k++
		}
	}
	return k
}

func (s *Service) leave() (string, int) {
	s.ops.Lock()
	defer s.ops.Unlock()
	s.mu.Lock()
	alone := len(s.members) == 0 && len(s.explicit) == 0
	s.mu.Unlock()
	if alone {
		return "Failed to leave the cluster: node_not_in_cluster\n", 1
	}
	if err := s.leaveCluster(); err != nil {
		return fmt.Sprintf("Failed to leave the cluster: %v\n", err), 1
	}
	return "Leave the cluster successfully.\n" + s.statusLine(), 0
}

// leaveCluster tells the others this node leaves, closes its routes and forgets its peers,
// keeps the route port closed for leaveQuiet and starts a fresh backbone. Hold s.ops.
func (s *Service) leaveCluster() error {
	s.leaving.Store(true)
	defer s.leaving.Store(false)
	s.left.Store(true)
	s.cast(&castMsg{Type: "left"})
	if nc := s.conn.Load(); nc != nil {
		nc.FlushTimeout(time.Second)
	}
	time.Sleep(300 * time.Millisecond) // the others drop their routes to this node
	s.mu.Lock()
	for _, m := range s.members {
		m.dropRoutes()
	}
	clear(s.members)
	clear(s.departed)
	s.explicit = nil
	s.boot.Store(time.Now().UnixNano()) // a new identity: the former peers ignore the old one
	s.saveKnownLocked()
	bb := s.bb
	s.bb = nil
	s.conn.Store(nil)
	s.mu.Unlock()
	if bb != nil {
		bb.close()
	}
	time.Sleep(leaveQuiet)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	return s.rebuildLocked(s.o.ClusterName)
}

func (s *Service) forceLeave(target string) (string, int) {
	name := baseName(target)
	if name == s.o.NodeName {
		return "Ignore.\n", 0
	}
	s.ops.Lock()
	defer s.ops.Unlock()
	s.mu.Lock()
	m := s.members[name]
	running := m != nil && m.running
	s.mu.Unlock()
	if m == nil {
		return "Failed to remove the node from cluster: node_not_in_cluster\n", 1
	}
	if running { // ask it to leave; if it does not answer, it is removed all the same
		if nc := s.conn.Load(); nc != nil {
			ctx, cancel := context.WithTimeout(context.Background(), reqTimeout)
			_, err := nc.RequestWithContext(ctx, subjNode+token(name)+".leave", nil)
			cancel()
			if err != nil {
				s.log.Warn("cluster: the node to remove did not answer; removing it anyway", "peer", name, "error", err)
			}
		}
	}
	s.cast(&castMsg{Type: "forget", Target: name})
	s.mu.Lock()
	s.forgetLocked(name)
	s.mu.Unlock()
	return "Remove the node from cluster successfully.\n" + s.statusLine(), 0
}

// onRequest answers requests addressed to this node: its route table, a request to leave
// (force-leave from another node), and calls of registered handlers.
func (s *Service) onRequest(msg *nats.Msg) {
	prefix := subjNode + token(s.o.NodeName)
	what := strings.TrimPrefix(msg.Subject, prefix)
	switch {
	case what == ".routes":
		b, _ := json.Marshal(s.snapshot())
		s.met.snapOut.Add(uint64(len(b)))
		msg.Respond(b)
	case what == ".retained":
		go s.copyRetained(string(msg.Data))
	case what == ".heal": // the larger side of a healed partition: take its retained messages
		go s.takeRetained(string(msg.Data))
	case what == ".leave":
		msg.Respond([]byte("ok"))
		s.log.Warn("cluster: removed from the cluster by another node (force-leave)")
		go func() {
			s.ops.Lock()
			defer s.ops.Unlock()
			if err := s.leaveCluster(); err != nil {
				s.log.Error("cluster: cannot restart the cluster routes after leaving", "error", err)
			}
		}()
	case strings.HasPrefix(what, callPrefix):
		s.mu.Lock()
		fn := s.handlers[strings.TrimPrefix(what, callPrefix)]
		s.mu.Unlock()
		reply := nats.NewMsg(msg.Reply)
		if fn == nil {
			reply.Header.Set("error", "no such method")
		} else if b, err := fn(msg.Data); err != nil {
			reply.Header.Set("error", err.Error())
		} else {
			reply.Data = b
		}
		msg.RespondMsg(reply)
	}
}

// routeURLs are the explicit routes' addresses. Hold s.mu.
func (s *Service) routeURLs() []*url.URL {
	var out []*url.URL
	for _, name := range s.explicit {
		out = append(out, routeURL(name, s.o.Cookie, s.port))
	}
	return out
}

func joinHostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
