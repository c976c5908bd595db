package tlspsk

import "strconv"

// Alert is a TLS alert description (RFC 5246 section 7.2, RFC 4279 section 2).
type Alert uint8

// The alerts this package sends or names.
const (
	AlertCloseNotify        Alert = 0
	AlertUnexpectedMessage  Alert = 10
	AlertBadRecordMAC       Alert = 20
	AlertRecordOverflow     Alert = 22
	AlertHandshakeFailure   Alert = 40
	AlertIllegalParameter   Alert = 47
	AlertDecodeError        Alert = 50
	AlertDecryptError       Alert = 51
	AlertProtocolVersion    Alert = 70
	AlertInternalError      Alert = 80
	AlertNoRenegotiation    Alert = 100
	AlertUnsupportedExt     Alert = 110
	AlertUnknownPSKIdentity Alert = 115
)

var alertNames = map[Alert]string{
	AlertCloseNotify: "close_notify", AlertUnexpectedMessage: "unexpected_message",
	AlertBadRecordMAC: "bad_record_mac", AlertRecordOverflow: "record_overflow",
	AlertHandshakeFailure: "handshake_failure", AlertIllegalParameter: "illegal_parameter",
	AlertDecodeError: "decode_error", AlertDecryptError: "decrypt_error",
	AlertProtocolVersion: "protocol_version", AlertInternalError: "internal_error",
	AlertNoRenegotiation: "no_renegotiation", AlertUnsupportedExt: "unsupported_extension",
	AlertUnknownPSKIdentity: "unknown_psk_identity",
}

// String returns the RFC name of the alert ("handshake_failure").
func (a Alert) String() string {
	if s, ok := alertNames[a]; ok {
		return s
	}
	return "alert(" + strconv.Itoa(int(a)) + ")"
}

// AlertError is a handshake or record error that ends the connection with an alert: Sent
// tells whether this side sent it (a local failure, Reason says which) or received it from
// the peer.
type AlertError struct {
	Alert  Alert
	Sent   bool
	Reason string // what went wrong, for the log; "" for a received alert
}

func (e *AlertError) Error() string {
	if e.Sent {
		return "tlspsk: " + e.Reason + " (sent alert " + e.Alert.String() + ")"
	}
	return "tlspsk: peer sent alert " + e.Alert.String()
}

// local returns an error for a failure on this side, to be answered with alert a.
func local(a Alert, reason string) *AlertError {
	return &AlertError{Alert: a, Sent: true, Reason: reason}
}
