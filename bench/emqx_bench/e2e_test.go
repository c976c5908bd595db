package main

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// startSink serves the in-tool sink on a free loopback port for the test's lifetime.
func startSink(t *testing.T, echo bool) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	h := &sinkHandler{echo: echo, engine: make(chan gnet.Engine, 1)}
	errc := make(chan error, 1)
	go func() {
		errc <- gnet.Run(h, "tcp://"+addr, gnet.WithMulticore(true), gnet.WithNumEventLoop(1), gnet.WithLogger(quietLogger{}))
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.stop(ctx); err != nil {
			t.Errorf("stopping the sink: %v", err)
		}
		<-errc
	})
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		select {
		case err := <-errc:
			t.Fatalf("sink: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatal("sink does not accept connections")
	return ""
}

// TestRunAgainstEchoSink runs the whole tool (connect, pacing, closed loop, QoS 1 flow,
// stamps, sequence sets, drain, result) on a few hundred messages through the echo sink.
func TestRunAgainstEchoSink(t *testing.T) {
	addr := startSink(t, true)
	for _, qos := range []byte{0, 1, 2} {
		o := defaultOptions("echo")
		o.Broker, o.Pubs, o.QoS, o.SubQoS, o.Count, o.Loops, o.Progress = addr, 3, qos, qos, 200, 2, false
		o.Duration, o.Drain, o.Timeout = 5*time.Second, 2*time.Second, 5*time.Second
		if err := o.validate(); err != nil {
			t.Fatal(err)
		}
		res, err := newRunner(o, nil).run(context.Background())
		if err != nil {
			t.Fatalf("QoS %d: %v", qos, err)
		}
		// The sink echoes at QoS 0 and acknowledges QoS 1 and 2 itself, so every message
		// comes back exactly once, in order.
		if res.Connected != 3 || res.Expected != 600 || res.Delivered != 600 || res.Lost != 0 ||
			res.Duplicates != 0 || res.OutOfOrder != 0 || res.Latency.Count != 600 {
			t.Fatalf("QoS %d: %+v", qos, res)
		}
		if qos > 0 && res.Acked != 600 {
			t.Fatalf("QoS %d: %d acknowledged, want 600", qos, res.Acked)
		}
	}
}

func TestRunConnHoldsIdleConnections(t *testing.T) {
	addr := startSink(t, false)
	o := defaultOptions("conn")
	o.Broker, o.Subs, o.Filter, o.Duration, o.Progress, o.Loops = addr, 5, "a/%i", 100*time.Millisecond, false, 1
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	res, err := newRunner(o, nil).run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Connected != 5 || res.ConnectFailed != 0 || len(res.Errors) != 0 {
		t.Fatalf("%+v", res)
	}
}
