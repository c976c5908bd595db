package cluster

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine"
)

// The RPC listener is where RPC bridges of other clusters (bridge.mqtt.<name>.address =
// node@host in emqx_bridge_mqtt) deliver their messages. It is an embedded NATS server of its
// own, not the backbone's: the backbone is rebuilt when the node joins or leaves a cluster and
// carries the cluster's private subjects, while an RPC bridge is an outside client that must
// reach exactly one subject. Its only remote user is RPCUser with node.cookie as password,
// allowed to publish on SubjectRPCPublish and to receive replies on its inbox, nothing else.
//
// With cluster.ssl on, the listener accepts only TLS (RPCOptions.TLS: the configuration of
// the cluster's routes, so the same certificates and CAs authenticate both sides) and the
// bridges of a node whose cluster.ssl is on dial with TLS.
//
// Protocol (the bridge side is engine/service/bridge/rpc.go): a request on SubjectRPCPublish
// carries a batch of messages; its body is a sequence of records, each a uvarint length and
// the message as an MQTT 5 PUBLISH packet (topic with the bridge's mountpoint, QoS, RETAIN,
// the forwarded properties, what remains of a Message Expiry Interval). The node publishes
// each message locally, so that every subscriber of its cluster gets it through the cluster's
// own routes, then answers: an empty reply when the batch is routed (a message the node
// refuses, such as a topic too deep or a packet that does not decode, is skipped, counted and
// logged: sending it again would not help), or a reply with the header RPCErrorHeader when
// the records' framing is broken. The bridge removes a batch from its
// queue only on the reply, so a batch lost with a connection is sent again.

// RPCUser is the NATS user name of RPC bridges; the password is node.cookie.
const RPCUser = "emqgo-rpc"

// SubjectRPCPublish is the subject of the RPC listener's batches.
const SubjectRPCPublish = "emqgo.rpc.publish"

// RPCErrorHeader names the reply header that says why a batch was refused.
const RPCErrorHeader = "Emqgo-Error"

// RPCFromHeader names the request header that carries the sending node's name (logs only).
const RPCFromHeader = "Emqgo-From"

// rpcMaxPayload bounds one batch: a bridge splits its batches to fit (the server tells it).
const rpcMaxPayload = 16 << 20

// RPCOptions configure the RPC listener.
type RPCOptions struct {
	// Listen is host:port (rpc.tcp_server_port on the host of cluster.listen).
	Listen   string
	Cookie   string // node.cookie: the password of RPCUser
	NodeName string // node.name, for the server's name and logs
	Log      *slog.Logger
	// TLS, when set (cluster.ssl.*, transport.PeerTLS), makes the listener accept only TLS
	// connections with this configuration (a client certificate is required when it verifies
	// its peers); TLSTimeout bounds a handshake (0: 2s). Not modified.
	TLS        *tls.Config
	TLSTimeout time.Duration
}

// RPCServer is a node's RPC listener. Its methods are safe for concurrent use; Close ends it.
type RPCServer struct {
	srv  *server.Server
	nc   *nats.Conn
	pub  *engine.Subscriber
	log  *slog.Logger
	addr string

	batches  atomic.Uint64
	received atomic.Uint64
	refused  atomic.Uint64 // messages whose topic the node refused (invalid, too deep)
}

