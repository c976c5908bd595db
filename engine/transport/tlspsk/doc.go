// Package tlspsk implements TLS 1.2 with pre-shared keys (RFC 4279's plain PSK key exchange,
// RFC 5487's suites), server and client, from the standard library's primitives: Go's
// crypto/tls has no external PSK.
//
// Suites: PSK-AES128-GCM-SHA256, PSK-AES256-GCM-SHA384, PSK-AES128-CBC-SHA256,
// PSK-AES256-CBC-SHA384, PSK-AES128-CBC-SHA and PSK-AES256-CBC-SHA (OpenSSL's names;
// CipherSuites maps them). The handshake offers and accepts the extended master secret (RFC
// 7627) and an empty renegotiation_info (RFC 5746); renegotiation itself, session resumption,
// encrypt-then-MAC and compression are not offered. CBC records are checked without a timing
// oracle on the padding (the MAC always hashes the same length).
//
// A server that does not know the client's identity goes on with a random key, so that an
// unknown identity and a wrong key look the same to the client: a decrypt_error alert after
// its Finished message. The server's handshake error says which (ErrUnknownIdentity,
// ErrWrongKey) for its log.
//
// Server and Client wrap a net.Conn the way crypto/tls.Server and tls.Client do, and the
// resulting *Conn is a net.Conn: set a deadline, call Handshake, then Read and Write
// (one goroutine each at most) and Close. A client, for example a bridge:
//
//	nc, err := net.Dial("tcp", "broker:8883")
//	…
//	c := tlspsk.Client(nc, &tlspsk.Config{Identity: "client1", Key: []byte("1234")})
//	_ = nc.SetDeadline(time.Now().Add(15 * time.Second))
//	if err := c.Handshake(); err != nil { … }
//	_ = nc.SetDeadline(time.Time{})
//	// c.Read / c.Write carry MQTT; c.Close sends close_notify.
//
// PeekClientHello lets a listener that serves both certificate TLS and PSK look at a
// connection's first record and choose.
package tlspsk
