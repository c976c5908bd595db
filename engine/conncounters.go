package engine

// ConnCounters are one connection's traffic counters, with the names of EMQX's client
// statistics (GET /api/v4/clients): recv_oct, recv_pkt, recv_msg, send_oct, send_pkt,
// send_msg. Bytes are MQTT bytes (whole packets as decoded and encoded), not the bytes of a
// TLS or WebSocket framing under them.
//
// The connection's loop counts them with plain increments on fields of the connection it
// already touches (no atomics, no allocation); readers get a copy through the management API
// (Node.Client, Node.Clients), which asks the loop. A snapshot is a value owned by the caller.
type ConnCounters struct {
	RecvOct uint64 // bytes of the packets received (recv_oct)
	RecvPkt uint64 // MQTT packets received (recv_pkt)
	RecvMsg uint64 // PUBLISH packets received (recv_msg)
	SendOct uint64 // bytes written to the connection (send_oct)
	SendPkt uint64 // MQTT packets sent (send_pkt)
	SendMsg uint64 // PUBLISH packets sent (send_msg)
}