// ListenRPC starts the RPC listener of node n. Start it after the node.
func ListenRPC(n *engine.Node, o RPCOptions) (*RPCServer, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	host, port, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("cluster: bad RPC listen address %q: %w", o.Listen, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return nil, fmt.Errorf("cluster: bad RPC listen address %q: the port must be 1-65535", o.Listen)
	}
	if o.Cookie == "" {
		return nil, errors.New("cluster: the RPC listener needs node.cookie (the bridges' password)")
	}
	// Bind once ourselves: the embedded server reports a bind failure only as "not ready".
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("cluster: cannot listen for RPC bridges (rpc.tcp_server_port): %w", err)
	}
	ln.Close()
	local := randomToken()
	opts := &server.Options{
		ServerName:      o.NodeName + "/rpc",
		Host:            host,
		Port:            p,
		NoSigs:          true,
		NoSystemAccount: true,
		MaxPayload:      rpcMaxPayload,
		MaxPending:      4 * rpcMaxPayload,
		Users: []*server.User{
			{Username: "local", Password: local},
			{Username: RPCUser, Password: o.Cookie, Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{SubjectRPCPublish}},
				Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
			}},
		},
	}
	if o.TLS != nil {
		opts.TLSConfig = o.TLS.Clone()
		opts.TLSVerify = o.TLS.ClientAuth == tls.RequireAndVerifyClientCert
		opts.TLSTimeout = 2
		if o.TLSTimeout > 0 {
			opts.TLSTimeout = o.TLSTimeout.Seconds()
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("cluster: cannot create the RPC listener's NATS server: %w", err)
	}
	srv.SetLoggerV2(natsLogger{o.Log.With("listener", "rpc")}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("cluster: the RPC listener did not start on %s within 10s", o.Listen)
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.UserInfo("local", local), nats.Name(o.NodeName+"/rpc"),
		nats.MaxReconnects(-1))
	if err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("cluster: cannot connect to the RPC listener's NATS server: %w", err)
	}
	r := &RPCServer{srv: srv, nc: nc, log: o.Log, addr: o.Listen}
	r.pub, err = n.NewSubscriber(engine.SubscriberOptions{Name: "rpc_bridge", Handle: func([]engine.Delivery) {}})
	if err != nil {
		r.Close()
		return nil, err
	}
	sub, err := nc.Subscribe(SubjectRPCPublish, r.onBatch)
	if err == nil {
		err = sub.SetPendingLimits(-1, 4*rpcMaxPayload)
	}
	if err == nil {
		err = nc.Flush()
	}
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("cluster: cannot subscribe to %s: %w", SubjectRPCPublish, err)
	}
	return r, nil
}

// Addr is the listener's address as configured.
func (r *RPCServer) Addr() string { return r.addr }

// Received counts the messages RPC bridges delivered and the node published.
func (r *RPCServer) Received() uint64 { return r.received.Load() }

// Close stops the listener; connected bridges see the link drop and retry.
func (r *RPCServer) Close() {
	r.nc.Close()
	r.srv.Shutdown()
	r.srv.WaitForShutdown()
	if r.pub != nil {
		r.pub.Close()
	}
}

// onBatch publishes a batch's messages locally and answers it (one subscription: batches are
// handled one at a time, in arrival order).
func (r *RPCServer) onBatch(m *nats.Msg) {
	r.batches.Add(1)
	var p codec.Publish
	b := m.Data
	n := 0
	for len(b) > 0 {
		size, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < size {
			r.refuse(m, fmt.Sprintf("record %d: bad length", n))
			return
		}
		pkt := b[k : k+int(size)]
		b = b[k+int(size):]
		n++
		p.Reset()
		err := p.Decode(pkt, codec.V5)
		if err == nil {
			p.Dup, p.PacketID = false, 0
			p.Props.TopicAlias = 0
			_, err = r.pub.PublishPacket(&p)
		}
		if err != nil {
			// Sending it again would not help: counted and logged, the batch goes on.
			r.refused.Add(1)
			r.log.Warn("RPC bridge message refused", "from", m.Header.Get(RPCFromHeader), "topic", string(p.Topic), "error", err)
			continue
		}
		r.received.Add(1)
	}
	if err := m.Respond(nil); err != nil {
		r.log.Warn("cannot answer an RPC bridge batch", "from", m.Header.Get(RPCFromHeader), "error", err)
	}
}

func (r *RPCServer) refuse(m *nats.Msg, why string) {
	r.log.Error("RPC bridge batch refused", "from", m.Header.Get(RPCFromHeader), "reason", why)
	reply := nats.NewMsg(m.Reply)
	reply.Header.Set(RPCErrorHeader, why)
	if err := m.RespondMsg(reply); err != nil {
		r.log.Warn("cannot answer an RPC bridge batch", "error", err)
	}
}
