// Package osslsign signs with an RSA private key through the system's OpenSSL 3 libcrypto
// (libcrypto.so.3), loaded at run time with purego: no cgo and no build dependency. Go's RSA
// private-key operation is about twice as slow as OpenSSL's, and a full TLS 1.3 handshake
// signs once with the server's key, so a TLS listener with an RSA certificate hands its key
// to a Signer (engine/transport's crypto_backend) to accept handshakes as fast as Mosquitto.
//
// What OpenSSL signs: RSASSA-PSS with salt length = hash length (TLS 1.3's and TLS 1.2's
// rsa_pss_rsae_sha256/384/512) and PKCS #1 v1.5 (TLS 1.2), over SHA-1, SHA-224, SHA-256,
// SHA-384 or SHA-512 digests. Any other request (another salt length, MD5+SHA1, an unhashed
// message), a closed Signer, and an OpenSSL failure are signed by Go's crypto/rsa with the
// same key: a caller always gets a valid signature or Go's own error.
//
// Lifetime: New hands the key to OpenSSL once (PKCS #1 DER → EVP_PKEY) and checks it with a
// signature that Go's crypto/rsa verifies; each signature uses an EVP_PKEY_CTX of its own,
// freed before Sign returns. Close frees the EVP_PKEY (a TLS listener does so when its
// certificate is replaced); a Signer dropped without Close frees it when the garbage collector
// finds it unreachable. OpenSSL draws the PSS salt and the RSA blinding from its own random
// generator, not from the io.Reader given to Sign.
package osslsign
