package tlspsk

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"strings"
)

// Cipher suite identifiers (IANA) of the suites this package implements.
const (
	TLS_PSK_WITH_AES_128_CBC_SHA    uint16 = 0x008C // RFC 4279
	TLS_PSK_WITH_AES_256_CBC_SHA    uint16 = 0x008D // RFC 4279
	TLS_PSK_WITH_AES_128_GCM_SHA256 uint16 = 0x00A8 // RFC 5487
	TLS_PSK_WITH_AES_256_GCM_SHA384 uint16 = 0x00A9 // RFC 5487
	TLS_PSK_WITH_AES_128_CBC_SHA256 uint16 = 0x00AE // RFC 5487
	TLS_PSK_WITH_AES_256_CBC_SHA384 uint16 = 0x00AF // RFC 5487
)

// scsvRenegotiation is TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746), a cipher suite value
// that stands for an empty renegotiation_info extension.
const scsvRenegotiation uint16 = 0x00FF

// suite describes one cipher suite: its record protection and the hash of its PRF.
type suite struct {
	id      uint16
	name    string // OpenSSL's name
	aead    bool   // AES-GCM; otherwise AES-CBC with HMAC (MAC then encrypt)
	keyLen  int    // AES key bytes
	mac     func() hash.Hash
	macLen  int // HMAC key and output bytes (CBC only)
	prfHash func() hash.Hash
}

var suites = []*suite{
	{id: TLS_PSK_WITH_AES_128_GCM_SHA256, name: "PSK-AES128-GCM-SHA256", aead: true, keyLen: 16, prfHash: sha256.New},
	{id: TLS_PSK_WITH_AES_256_GCM_SHA384, name: "PSK-AES256-GCM-SHA384", aead: true, keyLen: 32, prfHash: sha512.New384},
	{id: TLS_PSK_WITH_AES_128_CBC_SHA256, name: "PSK-AES128-CBC-SHA256", keyLen: 16, mac: sha256.New, macLen: 32, prfHash: sha256.New},
	{id: TLS_PSK_WITH_AES_256_CBC_SHA384, name: "PSK-AES256-CBC-SHA384", keyLen: 32, mac: sha512.New384, macLen: 48, prfHash: sha512.New384},
	{id: TLS_PSK_WITH_AES_128_CBC_SHA, name: "PSK-AES128-CBC-SHA", keyLen: 16, mac: sha1.New, macLen: 20, prfHash: sha256.New},
	{id: TLS_PSK_WITH_AES_256_CBC_SHA, name: "PSK-AES256-CBC-SHA", keyLen: 32, mac: sha1.New, macLen: 20, prfHash: sha256.New},
}

func suiteByID(id uint16) *suite {
	for _, s := range suites {
		if s.id == id {
			return s
		}
	}
	return nil
}

// DefaultCipherSuites returns the suites used when Config.CipherSuites is empty, in the
// order of preference: the AEAD suites first. The slice is new on every call.
func DefaultCipherSuites() []uint16 {
	ids := make([]uint16, len(suites))
	for i, s := range suites {
		ids[i] = s.id
	}
	return ids
}

// CipherSuiteName returns the OpenSSL name of a suite this package implements, or its
// hexadecimal value.
func CipherSuiteName(id uint16) string {
	if s := suiteByID(id); s != nil {
		return s.name
	}
	return fmt.Sprintf("0x%04X", id)
}

// CipherSuites maps OpenSSL suite names (EMQX's psk_ciphers, e.g. "PSK-AES128-CBC-SHA") to
// suite identifiers, in the order given. Names of TLS-PSK suites that this package does
// not implement (3DES, RC4, CHACHA20, the DHE-, ECDHE- and RSA-PSK key exchanges) are
// returned in ignored; a name that is not a TLS-PSK suite at all is an error naming it.
// Matching ignores case.
func CipherSuites(names []string) (ids []uint16, ignored []string, err error) {
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		up := strings.ToUpper(n)
		var found *suite
		for _, s := range suites {
			if s.name == up {
				found = s
			}
		}
		switch {
		case found != nil:
			dup := false
			for _, id := range ids {
				dup = dup || id == found.id
			}
			if !dup {
				ids = append(ids, found.id)
			}
		case strings.HasPrefix(up, "PSK-") || strings.Contains(up, "-PSK-"):
			ignored = append(ignored, n)
		default:
			return nil, nil, fmt.Errorf("%q is not a TLS-PSK cipher suite (known: %s)", n, knownNames())
		}
	}
	return ids, ignored, nil
}

func knownNames() string {
	names := make([]string, len(suites))
	for i, s := range suites {
		names[i] = s.name
	}
	return strings.Join(names, ", ")
}
