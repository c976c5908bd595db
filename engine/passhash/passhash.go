// Package passhash hashes and checks passwords the way EMQX's auth plugins store them:
// password_hash = plain | md5 | sha | sha256 | sha512 | bcrypt | pbkdf2,<mac>,<iterations>,<dklen>,
// with an optional salt before (salt,sha256) or after (sha256,salt) the password. Digests are
// kept in lower-case hex; bcrypt hashes in their own "$2a$..." form (the salt is inside).
//
// It is a library of the auth plugins (engine/service/...): it imports only the standard
// library and golang.org/x/crypto. Everything here is safe for concurrent use.
package passhash

import (
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Algo is a hash function of password_hash.
type Algo uint8

// The algorithms of password_hash.
const (
	Plain Algo = iota
	MD5
	SHA1 // "sha"
	SHA256
	SHA512
	Bcrypt
	PBKDF2
)

var algoNames = [...]string{Plain: "plain", MD5: "md5", SHA1: "sha", SHA256: "sha256", SHA512: "sha512", Bcrypt: "bcrypt", PBKDF2: "pbkdf2"}

// String is the algorithm's name in password_hash.
func (a Algo) String() string {
	if int(a) < len(algoNames) {
		return algoNames[a]
	}
	return "algo(" + strconv.Itoa(int(a)) + ")"
}

// SaltPos says where the salt goes relative to the password before hashing.
type SaltPos uint8

// Salt positions.
const (
	NoSalt SaltPos = iota
	Prefix         // salt,sha256: hash(salt + password)
	Suffix         // sha256,salt: hash(password + salt)
)

// Spec is a parsed password_hash value. The zero Spec is plain text. Specs are values.
type Spec struct {
	Algo Algo
	Salt SaltPos
	// PBKDF2 only: the HMAC's hash (MD5, SHA1, SHA256 or SHA512), iterations, key length.
	// Bcrypt: Iterations is the cost of new hashes, 0 for BcryptCost.
	MAC        Algo
	Iterations int
	KeyLen     int
}

// Expected lists the accepted forms of password_hash, for error messages.
const Expected = "plain, md5, sha, sha256, sha512, bcrypt, salt,<hash>, <hash>,salt or pbkdf2,<md5|sha|sha256|sha512>,<iterations>,<dklen>"

// Parse reads a password_hash value.
func Parse(s string) (Spec, error) {
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	bad := func(why string) (Spec, error) {
		return Spec{}, fmt.Errorf("bad password hash %q: %s (expected %s)", s, why, Expected)
	}
	switch {
	case len(parts) == 1:
		a, ok := algoOf(parts[0])
		if !ok || a == PBKDF2 {
			return bad("unknown algorithm")
		}
		return Spec{Algo: a}, nil
	case len(parts) == 2:
		var sp Spec
		name := parts[1]
		switch {
		case parts[0] == "salt":
			sp.Salt = Prefix
		case parts[1] == "salt":
			sp.Salt, name = Suffix, parts[0]
		default:
			return bad("two parts without salt")
		}
		a, ok := algoOf(name)
		if !ok || a == PBKDF2 || a == Bcrypt || a == Plain {
			return bad("salt goes with md5, sha, sha256 or sha512")
		}
		sp.Algo = a
		return sp, nil
	case len(parts) == 4 && parts[0] == "pbkdf2":
		mac, ok := algoOf(parts[1])
		if !ok || mac < MD5 || mac > SHA512 {
			return bad("pbkdf2's mac is md5, sha, sha256 or sha512")
		}
		it, err1 := strconv.Atoi(parts[2])
		kl, err2 := strconv.Atoi(parts[3])
		if err1 != nil || err2 != nil || it < 1 || kl < 1 || kl > 1024 {
			return bad("pbkdf2's iterations and dklen are positive integers")
		}
		return Spec{Algo: PBKDF2, MAC: mac, Iterations: it, KeyLen: kl}, nil
	}
	return bad("unknown form")
}

func algoOf(name string) (Algo, bool) {
	for i, n := range algoNames {
		if n == name {
			return Algo(i), true
		}
	}
	return 0, false
}

// String is the spec in password_hash form.
func (s Spec) String() string {
	switch {
	case s.Algo == PBKDF2:
		return "pbkdf2," + s.MAC.String() + "," + strconv.Itoa(s.Iterations) + "," + strconv.Itoa(s.KeyLen)
	case s.Salt == Prefix:
		return "salt," + s.Algo.String()
	case s.Salt == Suffix:
		return s.Algo.String() + ",salt"
	}
	return s.Algo.String()
}

func newHash(a Algo) func() hash.Hash {
	switch a {
	case MD5:
		return md5.New
	case SHA1:
		return sha1.New
	case SHA256:
		return sha256.New
	case SHA512:
		return sha512.New
	}
	panic("BUG: passhash: no hash function for " + a.String())
}

// BcryptCost is the cost of the bcrypt hashes Hash makes.
const BcryptCost = 10

// Hash returns the stored form of password with salt under s: hex digest, bcrypt hash, or the
// password itself for plain. For bcrypt, salt is ignored (bcrypt makes its own); for pbkdf2 it
// is the key-derivation salt.
func Hash(s Spec, password, salt []byte) (string, error) {
	switch s.Algo {
	case Plain:
		return string(password), nil
	case Bcrypt:
		cost := BcryptCost
		if s.Iterations > 0 {
			cost = s.Iterations
		}
		b, err := bcrypt.GenerateFromPassword(password, cost)
		if err != nil {
			return "", fmt.Errorf("bcrypt: %w", err)
		}
		return string(b), nil
	case PBKDF2:
		k, err := pbkdf2.Key(newHash(s.MAC), string(password), salt, s.Iterations, s.KeyLen)
		if err != nil {
			return "", fmt.Errorf("pbkdf2: %w", err)
		}
		return hex.EncodeToString(k), nil
	}
	h := newHash(s.Algo)()
	switch s.Salt {
	case Prefix:
		h.Write(salt)
		h.Write(password)
	case Suffix:
		h.Write(password)
		h.Write(salt)
	default:
		h.Write(password)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ErrMismatch is Check's answer to a wrong password.
var ErrMismatch = errors.New("passhash: password does not match")

// Check reports whether password (with salt, as Hash takes it) matches stored, in time that
// does not depend on where they differ. Hex digests compare case-insensitively. It returns nil
// on a match, ErrMismatch on a wrong password, another error when stored is malformed.
func Check(s Spec, password, salt []byte, stored string) error {
	if s.Algo == Bcrypt {
		err := bcrypt.CompareHashAndPassword([]byte(stored), password)
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return ErrMismatch
		}
		if err != nil {
			return fmt.Errorf("passhash: stored bcrypt hash is malformed: %w", err)
		}
		return nil
	}
	got, err := Hash(s, password, salt)
	if err != nil {
		return err
	}
	want := stored
	if s.Algo != Plain {
		want = strings.ToLower(stored)
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return ErrMismatch
	}
	return nil
}
