// Package codec is the MQTT wire format for protocol levels 3 (MQTT 3.1,
// protocol name "MQIsdp"), 4 (MQTT 3.1.1) and 5 (MQTT 5.0): framing, decoding
// and encoding of every control packet, MQTT 5 properties, reason codes and
// the topic name/filter rules.
//
// # Ownership of bytes
//
// Decoding never copies. Every []byte field of a decoded packet (topic,
// payload, client identifier, property strings, user properties, ...) is a
// sub-slice of the packet bytes given to Decode and stays valid only as long
// as the caller keeps those bytes unchanged. With gnet that means: until the
// read buffer is discarded or OnTraffic returns. A packet that must outlive
// the buffer (retained, queued for an offline session, handed to another
// event loop) is copied once with its Clone method, which puts all byte
// fields into a single allocation.
//
// Encoding appends to a caller-provided buffer (AppendX(dst, ...) []byte, in
// the style of strconv.AppendInt) and allocates only when dst lacks capacity.
// Encoders trust their input: they write what they are given and do not
// re-validate it (the broker builds outbound packets from values it already
// checked). PublishHeader encodes the shared part of an outbound PUBLISH once
// per message so that each delivery only writes its own header.
//
// # Reuse and concurrency
//
// Packet structs are meant to be reused: Decode resets the struct first and
// grows its slices (subscriptions, user properties, reason codes) in place,
// so decoding into a warmed-up struct allocates nothing. After a failed
// Decode the struct holds a partial result and must only be decoded into
// again or Reset (Connect.Decode documents which fields stay meaningful).
//
// No type in this package is safe for concurrent use by several goroutines
// unless documented otherwise. Package-level functions and error values are
// safe; the AppendX encoders only read their packet argument, so several
// goroutines may encode the same packet at once into their own buffers as
// long as nobody modifies it.
//
// # Errors
//
// Every decode failure is an *Error (a package-level value, so returning it
// allocates nothing) naming the rule that failed, with the spec clause, and
// carrying the ReasonCode the broker sends (CONNACK or DISCONNECT in MQTT 5;
// for MQTT 3.x the engine maps it with ReasonCode.V3ConnackCode or closes the
// connection). CodeOf extracts the code from any error.
//
// Spec clauses are cited as [MQTT-x.y.z-n] after the MQTT 5.0 numbering,
// marked "(3.1.1)" where only the 3.1.1 numbering applies; a rule without a
// numbered normative statement cites its section, "(section x.y.z)".
//
// # Imports
//
// codec imports only the standard library; every other package of the broker may import it.
package codec
