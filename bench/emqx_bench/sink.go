package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/emqgo/emqgo/codec"
)

// The sink is the least an MQTT server can do: accept CONNECT, grant every SUBSCRIBE,
// acknowledge every PUBLISH and drop it (or, with -echo, send it back to its publisher at
// QoS 0). The tool's rate against it is the tool's own ceiling on this machine.

type sinkConn struct {
	version codec.Version
}

type sinkHandler struct {
	gnet.BuiltinEventEngine
	echo     bool
	conns    atomic.Int64
	received atomic.Uint64
	engine   chan gnet.Engine // receives the engine once it runs (OnBoot)
}

func (s *sinkHandler) OnBoot(e gnet.Engine) gnet.Action {
	if s.engine != nil {
		s.engine <- e
	}
	return gnet.None
}

// stop stops the engine that OnBoot reported, waiting at most until ctx ends for it to boot.
func (s *sinkHandler) stop(ctx context.Context) error {
	select {
	case e := <-s.engine:
		return e.Stop(context.Background())
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *sinkHandler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	c.SetContext(&sinkConn{})
	s.conns.Add(1)
	return nil, gnet.None
}

func (s *sinkHandler) OnClose(gnet.Conn, error) gnet.Action {
	s.conns.Add(-1)
	return gnet.None
}

func (s *sinkHandler) OnTraffic(c gnet.Conn) gnet.Action {
	sc := c.Context().(*sinkConn)
	buf, _ := c.Peek(-1)
	var out []byte
	consumed := 0
	var n uint64
	var pub codec.Publish
	for consumed < len(buf) {
		h, err := codec.Frame(buf[consumed:], 0)
		if err != nil {
			return gnet.Close
		}
		if h.Total == 0 {
			break
		}
		pkt := buf[consumed : consumed+h.Total]
		consumed += h.Total
		switch h.Type {
		case codec.TypeConnect:
			var cp codec.Connect
			if err := cp.Decode(pkt); err != nil {
				return gnet.Close
			}
			sc.version = cp.Version
			out = codec.AppendConnack(out, &codec.Connack{}, sc.version)
		case codec.TypeSubscribe:
			var sp codec.Subscribe
			if err := sp.Decode(pkt, sc.version); err != nil {
				return gnet.Close
			}
			sa := codec.Suback{PacketID: sp.PacketID}
			for _, f := range sp.Subs {
				sa.Codes = append(sa.Codes, codec.ReasonCode(f.QoS))
			}
			out = codec.AppendSuback(out, &sa, sc.version)
		case codec.TypePublish:
			n++
			qos := (h.Flags >> 1) & 3
			if s.echo || qos > 0 {
				if err := pub.Decode(pkt, sc.version); err != nil {
					return gnet.Close
				}
			}
			switch qos {
			case 1:
				out = codec.AppendAck(out, &codec.Ack{Type: codec.TypePuback, PacketID: pub.PacketID}, sc.version)
			case 2:
				out = codec.AppendAck(out, &codec.Ack{Type: codec.TypePubrec, PacketID: pub.PacketID}, sc.version)
			}
			if s.echo {
				pub.QoS, pub.PacketID, pub.Dup = 0, 0, false
				out = codec.AppendPublish(out, &pub, sc.version)
			}
		case codec.TypePubrel:
			var a codec.Ack
			if a.Decode(pkt, sc.version) == nil {
				out = codec.AppendAck(out, &codec.Ack{Type: codec.TypePubcomp, PacketID: a.PacketID}, sc.version)
			}
		case codec.TypePingreq:
			out = codec.AppendPingresp(out)
		case codec.TypeDisconnect:
			return gnet.Close
		}
	}
	if consumed > 0 {
		_, _ = c.Discard(consumed)
	}
	if n > 0 {
		s.received.Add(n)
	}
	if len(out) > 0 {
		_, _ = c.Write(out)
	}
	return gnet.None
}

// runSink serves until ctx ends, printing the received rate each second.
func runSink(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("emqx_bench sink", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:18830", "listen `address` (loopback)")
	echo := fs.Bool("echo", false, "send every PUBLISH back to its publisher at QoS 0")
	loops := fs.Int("loops", runtime.NumCPU(), "event loops")
	quiet := fs.Bool("quiet", false, "no rate line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkLoopback(*listen); err != nil {
		return err
	}
	h := &sinkHandler{echo: *echo, engine: make(chan gnet.Engine, 1)}
	errc := make(chan error, 1)
	go func() {
		errc <- gnet.Run(h, "tcp://"+*listen, gnet.WithMulticore(true), gnet.WithNumEventLoop(*loops),
			gnet.WithReusePort(*loops > 1), gnet.WithReuseAddr(true), gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithLogger(quietLogger{}))
	}()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var last uint64
	for {
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
			stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return h.stop(stopCtx)
		case <-t.C:
			n := h.received.Load()
			if !*quiet && n != last {
				fmt.Fprintf(os.Stderr, "sink: %d conns, %s msg/s in\n", h.conns.Load(), human(float64(n-last)))
			}
			last = n
		}
	}
}
