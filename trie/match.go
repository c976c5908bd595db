package trie

import "hash/maphash"

// Visitor receives the results of Index.Match. Implement it on a pointer type
// kept by the caller (one per event loop) so a match allocates nothing.
// Methods run on the matching goroutine, inside Match; they must not block
// and must not call Subscribe, Unsubscribe or Apply on the same index
// (harmless for correctness, but it stalls the publish path).
type Visitor[K comparable] interface {
	// OnSubscriber is called once per matching ordinary subscription. A
	// subscriber matching through several filters ("a/+" and "a/#") is
	// reported once per filter; Matches merges them.
	OnSubscriber(handle K, o Options)
	// OnGroup is called once per matching shared group (a group is one
	// share name on one filter). g stays valid after the call.
	OnGroup(g *Group[K])
}

// Match reports every subscription whose filter matches topic: ordinary
// subscriptions through v.OnSubscriber, shared groups through v.OnGroup.
// topic is only read during the call and may alias the event loop's buffer.
// Topics starting with '$' are not matched by filters starting with a
// wildcard [MQTT-4.7.2-1]. A topic deeper than MaxLevels matches nothing.
//
// Match takes no lock, allocates nothing and is safe for concurrent use with
// every other method.
func (x *Index[K]) Match(topic []byte, v Visitor[K]) {
	sv, _ := v.(setVisitor)
	match(x, topic, v, sv)
}

// match is generic over the visitor type so MatchFunc's struct visitor is
// never boxed into an interface.
func match[K comparable, V Visitor[K]](x *Index[K], topic []byte, v V, sv setVisitor) {
	var l levels
	if !l.split(topic) {
		return
	}
	sh := &x.shards[shardOf(topic[:l.end[0]])]
	walk(&sh.root, topic, &l, 0, v, sv, x.seed)
	if len(topic) == 0 || topic[0] != '$' {
		walk(&x.shards[wildShard].root, topic, &l, 0, v, sv, x.seed)
	}
}

// MatchFunc is Match with two callbacks instead of a Visitor (either may be
// nil). The callbacks escape: a closure that captures variables costs one
// allocation per call, so hot paths should use Match with a reusable Visitor
// such as Matches. Same concurrency and lifetime rules as Match.
func (x *Index[K]) MatchFunc(topic []byte, onSub func(K, Options), onGroup func(*Group[K])) {
	match(x, topic, funcVisitor[K]{onSub, onGroup}, nil)
}

type funcVisitor[K comparable] struct {
	onSub   func(K, Options)
	onGroup func(*Group[K])
}

func (f funcVisitor[K]) OnSubscriber(k K, o Options) {
	if f.onSub != nil {
		f.onSub(k, o)
	}
}

func (f funcVisitor[K]) OnGroup(g *Group[K]) {
	if f.onGroup != nil {
		f.onGroup(g)
	}
}

// walk visits the filters under n that match levels i.. of topic.
func walk[K comparable, V Visitor[K]](n *node[K], topic []byte, l *levels, i int, v V, sv setVisitor, seed maphash.Seed) {
	for {
		if h := n.hash.Load(); h != nil {
			// "x/#" matches "x/..." and also "x" itself [MQTT-4.7.1-2].
			emit(h, v, sv)
		}
		if i == l.n {
			emit(n, v, sv)
			return
		}
		if p := n.plus.Load(); p != nil {
			walk(p, topic, l, i+1, v, sv, seed)
		}
		if n = n.child(topic[l.start(i):l.end[i]], seed); n == nil {
			return
		}
		i++
	}
}

// setVisitor is implemented by visitors that want to know where one
// filter's subscriber set starts (Matches skips merging for the first set).
type setVisitor interface{ beginSet() }

func emit[K comparable, V Visitor[K]](n *node[K], v V, sv setVisitor) {
	l := n.leaf.Load()
	if l == nil {
		return
	}
	if l.small > 0 {
		if sv != nil {
			sv.beginSet()
		}
		v.OnSubscriber(l.first.Handle, l.first.Options)
		for i := range l.rest {
			v.OnSubscriber(l.rest[i].Handle, l.rest[i].Options)
		}
	} else if l.big != nil {
		if sv != nil {
			sv.beginSet()
		}
		for b := range l.big.buckets {
			if p := l.big.buckets[b].Load(); p != nil {
				for i := range *p {
					v.OnSubscriber((*p)[i].Handle, (*p)[i].Options)
				}
			}
		}
	}
	if s := l.groups; s != nil {
		if s.big == nil {
			for _, g := range s.small {
				v.OnGroup(g)
			}
		} else {
			for b := range s.big.buckets {
				if p := s.big.buckets[b].Load(); p != nil {
					for _, g := range *p {
						v.OnGroup(g)
					}
				}
			}
		}
	}
}
