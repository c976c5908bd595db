package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultTokenTTL is how long a login lasts.
const DefaultTokenTTL = 8 * time.Hour

// Sessions issues and checks the administrators' session tokens: "<user>.<expiry>.<gen>" in
// base64url, then "." and its HMAC-SHA256 under a key drawn at random when the node starts
// (a restart ends every session). gen identifies the user's password (Admins.generation): a
// password change or the user's deletion ends that user's sessions at once. The dashboard's
// page sends the token as `Authorization: Bearer` to the HTTP API, which accepts it through
// httpapi.Options.Tokens (this type implements httpapi.TokenChecker). Safe for concurrent use.
type Sessions struct {
	admins *Admins
	key    [32]byte
	ttl    time.Duration
	now    func() time.Time
}

// NewSessions returns the session issuer of admins; ttl 0 is DefaultTokenTTL.
func NewSessions(admins *Admins, ttl time.Duration) *Sessions {
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	s := &Sessions{admins: admins, ttl: ttl, now: time.Now}
	if _, err := rand.Read(s.key[:]); err != nil {
		panic("BUG: crypto/rand: " + err.Error())
	}
	return s
}

// Admins returns the administrators the sessions are of.
func (s *Sessions) Admins() *Admins { return s.admins }

// Issue returns a token for user (already authenticated) and when it expires.
func (s *Sessions) Issue(user string) (token string, expires time.Time) {
	expires = s.now().Add(s.ttl).Truncate(time.Second)
	body := base64.RawURLEncoding.EncodeToString([]byte(user)) + "." +
		strconv.FormatInt(expires.Unix(), 10) + "." + s.admins.generation(user)
	return body + "." + s.sign(body), expires
}

func (s *Sessions) sign(body string) string {
	m := hmac.New(sha256.New, s.key[:])
	m.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Reasons a token is refused.
var (
	errTokenForm    = errors.New("malformed session token")
	errTokenSig     = errors.New("session token signature does not match (issued before a restart?)")
	errTokenExpired = errors.New("session expired: log in again")
	errTokenRevoked = errors.New("session ended: the user was deleted or changed password")
)

// CheckToken returns the user a valid token was issued to, or why it is refused.
func (s *Sessions) CheckToken(token string) (string, error) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return "", errTokenForm
	}
	body, sig := token[:i], token[i+1:]
	if !hmac.Equal([]byte(sig), []byte(s.sign(body))) {
		return "", errTokenSig
	}
	parts := strings.Split(body, ".")
	if len(parts) != 3 {
		return "", errTokenForm
	}
	name, err := base64.RawURLEncoding.DecodeString(parts[0])
	exp, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || err2 != nil {
		return "", errTokenForm
	}
	if !s.now().Before(time.Unix(exp, 0)) {
		return "", errTokenExpired
	}
	if g := s.admins.generation(string(name)); g == "" || g != parts[2] {
		return "", errTokenRevoked
	}
	return string(name), nil
}

// Login throttling: after loginFreeFailures wrong passwords from one address, that address
// waits before its next attempt: loginFirstDelay, doubling with each further failure up to
// loginMaxDelay. A success clears the address's count; counts of quiet addresses are
// forgotten after loginForget.
const (
	loginFreeFailures = 5
	loginFirstDelay   = 2 * time.Second
	loginMaxDelay     = 5 * time.Minute
	loginForget       = 30 * time.Minute
	loginMaxTracked   = 10000
)

// throttle counts failed logins per client address. Safe for concurrent use.
type throttle struct {
	mu    sync.Mutex
	addrs map[string]*failures
	now   func() time.Time
}

type failures struct {
	n     int
	until time.Time // no attempt accepted before
	last  time.Time
}

func newThrottle() *throttle {
	return &throttle{addrs: map[string]*failures{}, now: time.Now}
}

// wait returns how long addr must still wait before it may try again; 0: now.
func (t *throttle) wait(addr string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.addrs[addr]
	if f == nil {
		return 0
	}
	return max(0, f.until.Sub(t.now()))
}

// failed records a wrong password from addr and returns the failures counted so far and the
// wait it imposes.
func (t *throttle) failed(addr string) (int, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if len(t.addrs) >= loginMaxTracked {
		for a, f := range t.addrs {
			if now.Sub(f.last) > loginForget {
				delete(t.addrs, a)
			}
		}
	}
	f := t.addrs[addr]
	if f == nil || now.Sub(f.last) > loginForget {
		f = &failures{}
		t.addrs[addr] = f
	}
	f.n++
	f.last = now
	var d time.Duration
	if over := f.n - loginFreeFailures; over >= 0 {
		d = loginFirstDelay << min(over, 20)
		d = min(d, loginMaxDelay)
		f.until = now.Add(d)
	}
	return f.n, d
}

// succeeded clears addr's count.
func (t *throttle) succeeded(addr string) {
	t.mu.Lock()
	delete(t.addrs, addr)
	t.mu.Unlock()
}
