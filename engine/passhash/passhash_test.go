package passhash

import (
	"errors"
	"strings"
	"testing"
)

// Digests computed independently (Python's hashlib).
func TestCheckKnownDigests(t *testing.T) {
	f := func(spec, password, salt, stored string) {
		t.Helper()
		s, err := Parse(spec)
		if err != nil {
			t.Fatalf("Parse(%q): %v", spec, err)
		}
		if err := Check(s, []byte(password), []byte(salt), stored); err != nil {
			t.Errorf("%s: %q does not match %s: %v", spec, password, stored, err)
		}
		if err := Check(s, []byte(password+"x"), []byte(salt), stored); !errors.Is(err, ErrMismatch) {
			t.Errorf("%s: a wrong password gave %v, want ErrMismatch", spec, err)
		}
		if s.String() != strings.ReplaceAll(spec, " ", "") {
			t.Errorf("String() = %q, want %q", s.String(), spec)
		}
	}
	f("plain", "public", "", "public")
	f("md5", "public", "", "4c9184f37cff01bcdc32dc486ec36961")
	f("md5", "public", "", "4C9184F37CFF01BCDC32DC486EC36961") // hex compares case-insensitively
	f("sha", "public", "", "61c9b2b17db77a27841bbeeabff923448b0f6388")
	f("salt,sha256", "public", "abc", "3ca340d6d0eca5f583d2d428dcf4597bdd102d963b9f785e742e3bbc0268c794")
	f("sha512,salt", "public", "xyz", "ce351b6230d134d0089af054efaee535d3c1e17b6610fc4e2af7524eb19eaf962032d9a48bca9c3d01502b2710f9a2b1c957f1244e9f122879cb0995f4229dba")
	f("pbkdf2,sha256,1000,20", "public", "salt", "5a21f11c597da1447641c0a5ba58b856a76f1084")
}

func TestBcryptRoundTrip(t *testing.T) {
	s, _ := Parse("bcrypt")
	h, err := Hash(s, []byte("public"), nil)
	if err != nil || !strings.HasPrefix(h, "$2a$10$") {
		t.Fatalf("Hash: %q %v, want bcrypt of cost 10", h, err)
	}
	if h4, err := Hash(Spec{Algo: Bcrypt, Iterations: 4}, []byte("public"), nil); err != nil || !strings.HasPrefix(h4, "$2a$04$") {
		t.Fatalf("Hash of cost 4: %q %v", h4, err)
	}
	if err := Check(s, []byte("public"), nil, h); err != nil {
		t.Errorf("right password: %v", err)
	}
	if err := Check(s, []byte("private"), nil, h); !errors.Is(err, ErrMismatch) {
		t.Errorf("wrong password: %v", err)
	}
	if err := Check(s, []byte("public"), nil, "not-a-hash"); err == nil || errors.Is(err, ErrMismatch) {
		t.Errorf("malformed stored hash: %v, want a malformed-hash error", err)
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{"", "sha3", "salt,bcrypt", "salt,plain", "md5,sha", "pbkdf2", "pbkdf2,sha256,0,20", "pbkdf2,bcrypt,10,20", "pbkdf2,sha256,x,20"} {
		if _, err := Parse(in); err == nil || !strings.Contains(err.Error(), Expected) {
			t.Errorf("Parse(%q) = %v, want an error listing the accepted forms", in, err)
		}
	}
}
