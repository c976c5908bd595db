package codec

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
)

// b builds packet bytes by hand: ints are single bytes, strings and byte
// slices are copied as they are.
func b(parts ...any) []byte {
	var out []byte
	for _, p := range parts {
		switch v := p.(type) {
		case int:
			if v < 0 || v > 255 {
				panic(fmt.Sprintf("byte out of range: %d", v))
			}
			out = append(out, byte(v))
		case string:
			out = append(out, v...)
		case []byte:
			out = append(out, v...)
		default:
			panic(fmt.Sprintf("unsupported part %T", p))
		}
	}
	return out
}

func s(v string) []byte { return []byte(v) }

// decodeAny decodes one whole packet into a fresh struct of its type (a
// PacketType for PINGREQ and PINGRESP).
func decodeAny(pkt []byte, v Version) (any, error) {
	if len(pkt) == 0 {
		return nil, ErrTruncated
	}
	var dec interface{ Decode([]byte, Version) error }
	switch t := PacketType(pkt[0] >> 4); t {
	case TypeConnect:
		c := new(Connect)
		return c, c.Decode(pkt)
	case TypeConnack:
		dec = new(Connack)
	case TypePublish:
		dec = new(Publish)
	case TypePuback, TypePubrec, TypePubrel, TypePubcomp:
		dec = new(Ack)
	case TypeSubscribe:
		dec = new(Subscribe)
	case TypeSuback:
		dec = new(Suback)
	case TypeUnsubscribe:
		dec = new(Unsubscribe)
	case TypeUnsuback:
		dec = new(Unsuback)
	case TypePingreq:
		return t, DecodePingreq(pkt)
	case TypePingresp:
		return t, DecodePingresp(pkt)
	case TypeDisconnect:
		dec = new(Disconnect)
	case TypeAuth:
		dec = new(Auth)
	default:
		return nil, ErrPacketType
	}
	return dec, dec.Decode(pkt, v)
}

// encodeAny is the inverse of decodeAny.
func encodeAny(dst []byte, pkt any, v Version) []byte {
	switch p := pkt.(type) {
	case *Connect:
		return AppendConnect(dst, p)
	case *Connack:
		return AppendConnack(dst, p, v)
	case *Publish:
		return AppendPublish(dst, p, v)
	case *Ack:
		return AppendAck(dst, p, v)
	case *Subscribe:
		return AppendSubscribe(dst, p, v)
	case *Suback:
		return AppendSuback(dst, p, v)
	case *Unsubscribe:
		return AppendUnsubscribe(dst, p, v)
	case *Unsuback:
		return AppendUnsuback(dst, p, v)
	case *Disconnect:
		return AppendDisconnect(dst, p, v)
	case *Auth:
		return AppendAuth(dst, p)
	case PacketType:
		if p == TypePingreq {
			return AppendPingreq(dst)
		}
		return AppendPingresp(dst)
	}
	panic(fmt.Sprintf("encodeAny: %T", pkt))
}

// normalize turns empty slices into nil so that reflect.DeepEqual compares
// meaning, not the nil-ness a decoder or a test literal happens to produce.
func normalize(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			normalize(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); f.CanSet() {
				normalize(f)
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			if v.CanSet() {
				v.Set(reflect.Zero(v.Type()))
			}
			return
		}
		if v.Type().Elem().Kind() != reflect.Uint8 {
			for i := 0; i < v.Len(); i++ {
				normalize(v.Index(i))
			}
		}
	}
}

// samePacket reports whether two decoded packets are equal, ignoring
// nil-versus-empty slices. It normalizes copies made with encode/decode
// only when the values are pointers, so the callers' values may change.
func samePacket(a, b any) bool {
	normalize(reflect.ValueOf(a))
	normalize(reflect.ValueOf(b))
	return reflect.DeepEqual(a, b)
}

func mustEqualBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s:\n got % x\nwant % x", what, got, want)
	}
}
