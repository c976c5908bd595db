package authldap

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
	"strings"
)

// errWrongPassword is a password that does not match the stored value.
var errWrongPassword = errors.New("wrong password")

// checkPassword compares password with a stored password attribute value as LDAP directories
// write them (RFC 2307): "{SCHEME}base64" for SHA, SSHA, MD5, SMD5, SHA256, SSHA256, SHA512
// and SSHA512 (the salted forms hold the digest then the salt), "{CLEARTEXT}..." or a value
// without a scheme in clear. As EMQX does, a value that is itself the base64 of such a value is
// accepted too. The comparison takes the same time whatever the bytes that differ.
func checkPassword(stored string, password []byte) error {
	if !strings.HasPrefix(stored, "{") {
		if dec, err := base64.StdEncoding.DecodeString(stored); err == nil && strings.HasPrefix(string(dec), "{") && strings.Contains(string(dec), "}") {
			stored = string(dec)
		}
	}
	scheme, value := "", stored
	if strings.HasPrefix(stored, "{") {
		if end := strings.IndexByte(stored, '}'); end > 0 {
			scheme, value = strings.ToUpper(stored[1:end]), stored[end+1:]
		}
	}
	var newHash func() hash.Hash
	salted := false
	switch scheme {
	case "", "CLEARTEXT":
		if subtle.ConstantTimeCompare([]byte(value), password) != 1 {
			return errWrongPassword
		}
		return nil
	case "SHA":
		newHash = sha1.New
	case "SSHA":
		newHash, salted = sha1.New, true
	case "MD5":
		newHash = md5.New
	case "SMD5":
		newHash, salted = md5.New, true
	case "SHA256":
		newHash = sha256.New
	case "SSHA256":
		newHash, salted = sha256.New, true
	case "SHA512":
		newHash = sha512.New
	case "SSHA512":
		newHash, salted = sha512.New, true
	default:
		return errors.New("unsupported password scheme {" + scheme + "}")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
	if err != nil {
		return errors.New("{" + scheme + "} value is not base64: " + err.Error())
	}
	h := newHash()
	size := h.Size()
	if len(raw) < size || !salted && len(raw) != size {
		return errors.New("{" + scheme + "} value has the wrong length")
	}
	h.Write(password)
	h.Write(raw[size:]) // the salt; empty when unsalted
	if subtle.ConstantTimeCompare(h.Sum(nil), raw[:size]) != 1 {
		return errWrongPassword
	}
	return nil
}
