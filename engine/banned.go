package engine

import (
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emqgo/emqgo/codec"
)

// BanKind says what a ban matches.
type BanKind uint8

// Kinds of bans, named as EMQX 3.2's banned table names them.
const (
	BanClientID BanKind = iota + 1 // client_id
	BanUsername                    // username
	BanPeer                        // ip_address: the client's address
)

var banKindNames = [...]string{BanClientID: "client_id", BanUsername: "username", BanPeer: "ip_address"}

// String is EMQX's name of the kind.
func (k BanKind) String() string {
	if int(k) < len(banKindNames) && k > 0 {
		return banKindNames[k]
	}
	return "unknown"
}

// ParseBanKind reads client_id (or clientid), username or ip_address (or peerhost).
func ParseBanKind(s string) (BanKind, bool) {
	switch s {
	case "client_id", "clientid":
		return BanClientID, true
	case "username":
		return BanUsername, true
	case "ip_address", "peerhost":
		return BanPeer, true
	}
	return 0, false
}

// Ban is one entry of the banned table: clients whose client id, user name or address is
// Value are refused at CONNECT (MQTT 5: 0x8A banned, 3.x: return code 5) until Until, in
// zones with enable_ban on.
type Ban struct {
	Kind   BanKind
	Value  string // for BanPeer, the address in netip's form (IPv4-mapped IPv6 unmapped)
	By     string // who banned: an operator's name, "flapping_detect"...
	Reason string
	At     time.Time // when it was added
	Until  time.Time // when it expires; zero: never
}

// Expired reports whether b no longer applies at now.
func (b *Ban) Expired(now time.Time) bool { return !b.Until.IsZero() && !now.Before(b.Until) }

type banKey struct {
	kind  BanKind
	value string
}

// banIndex is an immutable snapshot of the table, read without a lock by the loops.
type banIndex struct {
	m map[banKey]*Ban
}

// banTable is the node's banned table: readers load the snapshot, writers copy it under mu.
type banTable struct {
	mu       sync.Mutex
	cur      atomic.Pointer[banIndex] // nil: no ban
	onChange atomic.Pointer[func()]
	refused  atomic.Uint64 // CONNECTs refused because of a ban
}

// NormalizeBanValue returns the value as the table keeps it: a peer address is parsed and
// unmapped ("::ffff:10.0.0.1" is "10.0.0.1"). It reports false for an address that does not
// parse or an empty value.
func NormalizeBanValue(kind BanKind, value string) (string, bool) {
	if value == "" {
		return "", false
	}
	if kind != BanPeer {
		return value, true
	}
	a, err := netip.ParseAddr(strings.TrimSpace(value))
	if err != nil {
		return "", false
	}
	return a.Unmap().String(), true
}

// update applies f to a copy of the table and publishes it; expired entries are dropped.
func (n *Node) updateBans(f func(m map[banKey]*Ban)) {
	t := &n.bans
	t.mu.Lock()
	now := time.Now()
	m := make(map[banKey]*Ban)
	if old := t.cur.Load(); old != nil {
		for k, b := range old.m {
			if !b.Expired(now) {
				m[k] = b
			}
		}
	}
	f(m)
	if len(m) == 0 {
		t.cur.Store(nil)
	} else {
		t.cur.Store(&banIndex{m: m})
	}
	t.mu.Unlock()
	if cb := t.onChange.Load(); cb != nil {
		(*cb)()
	}
}

// AddBan adds b to the banned table, replacing an entry of the same kind and value. Its
// value must be normalized (NormalizeBanValue). Safe from any goroutine. Connected clients
// are not disconnected: the ban applies to their next CONNECT.
func (n *Node) AddBan(b Ban) {
	if b.At.IsZero() {
		b.At = time.Now()
	}
	n.updateBans(func(m map[banKey]*Ban) { m[banKey{b.Kind, b.Value}] = &b })
}

// DeleteBan removes the ban of kind and value, reporting whether there was one. Safe from
// any goroutine.
func (n *Node) DeleteBan(kind BanKind, value string) bool {
	found := false
	n.updateBans(func(m map[banKey]*Ban) {
		k := banKey{kind, value}
		_, found = m[k]
		delete(m, k)
	})
	return found
}

// SetBans replaces the banned table (loading it from a file at start). Safe from any
// goroutine.
func (n *Node) SetBans(bans []Ban) {
	n.updateBans(func(m map[banKey]*Ban) {
		clear(m)
		for i := range bans {
			b := bans[i]
			m[banKey{b.Kind, b.Value}] = &b
		}
	})
}

// Bans returns the bans in force, by kind then value (copies). Safe from any goroutine.
func (n *Node) Bans() []Ban {
	idx := n.bans.cur.Load()
	if idx == nil {
		return nil
	}
	now := time.Now()
	out := make([]Ban, 0, len(idx.m))
	for _, b := range idx.m {
		if !b.Expired(now) {
			out = append(out, *b)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Value < out[j].Value
	})
	return out
}

// OnBansChanged sets the function called after every change of the banned table (one
// function; nil removes it). It runs on the goroutine that made the change, which may be an
// event loop (flapping detection): it must return at once, never block or call the Node.
func (n *Node) OnBansChanged(f func()) {
	if f == nil {
		n.bans.onChange.Store(nil)
		return
	}
	n.bans.onChange.Store(&f)
}

// BanRefusals is the number of CONNECTs refused because of a ban, flapping bans included.
func (n *Node) BanRefusals() uint64 { return n.bans.refused.Load() }

// banned finds the ban that applies to c, nil when none. On the loop; lock-free, no
// allocation when the table is empty or nothing matches.
func (n *Node) banned(c *conn) *Ban {
	idx := n.bans.cur.Load()
	if idx == nil {
		return nil
	}
	b := idx.m[banKey{BanClientID, c.clientID}]
	if b == nil && c.username != "" {
		b = idx.m[banKey{BanUsername, c.username}]
	}
	if b == nil {
		b = idx.m[banKey{BanPeer, c.peer.Unmap().String()}]
	}
	if b == nil || b.Expired(time.Unix(0, c.loop.now)) {
		return nil
	}
	return b
}

// admitBanned applies enable_ban and enable_flapping_detect to a CONNECT whose client id and
// user name are known. It refuses the client and reports false when it is banned (or has
// just been banned for flapping). A zone with flapping detection on enforces the banned
// table even with enable_ban off, so that its own bans hold.
func (c *conn) admitBanned() bool {
	n := c.loop.n
	z := c.lis.Zone
	if b := n.banned(c); b != nil {
		n.bans.refused.Add(1)
		why := "banned by " + b.Kind.String()
		if b.Reason != "" {
			why += ": " + b.Reason
		}
		c.refuse(codec.Banned, why)
		return false
	}
	if z.EnableFlappingDetect && n.flapping(c) {
		n.bans.refused.Add(1)
		c.refuse(codec.Banned, "banned: connects too often (flapping detection)")
		return false
	}
	return true
}
