package tlspsk

import (
	"crypto/hmac"
	"hash"
)

// The TLS 1.2 pseudo-random function (RFC 5246 section 5) and the secrets derived with it.

// pHash fills out with P_hash(secret, seed) (RFC 5246 section 5).
func pHash(out, secret, seed []byte, h func() hash.Hash) {
	m := hmac.New(h, secret)
	m.Write(seed)
	a := m.Sum(nil) // A(1)
	var block []byte
	for len(out) > 0 {
		m.Reset()
		m.Write(a)
		m.Write(seed)
		block = m.Sum(block[:0])
		n := copy(out, block)
		out = out[n:]
		m.Reset()
		m.Write(a)
		a = m.Sum(a[:0])
	}
}

// prf fills out with PRF(secret, label, seed) over hash h.
func prf(h func() hash.Hash, out, secret []byte, label string, seed ...[]byte) {
	ls := make([]byte, 0, len(label)+64)
	ls = append(ls, label...)
	for _, s := range seed {
		ls = append(ls, s...)
	}
	pHash(out, secret, ls, h)
}

// pskPremaster is the premaster secret of the plain PSK key exchange (RFC 4279 section 2):
// uint16(N), N zero bytes, uint16(N), the key of N bytes.
func pskPremaster(key []byte) []byte {
	n := len(key)
	pms := make([]byte, 4+2*n)
	pms[0], pms[1] = byte(n>>8), byte(n)
	pms[2+n], pms[3+n] = byte(n>>8), byte(n)
	copy(pms[4+n:], key)
	return pms
}

const (
	masterSecretLen = 48
	verifyDataLen   = 12
)

// masterSecret derives the master secret: with the extended master secret (RFC 7627) from
// the hash of the handshake up to the ClientKeyExchange, otherwise from the two randoms.
func masterSecret(s *suite, pms, clientRandom, serverRandom, sessionHash []byte, extended bool) []byte {
	ms := make([]byte, masterSecretLen)
	if extended {
		prf(s.prfHash, ms, pms, "extended master secret", sessionHash)
	} else {
		prf(s.prfHash, ms, pms, "master secret", clientRandom, serverRandom)
	}
	return ms
}

// keyBlock is the key material of one connection (RFC 5246 section 6.3).
type keyBlock struct {
	clientMAC, serverMAC []byte
	clientKey, serverKey []byte
	clientIV, serverIV   []byte // GCM's implicit nonce part (4 bytes); empty for CBC
}

func keysFromMaster(s *suite, ms, clientRandom, serverRandom []byte) keyBlock {
	ivLen := 0
	if s.aead {
		ivLen = 4
	}
	b := make([]byte, 2*s.macLen+2*s.keyLen+2*ivLen)
	prf(s.prfHash, b, ms, "key expansion", serverRandom, clientRandom)
	var k keyBlock
	take := func(n int) []byte { v := b[:n:n]; b = b[n:]; return v }
	k.clientMAC, k.serverMAC = take(s.macLen), take(s.macLen)
	k.clientKey, k.serverKey = take(s.keyLen), take(s.keyLen)
	k.clientIV, k.serverIV = take(ivLen), take(ivLen)
	return k
}

// finishedData is the verify_data of a Finished message over the transcript hash.
func finishedData(s *suite, ms []byte, client bool, transcriptHash []byte) []byte {
	label := "server finished"
	if client {
		label = "client finished"
	}
	out := make([]byte, verifyDataLen)
	prf(s.prfHash, out, ms, label, transcriptHash)
	return out
}
