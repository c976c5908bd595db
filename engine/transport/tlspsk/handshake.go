package tlspsk

import (
	"crypto/hmac"
	"io"
)

// Shared steps of the client and server handshakes. They run under hsMu and in's lock.

// readHandshake returns the next handshake message (4-byte header and body), reading records
// as needed; alerts and other records are errors. The caller adds it to the transcript. It
// stays valid until the handshake ends.
func (c *Conn) readHandshake() ([]byte, error) {
	for {
		if len(c.hs) >= 4 {
			n := int(c.hs[1])<<16 | int(c.hs[2])<<8 | int(c.hs[3])
			if n > maxHandshakeMessage {
				return nil, local(AlertDecodeError, "handshake message of "+itoa(n)+" bytes")
			}
			if len(c.hs) >= 4+n {
				msg := c.hs[: 4+n : 4+n]
				c.hs = c.hs[4+n:]
				return msg, nil
			}
		}
		typ, data, err := c.readRecord()
		if err != nil {
			return nil, eofInHandshake(err)
		}
		switch typ {
		case recordHandshake:
			if len(data) == 0 {
				return nil, local(AlertUnexpectedMessage, "empty handshake record")
			}
			c.hs = append(c.hs, data...)
		case recordAlert:
			if err := c.alertReceived(data); err != nil {
				return nil, eofInHandshake(err)
			}
		case recordChangeCipherSpec:
			return nil, local(AlertUnexpectedMessage, "change_cipher_spec before the peer's key exchange")
		default:
			return nil, local(AlertUnexpectedMessage, "application data during the handshake")
		}
	}
}

// eofInHandshake turns an end of input during the handshake into io.ErrUnexpectedEOF.
func eofInHandshake(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readChangeCipherSpec reads the peer's ChangeCipherSpec, which must come between two
// handshake messages.
func (c *Conn) readChangeCipherSpec() error {
	if len(c.hs) > 0 {
		return local(AlertUnexpectedMessage, "handshake data before change_cipher_spec")
	}
	for {
		typ, data, err := c.readRecord()
		if err != nil {
			return eofInHandshake(err)
		}
		switch typ {
		case recordChangeCipherSpec:
			if len(data) != 1 || data[0] != 1 {
				return local(AlertDecodeError, "malformed change_cipher_spec")
			}
			return nil
		case recordAlert:
			if err := c.alertReceived(data); err != nil {
				return eofInHandshake(err)
			}
		default:
			return local(AlertUnexpectedMessage, "expected change_cipher_spec, got a record of type "+itoa(int(typ)))
		}
	}
}

// writeHandshake sends handshake messages msgs (already in the transcript) in one record
// under the current write state.
func (c *Conn) writeHandshake(msgs []byte) error {
	c.out.Lock()
	defer c.out.Unlock()
	buf, err := c.out.hc.seal(c.out.buf[:0], recordHandshake, msgs, c.cfg.rand())
	if err == nil {
		_, err = c.conn.Write(buf)
	}
	c.out.buf = buf[:0]
	if err != nil {
		c.out.err = err
	}
	return err
}

// writeFinishedFlight sends pre (handshake messages, may be empty), ChangeCipherSpec, then,
// under the new keys, the Finished message fin, in one write.
func (c *Conn) writeFinishedFlight(pre []byte, s *suite, key, macKey, iv, fin []byte) error {
	c.out.Lock()
	defer c.out.Unlock()
	buf := c.out.buf[:0]
	var err error
	if len(pre) > 0 {
		if buf, err = c.out.hc.seal(buf, recordHandshake, pre, c.cfg.rand()); err != nil {
			return err
		}
	}
	if buf, err = c.out.hc.seal(buf, recordChangeCipherSpec, []byte{1}, c.cfg.rand()); err != nil {
		return err
	}
	if err := c.out.hc.setKeys(s, key, macKey, iv); err != nil {
		return local(AlertInternalError, err.Error())
	}
	if buf, err = c.out.hc.seal(buf, recordHandshake, fin, c.cfg.rand()); err != nil {
		return err
	}
	_, err = c.conn.Write(buf)
	c.out.buf = buf[:0]
	if err != nil {
		c.out.err = err
	}
	return err
}

// transcriptHash is the hash, with the suite's PRF hash, of the handshake messages so far.
func (c *Conn) transcriptHash(s *suite) []byte {
	h := s.prfHash()
	h.Write(c.transcript)
	return h.Sum(nil)
}

// finishedMessage builds the Finished message of this side (client or not) over the
// transcript so far.
func (c *Conn) finishedMessage(s *suite, ms []byte, client bool) []byte {
	return handshakeMessage(nil, typeFinished, finishedData(s, ms, client, c.transcriptHash(s)))
}

// checkFinished compares the peer's Finished message with the expected one in constant time.
func checkFinished(msg, want []byte) bool {
	return len(msg) == len(want) && hmac.Equal(msg, want)
}
