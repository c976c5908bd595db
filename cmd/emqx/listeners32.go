package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emqgo/emqgo/engine"
)

// stopByAddress answers EMQX 3.2's `emqx_ctl listeners stop <Proto> <ListenOn>`: proto is
// mqtt:tcp, mqtt:ssl, mqtt:ws or mqtt:wss ("mqtt:" may be left out), listenOn a port or
// ip:port; the listener of that kind bound there is stopped, with EMQX 3.2's answers ("Stop
// mqtt:tcp listener on 1883 successfully.", "Failed to stop mqtt:tcp listener on 1883,
// error:not_found").
func stopByAddress(n *engine.Node, proto, listenOn string) (string, int) {
	kind := strings.TrimPrefix(proto, "mqtt:")
	fail := func(why string) (string, int) {
		return fmt.Sprintf("Failed to stop %s listener on %s, error:%s\n", proto, listenOn, why), 1
	}
	var port uint16
	var ip netip.Addr
	if p, err := strconv.ParseUint(listenOn, 10, 16); err == nil {
		port = uint16(p)
	} else if ap, err := netip.ParseAddrPort(listenOn); err == nil {
		ip, port = ap.Addr().Unmap(), ap.Port()
	} else {
		return fail("bad_listen_on")
	}
	for _, l := range n.Listeners() {
		bound := l.Addr.Addr().Unmap()
		if l.Kind != kind || l.Addr.Port() != port || ip.IsValid() && !bound.IsUnspecified() && bound != ip {
			continue
		}
		if err := n.StopListener(l.ID()); err != nil {
			return fail(err.Error())
		}
		return fmt.Sprintf("Stop %s listener on %s successfully.\n", proto, listenOn), 0
	}
	return fail("not_found")
}
