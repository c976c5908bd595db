package engine

// Packet tracing: the PacketIn and PacketsOut hooks.
//
// PacketIn(clientID, v, pkt) gets each complete packet a connection received, once, before
// it is handled (so before the hooks its handling runs, such as ClientConnected). A packet
// that waits for the access-control chain is not reported again when it is handled again.
// clientID is the connection's client id: "" for a CONNECT and anything before it; v is the
// connection's protocol version (0 before a CONNECT). pkt aliases the loop's read buffer
// and is valid only during the call.
//
// PacketsOut(clientID, v, bufs) gets the output of one write to a connection (one round):
// the concatenation of bufs is whole packets, in the order they go to the socket. bufs and
// the bytes they reference are valid only during the call.
//
// Both run on the connection's event loop, for every connection, while any is installed: a
// listener must filter by clientID at once and must not block. With none installed they
// cost a nil check (no hooks) or a length check per packet and per write.

// packetIn reports an inbound packet to the PacketIn hooks, if any listens.
func (c *conn) packetIn(pkt []byte) {
	if h := c.loop.hooks; h != nil && len(h.packetIn) > 0 {
		c.runPacketIn(h, pkt)
	}
}

func (c *conn) runPacketIn(h *hookSet, pkt []byte) {
	if c.has(flagInReported) {
		c.unset(flagInReported) // the parked packet, handled again
		return
	}
	for _, f := range h.packetIn {
		f(c.clientID, c.version, pkt)
	}
}

// packetParked notes that the packet just reported waits for the access-control chain and
// will go through packetIn again. (Should the hooks be removed and others installed while it
// waits, the first packet the connection handles then is not reported.)
func (c *conn) packetParked() {
	if h := c.loop.hooks; h != nil && len(h.packetIn) > 0 {
		c.set(flagInReported)
	}
}

// packetsOut reports one write of c's output to the PacketsOut hooks, if any listens: bufs,
// or out alone when bufs is nil.
func (c *conn) packetsOut(out []byte, bufs [][]byte) {
	if h := c.loop.hooks; h != nil && len(h.packetsOut) > 0 {
		c.runPacketsOut(h, out, bufs)
	}
}

func (c *conn) runPacketsOut(h *hookSet, out []byte, bufs [][]byte) {
	l := c.loop
	if bufs == nil {
		l.traceOne[0] = out
		bufs = l.traceOne[:]
	}
	for _, f := range h.packetsOut {
		f(c.clientID, c.version, bufs)
	}
	l.traceOne[0] = nil
}
