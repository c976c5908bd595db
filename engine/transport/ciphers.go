package transport

import (
	"crypto/tls"
	"fmt"
	"regexp"
	"strings"
)

// opensslToIANA maps the OpenSSL names of the TLS 1.0–1.2 cipher suites Go implements to
// their IANA names (Go's tls.CipherSuiteName).
var opensslToIANA = map[string]string{
	"ECDHE-ECDSA-AES128-GCM-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	"ECDHE-RSA-AES128-GCM-SHA256":   "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-RSA-AES256-GCM-SHA384":   "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-ECDSA-CHACHA20-POLY1305": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	"ECDHE-RSA-CHACHA20-POLY1305":   "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	"ECDHE-ECDSA-AES128-SHA256":     "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
	"ECDHE-RSA-AES128-SHA256":       "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
	"ECDHE-ECDSA-AES128-SHA":        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
	"ECDHE-RSA-AES128-SHA":          "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
	"ECDHE-ECDSA-AES256-SHA":        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
	"ECDHE-RSA-AES256-SHA":          "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
	"ECDHE-RSA-DES-CBC3-SHA":        "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
	"ECDHE-ECDSA-RC4-SHA":           "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
	"ECDHE-RSA-RC4-SHA":             "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
	"AES128-GCM-SHA256":             "TLS_RSA_WITH_AES_128_GCM_SHA256",
	"AES256-GCM-SHA384":             "TLS_RSA_WITH_AES_256_GCM_SHA384",
	"AES128-SHA256":                 "TLS_RSA_WITH_AES_128_CBC_SHA256",
	"AES128-SHA":                    "TLS_RSA_WITH_AES_128_CBC_SHA",
	"AES256-SHA":                    "TLS_RSA_WITH_AES_256_CBC_SHA",
	"DES-CBC3-SHA":                  "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
	"RC4-SHA":                       "TLS_RSA_WITH_RC4_128_SHA",
}

// opensslName matches the names OpenSSL gives TLS 1.0–1.2 suites (key exchange, then
// authentication, cipher and MAC), so that a real suite Go lacks (DHE-, fixed ECDH-, CAMELLIA,
// SHA384 CBC…) is told apart from a misspelt one.
var opensslName = regexp.MustCompile(`^((ECDHE|ECDH|DHE|EDH|DH|ADH|AECDH|SRP|PSK|RSA-PSK|DHE-PSK|ECDHE-PSK)-)?((ECDSA|RSA|DSS|aNULL)-)?` +
	`(AES(128|256)(-GCM|-CCM|-CCM8)?|CAMELLIA(128|256)|ARIA(128|256)-GCM|CHACHA20-POLY1305|DES-CBC3|EDE-CBC3|DES-CBC|3DES-EDE-CBC|RC4|SEED|IDEA|NULL)` +
	`(-(SHA|SHA256|SHA384|MD5))?$`)

// tls13Names are the TLS 1.3 suites: Go always offers all three and lets nobody choose.
var tls13Names = map[string]bool{
	"TLS_AES_128_GCM_SHA256": true, "TLS_AES_256_GCM_SHA384": true, "TLS_CHACHA20_POLY1305_SHA256": true,
	"TLS_AES_128_CCM_SHA256": true, "TLS_AES_128_CCM_8_SHA256": true,
}

// CipherSuites maps OpenSSL cipher names (EMQX's ciphers key) to Go's suite ids, in the order
// given. Names of real suites that Go does not implement, and TLS 1.3 suite names (not
// configurable in Go), are left out and listed in ignored. A name that is no cipher suite at
// all is an error naming it.
func CipherSuites(names []string) (ids []uint16, ignored []string, err error) {
	byName := map[string]uint16{}
	for _, cs := range tls.CipherSuites() {
		byName[cs.Name] = cs.ID
	}
	for _, cs := range tls.InsecureCipherSuites() {
		byName[cs.Name] = cs.ID
	}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if iana, ok := opensslToIANA[n]; ok {
			if id, ok := byName[iana]; ok {
				ids = append(ids, id)
				continue
			}
			ignored = append(ignored, n)
			continue
		}
		if tls13Names[n] || opensslName.MatchString(n) {
			ignored = append(ignored, n)
			continue
		}
		return nil, nil, fmt.Errorf("%q is not a TLS cipher suite name (OpenSSL names, e.g. ECDHE-RSA-AES128-GCM-SHA256)", n)
	}
	return ids, ignored, nil
}
