package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"time"
)

// DNS discovery (cluster.discovery = dns), as EMQX 3.2's: every A record of DNSOptions.Name
// is a node named <App>@<ip>. The name is resolved at start and every Refresh; each node
// found that this one does not route to yet becomes an explicit route, as a static seed
// would (a node not up yet is dialled until it is). Nodes that vanish from the records are
// not removed: they leave the cluster by the usual ways (down for cluster.autoclean, leave,
// force-leave). Discovery stops once the node left a cluster, and a node removed with
// force-leave is not dialled again by this node's discovery (restarted, it dials the others).

// DNSOptions are cluster.dns.*.
type DNSOptions struct {
	Name    string        // cluster.dns.name
	App     string        // cluster.dns.app: the name part of the nodes' names
	Server  string        // cluster.dns.server: resolver ip:port; "" the system's
	Refresh time.Duration // cluster.dns.refresh; <= 0: 30s
}

func (o *DNSOptions) check() error {
	if o.Name == "" || o.App == "" {
		return errors.New("cluster: cluster.discovery = dns needs cluster.dns.name and cluster.dns.app")
	}
	if strings.ContainsAny(o.App, "@ ") {
		return fmt.Errorf("cluster: bad cluster.dns.app %q: the name part of a node name has no '@' or space", o.App)
	}
	if o.Server != "" {
		if _, _, err := net.SplitHostPort(o.Server); err != nil {
			return fmt.Errorf("cluster: bad cluster.dns.server %q: want ip:port: %w", o.Server, err)
		}
	}
	return nil
}

// dnsLookupTimeout bounds one resolution.
const dnsLookupTimeout = 5 * time.Second

// discoverDNS resolves the name now and every Refresh until the service stops.
func (s *Service) discoverDNS() {
	defer s.wg.Done()
	d := s.o.DNS
	every := d.Refresh
	if every <= 0 {
		every = 30 * time.Second
	}
	r := net.DefaultResolver
	if d.Server != "" {
		dialer := net.Dialer{Timeout: dnsLookupTimeout}
		r = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, d.Server)
		}}
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var lastErr string
	for {
		if s.left.Load() {
			s.log.Info("cluster: dns discovery stops: this node left its cluster")
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), dnsLookupTimeout)
		ips, err := r.LookupIP(ctx, "ip4", d.Name)
		cancel()
		if err != nil {
			if msg := err.Error(); msg != lastErr { // once per distinct failure, not every refresh
				s.log.Warn("cluster: dns discovery cannot resolve cluster.dns.name", "name", d.Name, "server", d.Server, "error", err)
				lastErr = msg
			}
		} else {
			lastErr = ""
			s.addSeeds(dnsNodes(d.App, ips))
		}
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

// dnsNodes names the nodes of the addresses found, sorted.
func dnsNodes(app string, ips []net.IP) []string {
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, app+"@"+ip.String())
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// addSeeds routes to the nodes named that this node does not route to yet (itself and the
// nodes removed by force-leave aside), as discovered seeds.
func (s *Service) addSeeds(names []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.bb == nil || s.left.Load() {
		return
	}
	var added []string
	for _, name := range names {
		if name == s.o.NodeName || slices.ContainsFunc(s.explicit, func(e string) bool { return baseName(e) == name }) {
			continue
		}
		if _, gone := s.departed[name]; gone {
			continue
		}
		s.explicit = append(s.explicit, name)
		added = append(added, name)
	}
	if len(added) == 0 {
		return
	}
	s.log.Info("cluster: dns discovery found nodes", "name", s.o.DNS.Name, "nodes", strings.Join(added, ","))
	s.reloadRoutesLocked()
}
