package bridge

import (
	"context"
	"errors"
	"time"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/engine/service/bridge/mqttc"
)

// connect makes one connection attempt and subscribes the remote subscriptions.
func (b *Bridge) connect(ctx context.Context) (*mqttc.Conn, *session, error) {
	o := mqttc.Options{
		Addr: b.cfg.Address, TLS: b.cfg.TLS, Version: b.cfg.Version, ClientID: b.cfg.ClientID,
		Username: b.cfg.Username, Password: b.cfg.Password, CleanStart: b.cfg.CleanStart,
		KeepAlive: b.cfg.KeepAlive, BridgeBit: b.cfg.BridgeMode && b.cfg.Version < codec.V5,
	}
	if p := b.cfg.PSK; p != nil {
		pc, err := pskClient(p, b.cfg.Address)
		if err != nil {
			msg := err.Error()
			b.lastError.Store(&msg)
			return nil, nil, err
		}
		o.PSK = pc
	}
	s := newSession(b)
	conn, info, err := mqttc.Dial(ctx, o, s)
	if err != nil && o.BridgeBit && errors.Is(err, mqttc.ErrRefused) && errors.Is(err, codec.UnsupportedProtocolVersion) {
		b.log.Info("remote refuses the bridge bit of bridge_mode; connecting as a plain client", "address", b.cfg.Address)
		o.BridgeBit = false
		conn, info, err = mqttc.Dial(ctx, o, s)
	}
	if err != nil {
		msg := err.Error()
		b.lastError.Store(&msg)
		return nil, nil, err
	}
	s.conn, s.info = conn, info
	b.mu.Lock()
	if info.SessionPresent {
		s.mu.Lock()
		for id := range b.pubrel {
			s.pubrel[id] = struct{}{}
		}
		s.mu.Unlock()
	}
	subs := append([]Subscription(nil), b.subs...)
	b.mu.Unlock()
	s.subscribe(subs)
	return conn, s, nil
}

// run is the bridge's worker goroutine: it serves a connection until it ends, then reconnects
// with a growing delay (1s doubling up to reconnect_interval), until stop is closed.
func (b *Bridge) run(stop <-chan struct{}, done chan<- struct{}, conn *mqttc.Conn, s *session) {
	defer close(done)
	defer b.state.Store(int32(Stopped))
	delay := min(time.Second, b.cfg.ReconnectInterval)
	if conn != nil {
		b.connected()
	}
	for {
		if conn == nil {
			b.state.Store(int32(Connecting))
			ctx, cancel := stopContext(stop)
			var err error
			conn, s, err = b.connect(ctx)
			cancel()
			if err != nil {
				b.log.Warn("bridge cannot connect to the remote; retrying", "address", b.cfg.Address, "in", delay, "error", err)
				select {
				case <-stop:
					return
				case <-time.After(delay):
				}
				delay = min(delay*2, b.cfg.ReconnectInterval)
				continue
			}
			b.connected()
		}
		delay = min(time.Second, b.cfg.ReconnectInterval)
		b.log.Info("bridge connected", "address", b.cfg.Address)
		b.serve(conn, s, stop)
		b.mu.Lock()
		b.sess = nil
		b.mu.Unlock()
		select {
		case <-stop:
			return
		default:
		}
		b.log.Warn("bridge lost the remote; reconnecting", "address", b.cfg.Address, "error", conn.Err())
		if e := conn.Err(); e != nil {
			msg := e.Error()
			b.lastError.Store(&msg)
		}
		conn, s = nil, nil
	}
}

// connected counts a connection: every one after the first is a reconnect.
func (b *Bridge) connected() {
	if b.everConnected.Swap(true) {
		b.reconnects.Add(1)
	}
}

// serve sends the queue to the remote over conn until it ends or stop is closed.
func (b *Bridge) serve(conn *mqttc.Conn, s *session, stop <-chan struct{}) {
	b.q.Rewind() // what was sent and not acknowledged goes again, in order
	b.mu.Lock()
	b.sess = s
	b.mu.Unlock()
	b.state.Store(int32(Connected))
	s.resendPubrel()
	var retry <-chan time.Time
	if b.cfg.Version < codec.V5 {
		t := time.NewTicker(max(b.cfg.RetryInterval/2, 10*time.Millisecond))
		defer t.Stop()
		retry = t.C
	}
	for {
		if err := s.fill(); err != nil {
			if !errors.Is(err, mqttc.ErrClosed) {
				b.log.Error("bridge cannot send", "error", err)
			}
			conn.Close()
			return
		}
		select {
		case <-b.wake:
		case <-s.wake:
		case <-retry:
			s.retry(b.cfg.RetryInterval)
		case <-conn.Done():
			return
		case <-stop:
			conn.Close()
			return
		}
	}
}

// stopContext returns a context that ends when stop is closed or cancel is called (a
// connection attempt that a bridge's stop interrupts).
func stopContext(stop <-chan struct{}) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
