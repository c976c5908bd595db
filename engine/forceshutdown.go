package engine

import (
	"strconv"

	"github.com/emqgo/emqgo/codec"
)

// force_shutdown_policy (EMQX: close a connection process whose message queue or heap grows
// past "count|bytes") mapped to what a connection holds here:
//
//   - count: the messages waiting in its session's queue while it is connected (the Erlang
//     mailbox's equivalent: deliveries the client is not taking). When the queue grows past
//     Zone.ForceShutdownQueue the connection is closed with 0x97; the session keeps its queue
//     (max_mqueue_len bounds it), and the check fires again only when the queue next grows
//     past the bound, so a client reconnecting to a long backlog is not closed in a loop.
//   - bytes: the output waiting for its socket (this round's buffer and the transport's
//     queue), Zone.CloseWater, checked before every delivery (deliver.go). There is no
//     per-connection heap in Go; everything else a connection holds is bounded by its own
//     setting (parked input by max_packet_size, the inbound alias table by max_topic_alias,
//     the outbound one by max_outbound_topic_alias, the QoS 2 identifiers by max_awaiting_rel).

// checkQueueBound closes c when its session's queue has just grown past the zone's
// force_shutdown_policy count. Runs on c's loop with the session locked, right after a push.
func (c *conn) checkQueueBound() {
	n := c.lis.Zone.ForceShutdownQueue
	if n <= 0 || c.sess.Queue.Len() != n+1 || c.state != stateConnected {
		return
	}
	c.loop.stats.ForceShutdown++
	c.closeWith(codec.QuotaExceeded, "force_shutdown_policy: more than "+strconv.Itoa(n)+" messages queued for the connection")
}
