package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// The backbone is this node's embedded NATS server, joined to the other nodes' servers by
// cluster routes, and the node's in-process client connection to it. Everything between
// nodes travels over it as NATS subjects (subjects.go). It is rebuilt as a whole when the node
// joins or leaves a cluster: a fresh server with the new explicit routes.

// routeUser is the user name of the cluster routes; the password is node.cookie.
const routeUser = "emqgo"

// maxPayload is the NATS payload limit of the backbone: a forwarded frame or a retained
// message larger than this is dropped (and logged).
const maxPayload = 64 << 20

type backbone struct {
	srv  *server.Server
	nc   *nats.Conn
	opts *server.Options // as started, for route reloads
}

// startBackbone starts the embedded server with the given explicit routes and connects to
// it. clusterName is the NATS cluster name (cluster.name, or a private name after a leave).
func startBackbone(o *Options, clusterName string, routes []*url.URL, log *slog.Logger) (*backbone, error) {
	host, port, err := splitListen(o.Listen)
	if err != nil {
		return nil, err
	}
	adv, _ := nodeHost(o.NodeName)
	if host != "0.0.0.0" && host != "::" && host != "" {
		adv = host
	}
	opts := &server.Options{
		ServerName: o.NodeName,
		// Clients come in-process only, but the server starts its routes only after its
		// client listener: so it listens on a random loopback port that only a random
		// token opens.
		Host:          "127.0.0.1",
		Port:          server.RANDOM_PORT,
		Authorization: randomToken(),
		NoSigs:        true,
		MaxPayload:    maxPayload,
		MaxPending:    4 * maxPayload,
		Cluster: server.ClusterOpts{
			Name:        clusterName,
			Host:        host,
			Port:        port,
			Username:    routeUser,
			Password:    o.Cookie,
			Advertise:   net.JoinHostPort(adv, strconv.Itoa(port)),
			Compression: server.CompressionOpts{Mode: server.CompressionOff},
			PoolSize:    -1, // one connection per pair of nodes: forwarded messages stay in order
		},
		Routes: routes,
	}
	if o.TLS != nil {
		opts.Cluster.TLSConfig = o.TLS.Clone()
		opts.Cluster.TLSTimeout = o.TLSTimeout.Seconds()
	}
	// Bind once ourselves first: the embedded server reports a bind failure only as "not
	// ready", and the operator needs the cause.
	if ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port))); err != nil {
		return nil, fmt.Errorf("cluster: cannot listen for cluster routes (cluster.listen = %s): %w", o.Listen, err)
	} else {
		ln.Close()
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("cluster: cannot create the embedded NATS server: %w", err)
	}
	srv.SetLoggerV2(natsLogger{log}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("cluster: the embedded NATS server did not start listening on %s (cluster.listen) within 10s", o.Listen)
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Token(opts.Authorization), nats.Name(o.NodeName), nats.NoEcho(),
		nats.MaxReconnects(-1), nats.ReconnectBufSize(-1),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Warn("cluster: backbone client error", "subject", subj, "error", err)
		}))
	if err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("cluster: cannot connect to the embedded NATS server: %w", err)
	}
	return &backbone{srv: srv, nc: nc, opts: opts}, nil
}

// close drains nothing: pending publishes are flushed (bounded), then the server stops.
func (b *backbone) close() {
	b.nc.FlushTimeout(time.Second)
	b.nc.Close()
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
}

// setRoutes replaces the server's explicit routes (added ones are dialled, removed ones
// closed and not retried).
func (b *backbone) setRoutes(routes []*url.URL) error {
	no := b.opts.Clone()
	no.Routes = routes
	if err := b.srv.ReloadOptions(no); err != nil {
		return err
	}
	b.opts = no
	return nil
}

// natsLogger sends the embedded server's log lines to the node's log.
type natsLogger struct{ log *slog.Logger }

func (l natsLogger) Noticef(f string, v ...any) { l.log.Info("nats: " + fmt.Sprintf(f, v...)) }
func (l natsLogger) Warnf(f string, v ...any)   { l.log.Warn("nats: " + fmt.Sprintf(f, v...)) }
func (l natsLogger) Fatalf(f string, v ...any)  { l.log.Error("nats: " + fmt.Sprintf(f, v...)) }
func (l natsLogger) Errorf(f string, v ...any)  { l.log.Warn("nats: " + fmt.Sprintf(f, v...)) }
func (l natsLogger) Debugf(f string, v ...any)  { l.log.Debug("nats: " + fmt.Sprintf(f, v...)) }
func (l natsLogger) Tracef(f string, v ...any)  {}

// splitListen parses cluster.listen: "port" or "ip:port".
func splitListen(s string) (host string, port int, err error) {
	h, p := "0.0.0.0", s
	if strings.Contains(s, ":") {
		h, p, err = net.SplitHostPort(s)
		if err != nil {
			return "", 0, fmt.Errorf("cluster: bad cluster.listen %q: %w", s, err)
		}
	}
	port, err = strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("cluster: bad cluster.listen %q: the port must be 1-65535", s)
	}
	return h, port, nil
}

// nodeHost returns the host part of a node name, name@host or name@host:port, and the port
// when the name carries one (0 otherwise).
func nodeHost(name string) (host string, port int) {
	_, host, ok := strings.Cut(name, "@")
	if !ok {
		return "", 0
	}
	if h, p, err := net.SplitHostPort(host); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			return h, n
		}
	}
	return strings.Trim(host, "[]"), 0
}

// validNodeName checks name@host[:port].
func validNodeName(name string) error {
	n, h, ok := strings.Cut(name, "@")
	if !ok || n == "" || h == "" {
		return fmt.Errorf("bad node name %q: want name@host", name)
	}
	return nil
}

// baseName strips a :port suffix from name@host:port (the node's own name never has one).
func baseName(name string) string {
	host, port := nodeHost(name)
	if port == 0 {
		return name
	}
	n, _, _ := strings.Cut(name, "@")
	return n + "@" + host
}

// routeURL is the route address of node name: the host of its name and port (the name's
// port if it has one, else this node's route port).
func routeURL(name, cookie string, defPort int) *url.URL {
	host, port := nodeHost(name)
	if port == 0 {
		port = defPort
	}
	return &url.URL{Scheme: "nats-route", User: url.UserPassword(routeUser, cookie), Host: net.JoinHostPort(host, strconv.Itoa(port))}
}

func randomToken() string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("BUG: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// token is a node name as one NATS subject token (names hold dots).
func token(name string) string { return hex.EncodeToString([]byte(name)) }
