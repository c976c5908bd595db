package engine

import "github.com/emqgo/emqgo/engine/transport"

// MQTT over WebSocket over TLS (listener.wss.<name>). A wss listener is served like an ssl
// one (listener_tls.go: accept and handshake goroutines, a transport.Stream per connection
// handing plaintext to a loop) with the WebSocket framing of ws listeners on top of the
// stream: the upgrade, frames, pings and the close handshake run on the loop, in the stream's
// input callback, before the state machine reads. Both the TLS keys (Listener.TLS) and the
// WebSocket keys (Listener.WebSocket) apply.

// newWSSConn returns the framing of a wss connection over its TLS stream; the caller sets
// its conn once admitted. It belongs to the stream's loop.
func newWSSConn(st *transport.Stream, o *transport.WebSocketOptions) *wsConn {
	wc := &wsConn{}
	wc.InitOver(st, o)
	return wc
}
