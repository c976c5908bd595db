package cluster

import (
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// DistPort is one NATS route connection of the embedded server to a peer node, the
// equivalent of an Erlang distribution port.
type DistPort struct {
	Node    string    // the peer's node name (its NATS server name)
	ID      uint64    // the route connection's id, new for every connection
	Addr    string    // the peer's address, ip:port
	Pending int64     // bytes queued to the peer and not yet written to the socket
	Since   time.Time // when the connection was made
}

// DistPorts lists the routes to peer nodes with their pending outbound bytes, read from the
// embedded server's route monitor (Routez). It is empty when the node is not started or
// has no route. Safe for concurrent use; it takes the server's route locks briefly and does
// not wait on the network.
func (s *Service) DistPorts() []DistPort {
	s.mu.Lock()
	bb := s.bb
	s.mu.Unlock()
	if bb == nil {
		return nil
	}
	rz, err := bb.srv.Routez(&server.RoutezOptions{})
	if err != nil || rz == nil {
		return nil
	}
	out := make([]DistPort, 0, len(rz.Routes))
	for _, r := range rz.Routes {
		name := r.RemoteName
		if name == "" {
			name = r.RemoteID
		}
		out = append(out, DistPort{Node: name, ID: r.Rid, Addr: net.JoinHostPort(r.IP, strconv.Itoa(r.Port)), Pending: int64(r.Pending), Since: r.Start})
	}
	return out
}
