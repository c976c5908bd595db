package tlspsk

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/subtle"
	"encoding/binary"
	"hash"
	"io"
)

// The record layer (RFC 5246 section 6.2): one direction's protection state.

// Record content types.
const (
	recordChangeCipherSpec byte = 20
	recordAlert            byte = 21
	recordHandshake        byte = 22
	recordApplicationData  byte = 23
)

const (
	version12 uint16 = 0x0303
	// maxPlaintext is the largest plaintext fragment (2^14).
	maxPlaintext = 16384
	// maxCiphertext is the largest protected fragment a peer may send (2^14 + 2048).
	maxCiphertext    = maxPlaintext + 2048
	recordHeaderLen  = 5
	gcmExplicitNonce = 8
	gcmTagLen        = 16
)

// halfConn protects the records of one direction. Before ChangeCipherSpec it is the null
// cipher (aead and block both nil).
type halfConn struct {
	seq   uint64
	aead  cipher.AEAD
	salt  []byte // GCM implicit nonce (4 bytes)
	block cipher.Block
	mac   hash.Hash // HMAC with the MAC key (CBC)
	// scratch, reused per record
	nonce [12]byte
	hdr   [13]byte
	sum   []byte
}

// protected reports whether a cipher is in use.
func (h *halfConn) protected() bool { return h.aead != nil || h.block != nil }

// setKeys installs the cipher of suite s with key, macKey and iv; the sequence number
// restarts at 0.
func (h *halfConn) setKeys(s *suite, key, macKey, iv []byte) error {
	b, err := aes.NewCipher(key)
	if err != nil {
		return err
	}
	h.seq = 0
	if s.aead {
		g, err := cipher.NewGCM(b)
		if err != nil {
			return err
		}
		h.aead, h.salt = g, iv
		return nil
	}
	h.block, h.mac = b, hmac.New(s.mac, macKey)
	return nil
}

// additionalData fills the 13 bytes that the MAC or the AEAD authenticate besides the data:
// sequence number, content type, version, plaintext length.
func (h *halfConn) additionalData(typ byte, n int) []byte {
	binary.BigEndian.PutUint64(h.hdr[:8], h.seq)
	h.hdr[8] = typ
	binary.BigEndian.PutUint16(h.hdr[9:], version12)
	binary.BigEndian.PutUint16(h.hdr[11:], uint16(n))
	return h.hdr[:]
}

// seal appends one record of type typ carrying payload (at most maxPlaintext bytes) to dst.
// rand supplies CBC's explicit IVs.
func (h *halfConn) seal(dst []byte, typ byte, payload []byte, rand io.Reader) ([]byte, error) {
	start := len(dst)
	dst = append(dst, typ, byte(version12>>8), byte(version12&0xff), 0, 0)
	switch {
	case h.aead != nil:
		var explicit [gcmExplicitNonce]byte
		binary.BigEndian.PutUint64(explicit[:], h.seq) // unique per key: the sequence number
		copy(h.nonce[:4], h.salt)
		copy(h.nonce[4:], explicit[:])
		dst = append(dst, explicit[:]...)
		dst = h.aead.Seal(dst, h.nonce[:], payload, h.additionalData(typ, len(payload)))
	case h.block != nil:
		bs := h.block.BlockSize()
		ivAt := len(dst)
		dst = append(dst, make([]byte, bs)...)
		if _, err := io.ReadFull(rand, dst[ivAt:]); err != nil {
			return dst[:start], err
		}
		body := len(dst)
		dst = append(dst, payload...)
		h.mac.Reset()
		h.mac.Write(h.additionalData(typ, len(payload)))
		h.mac.Write(payload)
		dst = h.mac.Sum(dst)
		pad := bs - (len(dst)-body)%bs // 1..bs bytes, each holding pad-1
		for i := 0; i < pad; i++ {
			dst = append(dst, byte(pad-1))
		}
		cipher.NewCBCEncrypter(h.block, dst[ivAt:body]).CryptBlocks(dst[body:], dst[body:])
	default:
		dst = append(dst, payload...)
	}
	binary.BigEndian.PutUint16(dst[start+3:], uint16(len(dst)-start-recordHeaderLen))
	h.seq++
	return dst, nil
}

// open authenticates and decrypts the fragment of a record of type typ in place and returns
// the plaintext (a sub-slice of frag). ok is false when the record does not authenticate
// (bad_record_mac); the same work is done whatever part of the check failed.
func (h *halfConn) open(typ byte, frag []byte) (plain []byte, ok bool) {
	switch {
	case h.aead != nil:
		if len(frag) < gcmExplicitNonce+gcmTagLen {
			return nil, false
		}
		copy(h.nonce[:4], h.salt)
		copy(h.nonce[4:], frag[:gcmExplicitNonce])
		ct := frag[gcmExplicitNonce:]
		plain, err := h.aead.Open(ct[:0], h.nonce[:], ct, h.additionalData(typ, len(ct)-gcmTagLen))
		if err != nil {
			return nil, false
		}
		h.seq++
		return plain, true
	case h.block != nil:
		plain, ok = h.openCBC(typ, frag)
		if ok {
			h.seq++
		}
		return plain, ok
	}
	h.seq++
	return frag, true
}

// openCBC checks a MAC-then-encrypt CBC record without a timing oracle on the padding
// (Lucky Thirteen): the padding is checked in constant time over its largest possible
// length, a bad padding is treated as none, and the MAC hashes the same number of bytes
// whatever the padding length, so that success, bad padding and bad MAC take the same work.
func (h *halfConn) openCBC(typ byte, frag []byte) ([]byte, bool) {
	bs := h.block.BlockSize()
	macLen := h.mac.Size()
	minLen := bs + ((macLen+1+bs-1)/bs)*bs // IV, then at least MAC and one padding byte
	if len(frag) < minLen || len(frag)%bs != 0 {
		return nil, false
	}
	iv, body := frag[:bs], frag[bs:]
	cipher.NewCBCDecrypter(h.block, iv).CryptBlocks(body, body)
	n := len(body)
	padLen := int(body[n-1])
	// good is 1 when padLen+1+macLen <= n and the last padLen+1 bytes all equal padLen.
	good := subtle.ConstantTimeLessOrEq(padLen+1+macLen, n)
	// Look at the last 256 bytes (or all of body when shorter): every padding byte that
	// could be there, whatever padLen is.
	check := min(256, n)
	for i := 1; i <= check; i++ {
		inPad := subtle.ConstantTimeLessOrEq(i, padLen+1)
		same := subtle.ConstantTimeByteEq(body[n-i], byte(padLen))
		good &= subtle.ConstantTimeSelect(inPad, same, 1)
	}
	// On bad padding, remove nothing (the MAC then fails): padLen+1 becomes 0.
	remove := subtle.ConstantTimeSelect(good, padLen+1, 0)
	dataLen := n - macLen - remove
	h.mac.Reset()
	h.mac.Write(h.additionalData(typ, dataLen))
	h.mac.Write(body[:dataLen])
	h.sum = h.mac.Sum(h.sum[:0])
	// Hash the rest too (result unused) so the work does not depend on the padding length.
	h.mac.Write(body[dataLen : n-macLen])
	macOK := subtle.ConstantTimeCompare(h.sum, body[dataLen:dataLen+macLen])
	if good&macOK != 1 {
		return nil, false
	}
	return body[:dataLen], true
}
