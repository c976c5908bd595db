package main

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
)

// Every payload starts with a stamp, written by the publisher and read by the subscriber:
//
//	0  2  magic 0xEB 0x5C
//	2  2  run tag (random per run: payloads of another run, e.g. retained ones, are foreign)
//	4  4  publisher id (index among the run's publishers)
//	8  8  sequence number, from 0, per publisher
//	16 8  send time, Unix nanoseconds (wall clock, so two tool processes on one host agree)
//
// The rest of the payload is filler.
const (
	stampSize   = 24
	stampMagic0 = 0xEB
	stampMagic1 = 0x5C
)

// putStamp writes a stamp at the start of p (len(p) >= stampSize).
func putStamp(p []byte, run uint16, pub uint32, seq uint64, ts int64) {
	_ = p[stampSize-1]
	p[0], p[1] = stampMagic0, stampMagic1
	binary.BigEndian.PutUint16(p[2:], run)
	binary.BigEndian.PutUint32(p[4:], pub)
	binary.BigEndian.PutUint64(p[8:], seq)
	binary.BigEndian.PutUint64(p[16:], uint64(ts))
}

// readStamp parses the stamp at the start of p; ok is false for a payload without one.
func readStamp(p []byte) (run uint16, pub uint32, seq uint64, ts int64, ok bool) {
	if len(p) < stampSize || p[0] != stampMagic0 || p[1] != stampMagic1 {
		return 0, 0, 0, 0, false
	}
	return binary.BigEndian.Uint16(p[2:]), binary.BigEndian.Uint32(p[4:]),
		binary.BigEndian.Uint64(p[8:]), int64(binary.BigEndian.Uint64(p[16:])), true
}

// seqSet remembers which sequence numbers of one publisher a scope has received, exactly:
// one bit per number, in 1 KiB chunks allocated on first use, so memory is the number of
// messages / 8. Safe for concurrent use: a shared-subscription scope is fed by several
// event loops. The fast path is an atomic load and an atomic OR; a mutex guards only the
// allocation of a chunk (once per 8192 numbers).
type seqSet struct {
	mu       sync.Mutex
	chunks   atomic.Pointer[[]atomic.Pointer[seqChunk]]
	distinct atomic.Uint64 // numbers seen at least once
	high     atomic.Uint64 // highest number seen + 1, 0 before the first
}

const (
	chunkBits  = 8192
	chunkWords = chunkBits / 64
)

type seqChunk [chunkWords]uint64

// record marks seq as received. fresh is false for a duplicate; late is true when a higher
// number had already been received (out of order).
func (s *seqSet) record(seq uint64) (fresh, late bool) {
	c := s.chunk(seq / chunkBits)
	bit := seq % chunkBits
	mask := uint64(1) << (bit % 64)
	if atomic.OrUint64(&c[bit/64], mask)&mask != 0 {
		return false, false
	}
	s.distinct.Add(1)
	for {
		h := s.high.Load()
		if seq < h {
			return true, seq+1 < h
		}
		if s.high.CompareAndSwap(h, seq+1) {
			return true, false
		}
	}
}

func (s *seqSet) chunk(i uint64) *seqChunk {
	if p := s.chunks.Load(); p != nil && i < uint64(len(*p)) {
		if c := (*p)[i].Load(); c != nil {
			return c
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var cur []atomic.Pointer[seqChunk]
	if p := s.chunks.Load(); p != nil {
		cur = *p
	}
	if i >= uint64(len(cur)) {
		n := max(uint64(len(cur))*2, i+1, 4)
		grown := make([]atomic.Pointer[seqChunk], n)
		for j := range cur {
			grown[j].Store(cur[j].Load())
		}
		cur = grown
		s.chunks.Store(&grown)
	}
	c := cur[i].Load()
	if c == nil {
		c = new(seqChunk)
		cur[i].Store(c)
	}
	return c
}

// scope is what one subscriber (or one shared-subscription group) must receive: every
// message of the publishers in expects, each exactly once.
type scope struct {
	expects []uint32                 // publisher ids
	wanted  []bool                   // by publisher id: in expects
	sets    []atomic.Pointer[seqSet] // by publisher id, allocated on first message
}

func newScope(numPubs int, expects []uint32) *scope {
	sc := &scope{expects: expects, wanted: make([]bool, numPubs), sets: make([]atomic.Pointer[seqSet], numPubs)}
	for _, p := range expects {
		sc.wanted[p] = true
	}
	return sc
}

// record notes message seq of publisher pub (pub < len(sets)).
func (sc *scope) record(pub uint32, seq uint64) (fresh, late bool) {
	p := &sc.sets[pub]
	s := p.Load()
	if s == nil {
		s = new(seqSet)
		if !p.CompareAndSwap(nil, s) {
			s = p.Load()
		}
	}
	return s.record(seq)
}

// distinct returns how many different messages of pub the scope received.
func (sc *scope) distinct(pub uint32) uint64 {
	if s := sc.sets[pub].Load(); s != nil {
		return s.distinct.Load()
	}
	return 0
}
