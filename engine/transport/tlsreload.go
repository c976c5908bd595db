package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// TLSServer is a TLS listener's server configuration, kept in step with its files: the
// certificate, the key and the client CAs are read at NewTLSServer, again at Reload (emqx_ctl
// listeners restart), and again when a handshake finds that one of them changed on disk
// (modification time or size, checked at most once per reloadEvery). A set of files that does
// not load leaves the previous configuration in use. Connections already established keep the
// configuration of their handshake. An RSA key is handed to OpenSSL for signing as
// o.CryptoBackend says (tlsbackend.go); the OpenSSL copy of a replaced key is freed once the
// handshakes signing with it at that moment are done (later ones with the old configuration
// sign with Go). Safe for concurrent use.
type TLSServer struct {
	opts  TLSOptions
	outer *tls.Config // what tls.Server is given: its GetConfigForClient returns cur
	cur   atomic.Pointer[tls.Config]

	mu      sync.Mutex // serialises loads and the on-disk checks
	checked time.Time  // last look at the files' stamps
	stamps  [3]fileStamp
	key     keyBackend // what signs with cur's key; closed when cur is replaced
}

// reloadEvery is how often a handshake looks at the files' stamps.
const reloadEvery = time.Second

// NewTLSServer reads o's files and builds the configuration; notes are the settings applied
// differently than written (see buildServerTLS), to log once.
func NewTLSServer(o TLSOptions) (*TLSServer, []string, error) {
	s := &TLSServer{opts: o}
	cfg, notes, key, err := s.load()
	if err != nil {
		return nil, nil, err
	}
	s.use(cfg, key)
	// The outer configuration only picks the current inner one per handshake. Session ticket
	// keys live in the outer one (an inner configuration sets none), so resumption survives a
	// reload.
	s.outer = &tls.Config{
		SessionTicketsDisabled: !o.ReuseSessions,
		GetConfigForClient:     s.forClient,
	}
	return s, notes, nil
}

// ServerTLS builds the server side of a TLS listener (NewTLSServer's configuration): used to
// check a listener's settings without serving it.
func ServerTLS(o TLSOptions) (*tls.Config, []string, error) {
	s, notes, err := NewTLSServer(o)
	if err != nil {
		return nil, nil, err
	}
	return s.Config(), notes, nil
}

// Config returns the configuration to serve with (tls.Server): every handshake uses the
// files' current contents. It is the same value for the life of s.
func (s *TLSServer) Config() *tls.Config { return s.outer }

// Reload reads the files again now and uses them for the next handshakes. On an error the
// previous configuration stays in use and the error names the file at fault.
func (s *TLSServer) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg, _, key, err := s.load()
	if err != nil {
		return err
	}
	s.use(cfg, key)
	return nil
}

// CryptoBackend says what signs with the current certificate's key, for the log: "openssl
// (OpenSSL 3.0.19 …)", or "go (…)" with the reason Go does.
func (s *TLSServer) CryptoBackend() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.key.desc
}

// use makes cfg, whose key signs through key, the configuration of the next handshakes, and
// frees the previous key's OpenSSL copy. s.mu is held (or s is not shared yet).
func (s *TLSServer) use(cfg *tls.Config, key keyBackend) {
	old := s.key
	s.key = key
	s.cur.Store(cfg)
	old.close()
}

// forClient runs in each handshake (on its goroutine): it returns the current configuration,
// loading the files again first when they changed on disk.
func (s *TLSServer) forClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	s.mu.Lock()
	now := time.Now()
	if now.Sub(s.checked) >= reloadEvery {
		s.checked = now
		if st, ok := s.stampsNow(); ok && st != s.stamps {
			cfg, _, key, err := s.load()
			if err == nil {
				s.use(cfg, key)
			} else {
				s.stamps = st // report a bad set once, not on every handshake
			}
			if s.opts.OnReload != nil {
				s.opts.OnReload(err)
			}
		}
	}
	s.mu.Unlock()
	return s.cur.Load(), nil
}

// load builds a configuration from the files and records their stamps. s.mu is held (or s
// is not shared yet).
func (s *TLSServer) load() (*tls.Config, []string, keyBackend, error) {
	st, _ := s.stampsNow()
	cfg, notes, key, err := buildServerTLS(s.opts)
	if err != nil {
		return nil, nil, key, err
	}
	s.stamps = st
	return cfg, notes, key, nil
}

// stampsNow returns the stamps of the certificate, key and CA files; ok is false when one
// cannot be read (briefly missing during a rotation: the current configuration stays).
func (s *TLSServer) stampsNow() (st [3]fileStamp, ok bool) {
	names := [3]string{s.opts.CertFile, s.opts.KeyFile}
	if s.opts.VerifyPeer {
		names[2] = s.opts.CACertFile // read only then
	}
	for i, name := range names {
		if name == "" {
			continue
		}
		fi, err := os.Stat(name)
		if err != nil {
			return st, false
		}
		st[i] = fileStamp{fi.ModTime(), fi.Size()}
	}
	return st, true
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// loadPair reads a PEM certificate chain and its key (decrypted with password when it is
// encrypted in the legacy PEM format).
func loadPair(certFile, keyFile, password string) (*tls.Certificate, error) {
	certPEM, err1 := os.ReadFile(certFile)
	keyPEM, err2 := os.ReadFile(keyFile)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("certfile/keyfile: %w", errors.Join(err1, err2))
	}
	keyPEM, err := decryptKey(keyPEM, password)
	if err != nil {
		return nil, fmt.Errorf("keyfile %s: %w", keyFile, err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("certfile %s / keyfile %s: %w", certFile, keyFile, err)
	}
	return &pair, nil
}
