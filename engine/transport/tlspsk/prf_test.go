package tlspsk

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", ":", "", "\n", "", "\t", "").Replace(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The TLS 1.2 PRF vectors posted to the IETF TLS list (SHA-256 and SHA-384); the same output
// comes from OpenSSL: openssl kdf -keylen N -kdfopt digest:SHA256 -kdfopt hexsecret:S
// -kdfopt hexseed:<"test label" in hex>SEED TLS1-PRF.
func TestPRFVectors(t *testing.T) {
	f := func(h func() hash.Hash, secret, seed, want string) {
		t.Helper()
		w := unhex(t, want)
		out := make([]byte, len(w))
		prf(h, out, unhex(t, secret), "test label", unhex(t, seed))
		if !bytes.Equal(out, w) {
			t.Fatalf("PRF = %x\nwant  %x", out, w)
		}
	}
	f(sha256.New, "9bbe436ba940f017b17652849a71db35", "a0ba9f936cda311827a6f796ffd5198c", `
E3F229BA727BE17B8D122620557CD453C2AAB21D07C3D495329B52D4E61EDB5A6B301791E90D35C9C9A46B4E14BAF9AF0F
A022F7077DEF17ABFD3797C0564BAB4FBC91666E9DEF9B97FCE34F796789BAA48082D122EE42C5A72E5A5110FFF70187347B66`)
	f(sha512.New384, "b80b733d6ceefcdc71566ea48e5567df", "cd665cf6a8447dd6ff8b27555edb7465", `
7B0C18E9CED410ED1804F2CFA34A336A1C14DFFB4900BB5FD7942107E81C83CDE9CA0FAA60BE9FE34F82B1233C9146A0E534CB40
0FED2700884F9DC236F80EDD8BFA961144C9E8D792ECA722A7B32FC3D416D473EBC2C5FD4ABFDAD05D9184259B5BF8CD4D90FA0D
31E2DEC479E4F1A26066F2EEA9A69236A3E52655C9E9AEE691C8F3A26854308D5EAA3BE85E0990703D73E56F`)
}

// The plain PSK premaster secret of RFC 4279 section 2 for the key "1234" (EMQX's client1).
func TestPremaster(t *testing.T) {
	got := pskPremaster([]byte("1234"))
	want := unhex(t, "0004 00000000 0004 31323334")
	if !bytes.Equal(got, want) {
		t.Fatalf("premaster = %x, want %x", got, want)
	}
}

// The key block split: GCM takes no MAC keys and 4-byte implicit IVs, CBC MAC keys of the
// HMAC's size and no IVs, in the order of RFC 5246 section 6.3.
func TestKeyBlockLayout(t *testing.T) {
	ms := bytes.Repeat([]byte{7}, 48)
	cr, sr := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	for _, s := range suites {
		kb := keysFromMaster(s, ms, cr, sr)
		ivLen := 0
		if s.aead {
			ivLen = 4
		}
		total := 2*s.macLen + 2*s.keyLen + 2*ivLen
		all := make([]byte, total)
		prf(s.prfHash, all, ms, "key expansion", sr, cr)
		joined := bytes.Join([][]byte{kb.clientMAC, kb.serverMAC, kb.clientKey, kb.serverKey, kb.clientIV, kb.serverIV}, nil)
		if !bytes.Equal(joined, all) || len(kb.clientKey) != s.keyLen || len(kb.clientMAC) != s.macLen || len(kb.serverIV) != ivLen {
			t.Fatalf("%s: key block split wrong", s.name)
		}
	}
}

func TestCipherSuiteNames(t *testing.T) {
	ids, ignored, err := CipherSuites([]string{"PSK-AES128-CBC-SHA", "psk-aes256-gcm-sha384", "PSK-3DES-EDE-CBC-SHA", "PSK-RC4-SHA", "PSK-AES128-CBC-SHA"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] != TLS_PSK_WITH_AES_128_CBC_SHA || ids[1] != TLS_PSK_WITH_AES_256_GCM_SHA384 {
		t.Fatalf("ids = %x", ids)
	}
	if strings.Join(ignored, ",") != "PSK-3DES-EDE-CBC-SHA,PSK-RC4-SHA" {
		t.Fatalf("ignored = %v", ignored)
	}
	if _, _, err := CipherSuites([]string{"ECDHE-RSA-AES128-GCM-SHA256"}); err == nil || !strings.Contains(err.Error(), "ECDHE-RSA-AES128-GCM-SHA256") {
		t.Fatalf("a certificate suite: err = %v", err)
	}
	if CipherSuiteName(0x00A8) != "PSK-AES128-GCM-SHA256" || CipherSuiteName(0x1301) != "0x1301" {
		t.Fatal("CipherSuiteName")
	}
}
