package tlspsk

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"testing"
)

// GCM records against an independent construction (RFC 5288 section 3): nonce = salt ||
// explicit part (here the sequence number), AAD = seq || type || version || length.
func TestGCMRecord(t *testing.T) {
	s := suiteByID(TLS_PSK_WITH_AES_128_GCM_SHA256)
	key, salt := unhex(t, "000102030405060708090a0b0c0d0e0f"), unhex(t, "a0a1a2a3")
	var w, r halfConn
	if err := w.setKeys(s, key, nil, salt); err != nil {
		t.Fatal(err)
	}
	_ = r.setKeys(s, key, nil, salt)
	w.seq = 7
	rec, err := w.seal(nil, recordApplicationData, []byte("hello"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCM(block)
	nonce := append(bytes.Clone(salt), 0, 0, 0, 0, 0, 0, 0, 7)
	aad := []byte{0, 0, 0, 0, 0, 0, 0, 7, 23, 3, 3, 0, 5}
	want := append([]byte{23, 3, 3, 0, 8 + 5 + 16, 0, 0, 0, 0, 0, 0, 0, 7}, g.Seal(nil, nonce, []byte("hello"), aad)...)
	if !bytes.Equal(rec, want) {
		t.Fatalf("record %x\nwant   %x", rec, want)
	}
	r.seq = 7
	if p, ok := r.open(recordApplicationData, bytes.Clone(rec[5:])); !ok || string(p) != "hello" {
		t.Fatalf("open: %q %v", p, ok)
	}
	// Any flipped bit, or another type or sequence number, fails.
	for i := 5; i < len(rec); i++ {
		bad := bytes.Clone(rec[5:])
		bad[i-5] ^= 1
		r.seq = 7
		if _, ok := r.open(recordApplicationData, bad); ok {
			t.Fatalf("flipped byte %d accepted", i)
		}
	}
	r.seq = 8
	if _, ok := r.open(recordApplicationData, bytes.Clone(rec[5:])); ok {
		t.Fatal("wrong sequence number accepted")
	}
}

// CBC records (MAC then encrypt, RFC 5246 section 6.2.3.2) against an independent
// construction, and the refusals: bad MAC, bad padding, short or unaligned records.
func TestCBCRecord(t *testing.T) {
	s := suiteByID(TLS_PSK_WITH_AES_128_CBC_SHA)
	key, macKey := unhex(t, "000102030405060708090a0b0c0d0e0f"), bytes.Repeat([]byte{0x42}, 20)
	var w, r halfConn
	_ = w.setKeys(s, key, macKey, nil)
	_ = r.setKeys(s, key, macKey, nil)
	iv := bytes.Repeat([]byte{9}, 16)
	rec, err := w.seal(nil, recordApplicationData, []byte("hello"), bytes.NewReader(iv))
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha1.New, macKey)
	m.Write([]byte{0, 0, 0, 0, 0, 0, 0, 0, 23, 3, 3, 0, 5})
	m.Write([]byte("hello"))
	plain := append([]byte("hello"), m.Sum(nil)...) // 25 bytes: 7 of padding
	plain = append(plain, 6, 6, 6, 6, 6, 6, 6)
	block, _ := aes.NewCipher(key)
	ct := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, plain)
	want := append([]byte{23, 3, 3, 0, 48}, append(bytes.Clone(iv), ct...)...)
	if !bytes.Equal(rec, want) {
		t.Fatalf("record %x\nwant   %x", rec, want)
	}
	if p, ok := r.open(recordApplicationData, bytes.Clone(rec[5:])); !ok || string(p) != "hello" {
		t.Fatalf("open: %q %v", p, ok)
	}
	// encrypt builds a record body from a chosen plaintext (payload, MAC, padding).
	encrypt := func(plain []byte) []byte {
		ct := make([]byte, len(plain))
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, plain)
		return append(bytes.Clone(iv), ct...)
	}
	mac := func(seq uint64, data []byte) []byte {
		m := hmac.New(sha1.New, macKey)
		var h [13]byte
		binary.BigEndian.PutUint64(h[:], seq)
		h[8], h[9], h[10] = 23, 3, 3
		binary.BigEndian.PutUint16(h[11:], uint16(len(data)))
		m.Write(h[:])
		m.Write(data)
		return m.Sum(nil)
	}
	f := func(name string, body []byte, wantOK bool) {
		t.Helper()
		r.seq = 1
		_, ok := r.open(recordApplicationData, body)
		if ok != wantOK {
			t.Fatalf("%s: ok = %v", name, ok)
		}
	}
	good := append(append([]byte("0123456789a"), mac(1, []byte("0123456789a"))...), 0) // 11+20+1 = 32
	f("good, 1 byte of padding", encrypt(good), true)
	long := append(append([]byte("0123456789a"), mac(1, []byte("0123456789a"))...), bytes.Repeat([]byte{16}, 17)...)
	f("good, 17 bytes of padding", encrypt(long), true)
	badPad := bytes.Clone(long)
	badPad[40] = 15
	f("padding byte differs", encrypt(badPad), false)
	badMAC := bytes.Clone(good)
	badMAC[15] ^= 1
	f("MAC differs", encrypt(badMAC), false)
	tooLong := append(append([]byte("0123456789a"), mac(1, []byte("0123456789a"))...), 0)
	tooLong[31] = 40 // padding longer than the record
	f("padding longer than the record", encrypt(tooLong), false)
	f("shorter than IV, MAC and padding", encrypt(make([]byte, 16)), false)
	f("not a multiple of the block", append(encrypt(good), 1), false)
}
